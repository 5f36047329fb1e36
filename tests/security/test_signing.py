import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from uqo.security.errors import InvalidArgument, SignatureInvalid
from uqo.security.signing import (
    ECDSA_P256,
    ED25519,
    PublicKeyInfo,
    key_id_of,
    public_pem,
    verify_signature,
)


def _pem(key):
    return public_pem(key.public_key())


def test_verify_from_the_public_key_alone():
    key = ec.generate_private_key(ec.SECP256R1())
    from cryptography.hazmat.primitives import hashes

    sig = key.sign(b"msg", ec.ECDSA(hashes.SHA256()))
    verify_signature(_pem(key), ECDSA_P256, b"msg", sig)
    with pytest.raises(SignatureInvalid):
        verify_signature(_pem(key), ECDSA_P256, b"msh", sig)


def test_algorithm_must_match_the_key():
    key = ed25519.Ed25519PrivateKey.generate()
    verify_signature(_pem(key), ED25519, b"m", key.sign(b"m"))
    with pytest.raises(SignatureInvalid, match="does not match"):
        verify_signature(_pem(key), ECDSA_P256, b"m", key.sign(b"m"))
    with pytest.raises(InvalidArgument, match="^algorithm:"):
        verify_signature(_pem(key), "rsa-pss", b"m", key.sign(b"m"))


def test_unsupported_keys_are_refused():
    rsa_pem = rsa.generate_private_key(65537, 2048).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(InvalidArgument, match="unsupported key type"):
        verify_signature(rsa_pem, ECDSA_P256, b"m", b"sig")
    with pytest.raises(InvalidArgument, match="not a PEM public key"):
        verify_signature("garbage", ED25519, b"m", b"sig")
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(InvalidArgument, match="unsupported"):
        PublicKeyInfo.from_pem(_pem(p384))


def test_public_key_info_derives_id_and_algorithm():
    key = ed25519.Ed25519PrivateKey.generate()
    info = PublicKeyInfo.from_pem(_pem(key))
    assert info.algorithm == ED25519
    assert info.key_id == key_id_of(key.public_key()) and len(info.key_id) == 32
