"""Property-based: any body, in JSON or MessagePack, decodes into a request struct or is refused
with a 4xx ``ControlError``, never another exception (a 500). Bounded and derandomised.

``read_body`` reads four things of a request (its bytes, ``content_type``, the app's body limit,
a per-request slot); ``_Request`` below provides exactly those, so the decoder runs alone."""

import json

import msgspec
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from uqo.control.api import schemas as s
from uqo.control.api.codec import read_body
from uqo.control.errors import ControlError

KINDS = [s.Login, s.TaskSubmission, s.BatchSubmission, s.AgentRegistration, s.OutcomeReport,
         s.UserCreate, s.ClearanceChange, s.Empty]
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                    | st.text(max_size=10),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=25)
FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


class _Request(dict):
    def __init__(self, raw: bytes, content_type: str):
        super().__init__()
        self.raw, self.content_type, self.app = raw, content_type, {}

    async def read(self) -> bytes:
        return self.raw


def _run(coro):
    """Run a coroutine that never waits (``_Request.read`` returns at once) without an event
    loop: one ``send`` completes it."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    raise AssertionError("read_body waited for something")


def _decode(raw: bytes, ctype: str, kind):
    try:
        return _run(read_body(_Request(raw, ctype), kind))
    except ControlError as exc:
        assert 400 <= exc.status < 500, exc
        return exc


@FUZZ
@given(st.sampled_from(KINDS), st.binary(max_size=300),
       st.sampled_from(["application/json", "application/msgpack", "text/plain"]))
def test_any_bytes(kind, raw, ctype):
    _decode(raw, ctype, kind)


@FUZZ
@given(st.sampled_from(KINDS), JSON, st.booleans())
def test_any_json_value(kind, value, as_msgpack):
    try:
        raw = msgspec.msgpack.encode(value) if as_msgpack else json.dumps(value).encode()
    except OverflowError:                  # MessagePack has no integers beyond 64 bits
        assume(False)
    _decode(raw, "application/msgpack" if as_msgpack else "application/json", kind)


@pytest.mark.parametrize("depth", [70, 5000])
def test_deep_nesting_is_malformed_not_a_crash(depth):
    """The reported probe: a login body with a float where an int goes (which sent the body
    through a second, untyped decode) and deeply nested junk beside it."""
    raw = (b'{"user_id": "a", "password": "p", "clearance_required": 1.0, "x": '
           + b"[" * depth + b"]" * depth + b"}")
    err = _decode(raw, "application/json", s.Login)
    assert isinstance(err, ControlError) and err.status == 400


def test_the_handler_gets_the_body_the_middleware_read():
    req = _Request(b'{"task_id": "t1"}', "application/json")
    first = _run(read_body(req, s.TaskSubmission))
    req.raw = b"not read again"
    assert _run(read_body(req, s.TaskSubmission)) is first
