"""Content negotiation and validation errors that name the offending field."""

import msgspec
import pytest
from aiohttp.test_utils import make_mocked_request
from uqo.control.api import schemas as s
from uqo.control.api.codec import read_query, validation_error, wants_msgpack
from uqo.control.errors import ControlError


@pytest.mark.parametrize("accept, expected", [
    ("application/msgpack", True), ("application/json", False), ("", False),
    ("application/json;q=0.5, application/msgpack", True),
    ("application/msgpack;q=0.2, */*", False), ("application/x-msgpack;q=0.9", True),
    ("application/msgpack;q=zero", False),
])
def test_accept_negotiation(accept, expected):
    req = make_mocked_request("GET", "/", headers={"Accept": accept})
    assert wants_msgpack(req) is expected


@pytest.mark.parametrize("body, code, field", [
    (b'{"agent_id": "a", "colour": 1}', "unknown_field", "colour"),
    (b'{"capabilities": []}', "missing_field", "agent_id"),
    (b'{"agent_id": "a", "security_clearance": "high"}', "invalid_value",
     "security_clearance"),
    (b'{"agent_id": "a", "capabilities": ["ok", ""]}', "invalid_value", "capabilities[1]"),
    (b'{"agent_id": "a", "capacity": 0}', "invalid_value", "capacity"),
])
def test_validation_errors_name_the_field(body, code, field):
    with pytest.raises(msgspec.ValidationError) as exc:
        msgspec.json.decode(body, type=s.AgentRegistration)
    err = validation_error(exc.value)
    assert (err.code, err.field, err.status) == (code, field, 400)
    assert field in err.message


def test_nested_batch_errors_carry_the_index():
    body = b'{"tasks": [{"required_agents": 1}, {"required_agents": 0}]}'
    with pytest.raises(msgspec.ValidationError) as exc:
        msgspec.json.decode(body, type=s.BatchSubmission)
    assert validation_error(exc.value).field == "tasks[1].required_agents"


def test_query_strings_are_typed_and_strict():
    req = make_mocked_request("GET", "/v1/tasks?state=pending&limit=5")
    q = read_query(req, s.TaskQuery)
    assert (q.state, q.limit, q.cursor) == ("pending", 5, 0)
    for bad, field in (("state=finished", "state"), ("limit=0", "limit"),
                       ("colour=red", "colour"), ("limit=1&limit=2", "limit")):
        with pytest.raises(ControlError) as err:
            read_query(make_mocked_request("GET", f"/v1/tasks?{bad}"), s.TaskQuery)
        assert err.value.field == field and err.value.status == 400
