"""A linearizability checker (Wing & Gong's search with Lowe's cache, as Porcupine and Knossos).

Use cases::

    ops = [Op(client=0, call=0.0, ret=1.0, fn="write", arg="t1", result="ok"),
           Op(client=1, call=2.0, ret=3.0, fn="read", arg="t1", result="absent")]
    result = check(ops, TaskModel())      # result.ok is False: the read missed an acked write
    result.key, result.ops                # the first key whose history is not linearizable

A history is the calls that clients made, each with the time it was invoked (``call``), the
time its answer came (``ret``; None when the outcome is unknown: a timeout, a 503 after the
request was sent) and the answer. It is linearizable if every operation can be placed at one
instant between its call and its return so that the sequence, in that order, is legal for the
sequential model. An operation with an unknown outcome may take effect at any instant after its
call, or never (its return is at infinity, and the model accepts it either way).

The search (``_check_one``) walks the call/return events in time order, tries to linearize the
earliest pending call whose model step is legal, caches (set of linearized ops, model state)
pairs already explored, and backtracks when it meets the return of an operation it could not
place. Histories are partitioned by the model's key first (each task id is independent), which
keeps every search small. Written by hand because no maintained Python checker exists on PyPI
(Knossos is Clojure, Porcupine Go); ``tests/control/client/test_linearizability.py`` checks it
against a brute-force search over every order on thousands of small random histories.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Op:
    client: int
    call: float
    ret: float | None          # None: the outcome is unknown (may or may not have happened)
    fn: str
    arg: Any
    result: Any = None


class Model(Protocol):
    """``reduce(ops)`` (optional): an equivalent, smaller history of one key."""

    def key(self, op: Op) -> Hashable: ...
    def init(self) -> Hashable: ...
    def step(self, state: Hashable, op: Op) -> tuple[bool, Hashable]:
        """Whether ``op`` with its result is legal in ``state``, and the state after it. For an
        unknown outcome (``op.ret is None``) any result is legal."""


@dataclass
class CheckResult:
    ok: bool
    key: Hashable = None
    ops: list[Op] = field(default_factory=list)
    keys_checked: int = 0

    def __bool__(self) -> bool:
        return self.ok


class TaskModel:
    """Each task id is a register of existence. ``write``: submit (result ``"ok"``: created,
    ``"exists"``: it was already there); ``read``: get (``"present"`` or ``"absent"``)."""

    def key(self, op: Op) -> Hashable:
        return op.arg

    def init(self) -> Hashable:
        return False

    def reduce(self, ops: list[Op]) -> list[Op]:
        """Unknown-outcome writes of one id collapse into the earliest: a write is idempotent
        (absent -> present), so any of them taking effect at instant p is the earliest one
        taking effect at p. Keeps the search small when a client retried many times."""
        unknown = [o for o in ops if o.fn == "write" and o.ret is None]
        if len(unknown) < 2:
            return ops
        first = min(unknown, key=lambda o: o.call)
        return [o for o in ops if not (o.fn == "write" and o.ret is None)] + [first]

    def step(self, state, op: Op):
        if op.fn == "write":
            if op.ret is None:
                return True, True
            return op.result == ("exists" if state else "ok"), True
        if op.fn == "read":
            return op.result == ("present" if state else "absent"), state
        raise ValueError(f"TaskModel: unknown operation {op.fn!r}")


class RegisterModel:
    """One register per key: ``write`` (arg ``(key, value)``) and ``read`` (arg ``key``,
    result the value, None before any write). Used to test the checker itself."""

    def key(self, op: Op) -> Hashable:
        return op.arg[0] if op.fn == "write" else op.arg

    def init(self) -> Hashable:
        return None

    def step(self, state, op: Op):
        if op.fn == "write":
            return True, op.arg[1]
        return op.ret is None or op.result == state, state


def check(history: Iterable[Op], model) -> CheckResult:
    """Check every key's sub-history; the first failing key is reported."""
    by_key: dict[Hashable, list[Op]] = defaultdict(list)
    for op in history:
        by_key[model.key(op)].append(op)
    reduce = getattr(model, "reduce", None)
    for n, (key, ops) in enumerate(by_key.items(), 1):
        if reduce is not None:
            ops = reduce(ops)
        if not _check_one(ops, model):
            return CheckResult(False, key, sorted(ops, key=lambda o: o.call), n)
    return CheckResult(True, keys_checked=len(by_key))


class _Node:
    __slots__ = ("is_call", "match", "next", "op_id", "prev")

    def __init__(self, op_id: int, is_call: bool):
        self.op_id, self.is_call = op_id, is_call
        self.match = self.prev = self.next = None


def _events(ops: list[Op]) -> _Node:
    """A doubly linked list of call and return events in time order (calls before returns at
    equal times: such operations count as concurrent), behind a sentinel head."""
    events = []
    for i, op in enumerate(ops):
        events.append((op.call, 0, i))
        events.append((math.inf if op.ret is None else op.ret, 1, i))
    events.sort()
    head = _Node(-1, False)
    calls: dict[int, _Node] = {}
    prev = head
    for _, kind, i in events:
        node = _Node(i, kind == 0)
        if kind == 0:
            calls[i] = node
        else:
            calls[i].match = node
        prev.next, node.prev = node, prev
        prev = node
    return head


def _lift(call: _Node) -> None:
    for node in (call, call.match):
        node.prev.next = node.next
        if node.next is not None:
            node.next.prev = node.prev


def _unlift(call: _Node) -> None:
    for node in (call.match, call):
        node.prev.next = node
        if node.next is not None:
            node.next.prev = node


def _check_one(ops: list[Op], model) -> bool:
    head = _events(ops)
    state, linearized = model.init(), 0
    cache: set[tuple[int, Hashable]] = set()
    stack: list[tuple[_Node, Hashable]] = []
    entry = head.next
    while head.next is not None:
        if entry.is_call:
            legal, after = model.step(state, ops[entry.op_id])
            if legal:
                mark = linearized | (1 << entry.op_id)
                if (mark, after) not in cache:
                    cache.add((mark, after))
                    stack.append((entry, state))
                    state, linearized = after, mark
                    _lift(entry)
                    entry = head.next
                    continue
            entry = entry.next
        else:
            if not stack:
                return False
            entry, state = stack.pop()
            linearized &= ~(1 << entry.op_id)
            _unlift(entry)
            entry = entry.next
    return True
