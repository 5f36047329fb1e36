import pytest
from uqo.security.errors import InvalidArgument
from uqo.security.levels import Role, SecurityLevel, parse_level, parse_role


def test_levels_are_ordered_and_numbered_as_the_seed_uses_them():
    assert [int(x) for x in SecurityLevel] == [0, 1, 2, 3]
    assert SecurityLevel.TOP_SECRET > SecurityLevel.SECRET > SecurityLevel.CONFIDENTIAL


@pytest.mark.parametrize("value, expected", [
    (SecurityLevel.SECRET, SecurityLevel.SECRET), (2, SecurityLevel.SECRET),
    ("secret", SecurityLevel.SECRET), ("Top-Secret", SecurityLevel.TOP_SECRET),
    ("top secret", SecurityLevel.TOP_SECRET), (0, SecurityLevel.UNCLASSIFIED),
    ("1", SecurityLevel.CONFIDENTIAL)])
def test_parse_level_accepts_members_ints_and_names(value, expected):
    assert parse_level(value, "clearance") is expected


@pytest.mark.parametrize("value", [4, -1, True, "cosmic", None, 2.0, "4", "-1"])
def test_parse_level_names_field_and_value(value):
    with pytest.raises(InvalidArgument, match=r"^clearance: unknown security level"):
        parse_level(value, "clearance")


def test_parse_role():
    assert parse_role(" Analyst ") is Role.ANALYST
    assert parse_role(Role.AGENT) is Role.AGENT
    with pytest.raises(InvalidArgument, match="'root'"):
        parse_role("root")
