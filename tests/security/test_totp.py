import pytest
from uqo.security.errors import InvalidArgument
from uqo.security.totp import code_at, match_step, new_secret, provisioning_uri

RFC_SECRET = b"12345678901234567890"  # RFC 6238 appendix B, SHA-1


@pytest.mark.parametrize("t, eight_digits", [(59, "94287082"), (1111111109, "07081804"),
                                             (1234567890, "89005924"), (2000000000, "69279037")])
def test_rfc6238_vectors_six_digit_form(t, eight_digits):
    assert code_at(RFC_SECRET, t) == eight_digits[-6:]


def test_match_step_accepts_one_step_of_drift_and_says_which():
    now = 1_700_000_000
    step = now // 30
    assert match_step(RFC_SECRET, code_at(RFC_SECRET, now), now) == step
    assert match_step(RFC_SECRET, code_at(RFC_SECRET, now - 30), now) == step - 1
    assert match_step(RFC_SECRET, code_at(RFC_SECRET, now + 30), now) == step + 1
    assert match_step(RFC_SECRET, code_at(RFC_SECRET, now - 60), now) is None
    assert match_step(RFC_SECRET, code_at(RFC_SECRET, now - 30), now, window=0) is None


@pytest.mark.parametrize("code", ["12345", "1234567", "12a456", None, 123456])
def test_malformed_codes_are_refused_by_name(code):
    with pytest.raises(InvalidArgument, match="^mfa_token:"):
        match_step(RFC_SECRET, code, 0)


def test_provisioning_uri_and_secret_length():
    secret = new_secret()
    assert len(secret) == 20
    uri = provisioning_uri(secret, "analyst-001")
    assert uri.startswith("otpauth://totp/uqo:analyst-001?") and "issuer=uqo" in uri
