import json
import os
import stat

import pytest
from uqo.security.errors import InvalidArgument, SecurityError
from uqo.security.levels import Role, SecurityLevel
from uqo.security.users import User, UserStore, check_user_id, parse_compartments


def _user(uid="analyst-001"):
    return User(uid, Role.ANALYST, SecurityLevel.SECRET, frozenset({"INTEL"}), "$argon2id$x",
                b"0123456789abcdefghij", ("10.0.0.0/8",), created=5.0)


def test_store_persists_every_field_with_private_mode(tmp_path):
    path = tmp_path / "users.json"
    store = UserStore(path)
    user = _user()
    store.add(user)
    user.failures, user.last_totp_step = 2, 99
    store.save(user)
    again = UserStore(path).get("analyst-001")
    assert again == user
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_store_refuses_duplicates_and_unknown_users(tmp_path):
    store = UserStore(tmp_path / "users.json")
    store.add(_user())
    with pytest.raises(InvalidArgument, match="already exists"):
        store.add(_user())
    with pytest.raises(InvalidArgument, match="unknown user 'ghost'"):
        store.remove("ghost")
    with pytest.raises(InvalidArgument, match="unknown user"):
        store.save(_user("ghost"))
    assert store.remove("analyst-001").user_id == "analyst-001"
    assert len(UserStore(tmp_path / "users.json")) == 0


def test_corrupt_store_is_an_explicit_error(tmp_path):
    (tmp_path / "users.json").write_text(json.dumps({"users": [{"user_id": "x"}]}))
    with pytest.raises(SecurityError, match="cannot read the user store"):
        UserStore(tmp_path / "users.json")


@pytest.mark.parametrize("uid", ["", "-lead", "a b", "x" * 129, None, "ä"])
def test_bad_user_ids(uid):
    with pytest.raises(InvalidArgument, match="^user_id:"):
        check_user_id(uid)


def test_compartments_are_upper_cased_and_checked():
    assert parse_compartments(["intel", " SIGINT"]) == frozenset({"INTEL", "SIGINT"})
    assert parse_compartments("ops") == frozenset({"OPS"})
    with pytest.raises(InvalidArgument, match="^compartments: 'a b'"):
        parse_compartments(["a b"])
