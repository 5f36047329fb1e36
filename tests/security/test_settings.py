import pytest
from uqo.security.errors import InvalidArgument
from uqo.security.levels import Role
from uqo.security.settings import (
    AuthPolicy,
    SecuritySettings,
    parse_networks,
    settings_from_json,
    settings_to_json,
)


@pytest.mark.parametrize("kwargs, field", [
    ({"max_failures": 0}, "max_failures"), ({"lockout_s": -1}, "lockout_s"),
    ({"source_burst": True}, "source_burst"), ({"totp_window": 3}, "totp_window"),
    ({"token_ttl_s": 0}, "token_ttl_s"), ({"allowed_sources": ["nope"]}, "allowed_sources")])
def test_policy_validation_names_the_field(kwargs, field):
    with pytest.raises(InvalidArgument, match=f"^{field}:"):
        AuthPolicy(**kwargs)


def test_settings_validation():
    with pytest.raises(InvalidArgument, match="^checkpoint_every:"):
        SecuritySettings(checkpoint_every=0)
    with pytest.raises(InvalidArgument, match="^retention_s:"):
        SecuritySettings(retention_s=0)


def test_networks_are_normalised():
    assert parse_networks(["10.0.1.7", "10.0.0.0/8"], "x") == ("10.0.1.7/32", "10.0.0.0/8")
    assert parse_networks("::1", "x") == ("::1/128",)


def test_settings_round_trip_through_json():
    s = SecuritySettings.for_tests(auth=AuthPolicy(max_failures=3, allowed_sources=["10.0.0.0/8"],
                                                   mfa_roles=frozenset({Role.ADMIN})))
    assert settings_from_json(settings_to_json(s)) == s
    with pytest.raises(InvalidArgument, match="^settings:"):
        settings_from_json({"argon": {}})
