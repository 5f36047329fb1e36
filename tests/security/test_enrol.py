import base64

import pytest
from uqo.security.enrol import build_user
from uqo.security.errors import InvalidArgument
from uqo.security.levels import Role, SecurityLevel
from uqo.security.passwords import verify_password
from uqo.security.settings import SecuritySettings

S = SecuritySettings.for_tests()


def test_people_get_a_second_factor():
    user, e = build_user("analyst-001", role="analyst", clearance="SECRET",
                         compartments=["intel"], password="a long password", settings=S, now=5)
    assert (user.role, user.clearance, user.compartments) == (
        Role.ANALYST, SecurityLevel.SECRET, frozenset({"INTEL"}))
    assert verify_password("a long password", user.password_hash)
    assert base64.b32decode(e.totp_secret) == user.totp_secret
    assert e.provisioning_uri.startswith("otpauth://totp/uqo:analyst-001?")
    assert e.password is None and "secret" not in repr(e).lower().replace("mfa", "")


def test_agents_may_get_a_generated_password_and_no_totp():
    user, e = build_user("agent-7", role="agent", clearance=1, settings=S, now=0)
    assert user.totp_secret is None and e.provisioning_uri is None
    assert len(e.password) >= 40 and verify_password(e.password, user.password_hash)


@pytest.mark.parametrize("kwargs, field", [
    ({"role": "analyst", "password": None}, "password"),
    ({"role": "analyst", "password": "short"}, "password"),
    ({"role": "admin", "password": "a long password", "mfa": False}, "mfa"),
    ({"role": "wizard", "password": "a long password"}, "role"),
    ({"role": "agent", "allowed_sources": ["10.0.0.0/33"]}, "allowed_sources"),
    ({"role": "agent", "compartments": ["!"]}, "compartments")])
def test_refusals_name_the_field(kwargs, field):
    with pytest.raises(InvalidArgument, match=f"^{field}:"):
        build_user("x1", clearance="SECRET", settings=S, now=0, **kwargs)
