import json
import os
import stat

import pytest
from uqo.security.errors import InvalidArgument, KeyStoreError
from uqo.security.signing import ECDSA_P256, ED25519, verify_signature
from uqo.security.softkeys import SoftwareSigner


@pytest.mark.parametrize("alg", [ECDSA_P256, ED25519])
def test_keystore_round_trip_and_signatures(tmp_path, alg):
    path = tmp_path / "ks.json"
    signer = SoftwareSigner.open(path, b"passphrase!", alg)
    sig = signer.sign(b"data")
    verify_signature(signer.public_key_pem, alg, b"data", sig)
    again = SoftwareSigner.open(path, b"passphrase!", ED25519 if alg == ECDSA_P256 else ECDSA_P256)
    assert (again.key_id, again.algorithm) == (signer.key_id, alg)  # the file's algorithm wins
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_private_keys_are_encrypted_at_rest(tmp_path):
    path = tmp_path / "ks.json"
    signer = SoftwareSigner.open(path, b"passphrase!")
    body = json.loads(path.read_text())
    assert body["keys"][0]["private_key"].startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert signer.describe()["encrypted_at_rest"] is True
    with pytest.raises(KeyStoreError, match="wrong passphrase"):
        SoftwareSigner.open(path, b"passphrase?")


def test_a_swapped_public_key_is_refused(tmp_path):
    path = tmp_path / "ks.json"
    SoftwareSigner.open(path, b"passphrase!")
    other = SoftwareSigner.open(tmp_path / "other.json", b"passphrase!")
    body = json.loads(path.read_text())
    body["keys"][0]["public_key_pem"] = other.public_key_pem
    path.write_text(json.dumps(body))
    with pytest.raises(KeyStoreError, match="does not match"):
        SoftwareSigner.open(path, b"passphrase!")


def test_rotation_keeps_old_signatures_verifiable(tmp_path):
    signer = SoftwareSigner.open(tmp_path / "ks.json", b"passphrase!")
    old_id, old_sig = signer.key_id, signer.sign(b"before")
    new = signer.rotate()
    assert new.key_id == signer.key_id != old_id
    keys = {k.key_id: k for k in SoftwareSigner.open(tmp_path / "ks.json",
                                                     b"passphrase!").public_keys()}
    verify_signature(keys[old_id].public_key_pem, ED25519, b"before", old_sig)
    verify_signature(keys[new.key_id].public_key_pem, ED25519, b"after", signer.sign(b"after"))


def test_open_default_uses_a_private_key_file(tmp_path):
    signer = SoftwareSigner.open_default(tmp_path / "data")
    assert stat.S_IMODE(os.stat(tmp_path / "data" / "keystore.pass").st_mode) == 0o600
    assert SoftwareSigner.open_default(tmp_path / "data").key_id == signer.key_id
    assert signer.describe()["passphrase_source"] == "key file beside the keystore"


def test_bad_arguments(tmp_path):
    with pytest.raises(InvalidArgument, match="^passphrase:"):
        SoftwareSigner.open(tmp_path / "ks.json", b"short")
    with pytest.raises(InvalidArgument, match="^algorithm:"):
        SoftwareSigner.open(tmp_path / "ks.json", b"passphrase!", "dsa")
    with pytest.raises(KeyStoreError, match="no keystore"):
        SoftwareSigner.open(tmp_path / "ks.json", b"passphrase!", create=False)
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(KeyStoreError, match="cannot read keystore"):
        SoftwareSigner.open(tmp_path / "bad.json", b"passphrase!")
