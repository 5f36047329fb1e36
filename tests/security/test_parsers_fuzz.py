"""Property-based: whatever an attacker sends as a token, a TOTP code or login credentials, the
answer is one of our refusals (``SecurityError``), never another exception (which the HTTP
layer would turn into a 500). Bounded: a fixed number of derandomised examples each."""

import asyncio
import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from uqo.security.errors import InvalidArgument, SecurityError, TokenInvalid
from uqo.security.levels import Role, SecurityLevel
from uqo.security.revocation import RevocationList
from uqo.security.tokens import DOMAIN, TokenService
from uqo.security.totp import match_step, new_secret
from uqo.security.users import User

FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=20)
CLAIMS = ("jti", "sub", "role", "clr", "lvl", "cmp", "iat", "exp", "kid", "amr", "src", "uep",
          "net")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    from uqo.security.signing import ED25519
    from uqo.security.softkeys import SoftwareSigner

    d = tmp_path_factory.mktemp("fuzz")
    signer = SoftwareSigner.open(d / "keystore.json", b"fuzz-passphrase", ED25519)
    return TokenService(signer, RevocationList(None), 900.0, lambda: 1_800_000_000.0)


def _refused_or_valid(service, token):
    try:
        service.verify(token)
    except TokenInvalid:
        pass


@FUZZ
@given(st.text(max_size=5000))
def test_any_text_is_refused_cleanly(service, token):
    _refused_or_valid(service, token)


@FUZZ
@given(JSON, st.binary(max_size=80))
def test_any_payload_is_refused_cleanly(service, payload, sig):
    token = f"uqo1.{_b64(json.dumps(payload).encode())}.{_b64(sig)}"
    _refused_or_valid(service, token)


@settings(FUZZ, max_examples=80)
@given(st.dictionaries(st.sampled_from(CLAIMS), JSON, max_size=len(CLAIMS)))
def test_claims_of_any_type_are_refused_cleanly(service, claims):
    """Even a payload the real key signed: a claim of the wrong type is TokenInvalid."""
    good = json.loads(base64.urlsafe_b64decode(
        service.issue(User("u", Role.AGENT, SecurityLevel.SECRET), SecurityLevel.SECRET,
                      "password", None).token.split(".")[1] + "=="))
    body = json.dumps({**good, **claims}).encode()
    token = f"uqo1.{_b64(body)}.{_b64(service.signer.sign(DOMAIN + body))}"
    _refused_or_valid(service, token)


def test_the_reported_probes(service):
    body = json.dumps({"jti": "j", "sub": "s", "iat": 1, "exp": 2, "kid": ["a", "b"]}).encode()
    with pytest.raises(TokenInvalid, match="malformed"):            # kid a list: was a 500
        service.verify(f"uqo1.{_b64(body)}.{_b64(b'x')}")
    nested = ("[" * 3000 + "]" * 3000).encode()[:3000]
    with pytest.raises(TokenInvalid):                               # nesting: RecursionError
        service.verify(f"uqo1.{_b64(nested)}.{_b64(b'x')}")


@FUZZ
@given(st.text(max_size=12))
def test_totp_codes_of_any_text(code):
    try:
        step = match_step(new_secret(), code, 1_800_000_000.0)
    except InvalidArgument:
        return
    assert step is None or isinstance(step, int)


@pytest.mark.parametrize("code", ["１２３４５６", "١٢٣٤٥٦", "12345６", "123456\n"])
def test_codes_in_other_digits_are_malformed_not_a_crash(code):
    with pytest.raises(InvalidArgument, match="6 digits"):
        match_step(new_secret(), code, 1_800_000_000.0)


@pytest.fixture(scope="module")
def login_fw(tmp_path_factory):
    from uqo.security.framework import SecurityFramework

    fw = SecurityFramework.for_tests(tmp_path_factory.mktemp("login"))
    fw.add_user("ana", role="analyst", clearance="SECRET", password="p" * 12)
    fw.authn.limiter.burst = 10**9               # the rate limit is not under test here
    yield fw
    fw.close()


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(user=st.one_of(st.sampled_from(["ana", "nobody"]), JSON), creds=JSON, ctx=JSON,
       code=st.one_of(st.none(), st.text(max_size=8), JSON))
def test_login_with_anything_is_refused_cleanly(login_fw, user, creds, ctx, code):
    if isinstance(creds, dict) and code is not None:
        creds = {**creds, "password": "p" * 12, "mfa_token": code}
    try:
        asyncio.run(login_fw.login(user, creds, "10.0.0.1", ctx))
    except SecurityError:
        pass
