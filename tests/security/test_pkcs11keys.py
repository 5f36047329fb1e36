"""Against a real SoftHSM2 token (session fixture ``hsm_token``), never a mock."""

import subprocess
import sys
import threading

import pkcs11
import pytest
from pkcs11 import Attribute, KeyType, ObjectClass
from uqo.security.errors import SignerError
from uqo.security.pkcs11keys import Pkcs11Signer
from uqo.security.signing import ECDSA_P256, ED25519, verify_signature


@pytest.mark.parametrize("alg", [ECDSA_P256, ED25519])
def test_signs_on_the_token_and_verifies_with_cryptography(hsm_token, alg):
    signer = Pkcs11Signer(hsm_token.module, hsm_token.label, hsm_token.user_pin,
                          f"sig-{alg}", alg)
    try:
        for msg in (b"", b"tree head", b"x" * 10_000):
            verify_signature(signer.public_key_pem, alg, msg, signer.sign(msg))
        assert signer.describe()["non_extractable"] is True
    finally:
        signer.close()


def _raw_private_key(token, label):
    """A second, independent session on the token (the process is already logged in)."""
    session = pkcs11.lib(token.module).get_token(token_label=token.label).open(rw=True)
    return session, session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=label)


def test_the_private_key_cannot_be_read_out(hsm_token, hsm_signer):
    attrs = hsm_signer.private_key_attributes()
    assert attrs == {"extractable": False, "sensitive": True, "never_extractable": True,
                     "always_sensitive": True, "token": True, "private": True}
    session, key = _raw_private_key(hsm_token, "session-ecdsa.1")
    try:
        with pytest.raises(pkcs11.AttributeSensitive):
            key[Attribute.VALUE]
        with pytest.raises(pkcs11.AttributeReadOnly):
            key[Attribute.EXTRACTABLE] = True
        wrapper = session.generate_key(KeyType.AES, 256, label="test-wrapper")
        with pytest.raises(pkcs11.KeyUnextractable):
            wrapper.wrap_key(key)
    finally:
        session.close()


def test_rotation_keeps_old_keys_on_the_token(hsm_token):
    signer = Pkcs11Signer(hsm_token.module, hsm_token.label, hsm_token.user_pin, "rot")
    old_id, old_sig = signer.key_id, signer.sign(b"before")
    new = signer.rotate()
    signer.close()
    reopened = Pkcs11Signer(hsm_token.module, hsm_token.label, hsm_token.user_pin, "rot",
                            create=False)
    try:
        assert reopened.key_id == new.key_id != old_id
        keys = {k.key_id: k for k in reopened.public_keys()}
        assert next(iter(keys)) == new.key_id and old_id in keys
        verify_signature(keys[old_id].public_key_pem, ECDSA_P256, b"before", old_sig)
        assert reopened.describe()["key_label"] == "rot.2"
    finally:
        reopened.close()


def test_one_session_is_safe_from_many_threads(hsm_signer):
    results, errors = [], []

    def work():
        try:
            for i in range(50):
                msg = f"{threading.get_ident()}-{i}".encode()
                results.append((msg, hsm_signer.sign(msg)))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 200
    for msg, sig in results:
        verify_signature(hsm_signer.public_key_pem, ECDSA_P256, msg, sig)


def test_missing_key_token_and_module_are_explicit_errors(hsm_token):
    with pytest.raises(SignerError, match="no key labelled absent"):
        Pkcs11Signer(hsm_token.module, hsm_token.label, hsm_token.user_pin, "absent",
                     create=False)
    with pytest.raises(SignerError, match="no PKCS#11 token labelled 'nope'"):
        Pkcs11Signer(hsm_token.module, "nope", hsm_token.user_pin)
    with pytest.raises(SignerError, match="cannot load PKCS#11 module"):
        Pkcs11Signer("/nonexistent/libpkcs11.so", hsm_token.label, hsm_token.user_pin)


def test_a_wrong_pin_is_refused_in_a_fresh_process(hsm_token):
    code = ("from uqo.security.pkcs11keys import Pkcs11Signer\n"
            "from uqo.security.errors import SignerError\n"
            "try:\n"
            f"    Pkcs11Signer({hsm_token.module!r}, {hsm_token.label!r}, '00000000')\n"
            "except SignerError as exc:\n"
            "    print('refused:', exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"SOFTHSM2_CONF": hsm_token.conf_path, "PATH": ""}, timeout=60,
                         check=True)
    assert "refused: token 'uqo-test' refused the PIN" in out.stdout
