import pytest
from uqo.security.errors import InvalidArgument
from uqo.security.passwords import Argon2Params, hash_password, phc_params, verify_password


def test_hash_verifies_only_the_right_password():
    phc = hash_password("hunter2-but-longer", Argon2Params.light())
    assert phc.startswith("$argon2id$v=19$m=64,t=1,p=1$")
    assert verify_password("hunter2-but-longer", phc)
    assert not verify_password("hunter2-but-longeR", phc)


def test_salts_differ_so_equal_passwords_hash_differently():
    a, b = (hash_password("same", Argon2Params.light()) for _ in range(2))
    assert a != b and verify_password("same", a) and verify_password("same", b)


def test_defaults_are_strong_and_recorded_in_the_hash():
    p = Argon2Params()
    assert (p.memory_kib, p.iterations, p.lanes) == (65536, 3, 1)
    assert phc_params(hash_password("x", Argon2Params.owasp_minimum())) == {
        "memory_kib": 19456, "iterations": 2, "lanes": 1}


@pytest.mark.parametrize("phc", ["", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
                                 "not a hash", None])
def test_malformed_hashes_do_not_verify(phc):
    assert not verify_password("x", phc)


def test_phc_params_rejects_other_strings():
    with pytest.raises(InvalidArgument, match="password_hash"):
        phc_params("$2b$12$bcrypt")


@pytest.mark.parametrize("kwargs, field", [
    ({"iterations": 0}, "iterations"), ({"lanes": 0}, "lanes"), ({"memory_kib": 4}, "memory_kib"),
    ({"salt_bytes": 8}, "salt_bytes"), ({"hash_bytes": 8}, "hash_bytes")])
def test_params_are_validated(kwargs, field):
    with pytest.raises(InvalidArgument, match=f"^{field}:"):
        Argon2Params(**kwargs)


@pytest.mark.parametrize("password", ["", None, b"bytes"])
def test_hash_rejects_empty_or_non_string(password):
    with pytest.raises(InvalidArgument, match="^password:"):
        hash_password(password, Argon2Params.light())
