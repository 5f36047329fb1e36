import pytest
from uqo.security.errors import InvalidArgument
from uqo.security.signerconfig import open_signer
from uqo.security.signing import ECDSA_P256


def test_keystore_modes(tmp_path):
    default = open_signer(tmp_path / "a")
    assert default.describe()["passphrase_source"] == "key file beside the keystore"
    env = open_signer(tmp_path / "b", passphrase=b"from-the-environment")
    assert env.describe()["passphrase_source"] == "supplied passphrase"


def test_hsm_mode(tmp_path, hsm_token):
    signer = open_signer(tmp_path, hsm_module=hsm_token.module, hsm_token=hsm_token.label,
                         hsm_pin=hsm_token.user_pin, key_label="config")
    assert signer.algorithm == ECDSA_P256 and signer.describe()["backend"] == "pkcs11"
    signer.close()
    with pytest.raises(InvalidArgument, match="^hsm_token:"):
        open_signer(tmp_path, hsm_module=hsm_token.module)
    with pytest.raises(InvalidArgument, match="^hsm_pin:"):
        open_signer(tmp_path, hsm_module=hsm_token.module, hsm_token=hsm_token.label)
