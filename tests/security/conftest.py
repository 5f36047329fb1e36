"""Shared fixtures: an injected clock, signers (software keystore; a real SoftHSM2 token
initialised in a temporary directory for the whole session) and a framework with light
Argon2id parameters. A missing SoftHSM2 fails the PKCS#11 tests with the install hint."""

import os

import pytest
from uqo.security.errors import SignerError
from uqo.security.framework import SecurityFramework
from uqo.security.signing import ECDSA_P256, ED25519
from uqo.security.softkeys import SoftwareSigner

PASSWORD = "correct horse battery staple"


class Clock:
    """Time as a parameter: tests move it forward explicitly."""

    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def soft_signer(tmp_path):
    return SoftwareSigner.open(tmp_path / "keys" / "keystore.json", b"test-passphrase", ED25519)


@pytest.fixture(scope="session")
def hsm_token(tmp_path_factory):
    from uqo.security.softhsm import init_token, use_token

    try:
        token = init_token(tmp_path_factory.mktemp("softhsm"), label="uqo-test",
                           user_pin="87654321", so_pin="12345678")
    except SignerError as exc:
        pytest.fail(f"PKCS#11 tests need SoftHSM2: {exc}")
    previous = os.environ.get("SOFTHSM2_CONF")
    use_token(token)
    yield token
    if previous is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = previous


@pytest.fixture(scope="session")
def hsm_signer(hsm_token):
    from uqo.security.pkcs11keys import Pkcs11Signer

    signer = Pkcs11Signer(hsm_token.module, hsm_token.label, hsm_token.user_pin,
                          "session-ecdsa", ECDSA_P256)
    yield signer
    signer.close()


@pytest.fixture
def fw(tmp_path, clock, soft_signer):
    framework = SecurityFramework.for_tests(tmp_path / "data", soft_signer, clock=clock)
    yield framework
    framework.close()


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """A development PKI from ``uqo.security.certs`` (CA, server, replica-1, agent-1, agent-2)."""
    from uqo.security.certs import init_pki

    out = tmp_path_factory.mktemp("pki")
    init_pki(out, hosts=["localhost", "127.0.0.1"], replicas=1, agents=["agent-1", "agent-2"])
    return out
