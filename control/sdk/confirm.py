"""Writes believed only once f+1 replicas hold them (PBFT), for ``reply_quorum`` > 1.

Use cases::

    client = UnifiedOrchestrator(urls, reply_quorum=2, confirm_timeout_s=10.0)   # n = 4, f = 1
    task_id = await client.submit_task(task_description="analyze")   # 2 replicas hold it
    record = await client.cancel_task(task_id)                       # 2 replicas' record

Under ``uqo serve --consensus pbft`` one replica answers a write (HTTP goes to one endpoint)
and it may be Byzantine: it can report a task accepted that was never ordered, or a record
that is not the log's. The protocol's own answer is f+1 matching replies (OSDI '99 §4.1); the
HTTP API has no per-replica reply for a write, so the SDK gets the same guarantee by reading
back: after the write's answer it reads the written record from every endpoint
(``quorum_call``), and returns only a record that ``reply_quorum`` distinct replicas gave
alike *and* that shows the write (``check``: the fields sent, a terminal state, the agent
gone). Replicas apply the log at their own pace, so the read is retried with exponential
backoff (``first_s`` doubling up to ``max_s``) until ``timeout_s`` passes; then the call fails
with 503 ``write_unconfirmed`` naming the record and what the replicas last showed.

A write the read-back does not confirm within ``timeout_s`` is resent (``resend``): a
Byzantine replica may have answered 200 with a fabricated result and never ordered it, or a
correct one may have lost it. The same request goes, under the same ``Idempotency-Key``, to
the next replica, and the read-back runs again; every replica is tried once at most, so the
whole write ends within about ``n * (request timeout + timeout_s)``. The key is recorded in
the replicated state with the command's first result, so a write that did land (a slow
replica ordered it late) is applied once and its resend answered as replayed. Only when every
replica was tried does the write fail with 503 ``write_unconfirmed``, naming the key and what
each attempt gave.

The loop is written by hand (a deadline and a doubling sleep) rather than with tenacity
because the whole confirmation, including a read hanging on a slow replica, must end at one
deadline; ``asyncio.wait_for`` gives that directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from uqo.control.errors import ControlError

from .resilience import is_transient

Check = Callable[[dict | None], bool]
_DISAGREE = object()                 # the replicas gave no quorum answer this time


async def confirm(read: Callable[[], Awaitable], check: Check, what: str, timeout_s: float,
                  first_s: float = 0.02, max_s: float = 0.5):
    """The record ``read()`` returned once it passes ``check`` (``None``: a 404 agreed by the
    quorum, the record is absent); 503 ``write_unconfirmed`` after ``timeout_s``. A 4xx other
    than 404 that the quorum agreed on (e.g. 403) is raised as it is."""
    seen = ["no quorum answered yet"]

    async def loop():
        delay = first_s
        while True:
            try:
                record = await read()
            except ControlError as exc:
                if exc.status == 404:
                    record = None
                elif exc.status >= 500:            # no_quorum: replicas still disagree
                    seen[0] = f"{exc.code}: {exc.message}"
                    record = _DISAGREE
                else:
                    raise
            if record is not _DISAGREE:
                if check(record):
                    return record
                seen[0] = "absent" if record is None else f"a record not showing it: {record!r}"
            await asyncio.sleep(delay)
            delay = min(2 * delay, max_s)
    try:
        return await asyncio.wait_for(loop(), timeout_s)
    except TimeoutError:
        raise ControlError("write_unconfirmed", f"{what}: not confirmed by the reply quorum "
                           f"within {timeout_s} s; last seen: {seen[0]}"[:2000], 503) from None


async def resend(replicas: list[str], send: Callable[[str], Awaitable],
                 settle: Callable[[object], Awaitable], what: str, key: str,
                 moved: Callable[[str], None] = lambda base: None):
    """What ``settle(answer)`` returns for the first replica (in ``replicas``' order) whose
    ``send(base)`` answered and whose write the reply quorum then confirmed. ``settle`` reads
    the write back (``confirm``) and raises 503 ``write_unconfirmed`` when it cannot; the
    answer itself is never believed beyond what ``settle`` makes of it. A transient send
    failure (refused, timed out, 503) or an unconfirmed write moves on to the next replica
    (``moved(base)`` is told); any other refusal (4xx) is raised as it is. After the last
    replica: 503 ``write_unconfirmed`` naming ``key`` and every attempt."""
    attempts = []
    for base in replicas:
        try:
            answer = await send(base)
        except Exception as exc:
            if not is_transient(exc):
                raise
            attempts.append(f"{base}: {_describe(exc)}")
            moved(base)
            continue
        try:
            return await settle(answer)
        except ControlError as exc:
            if exc.code != "write_unconfirmed":
                raise
            attempts.append(f"{base}: answered, {exc.message.removeprefix(what + ': ')}")
            moved(base)
    raise ControlError("write_unconfirmed", f"{what}: not confirmed by the reply quorum after "
                       f"{len(attempts)} attempt(s) with Idempotency-Key {key!r}, one per "
                       f"replica: " + "; ".join(attempts)[:1800], 503)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ControlError):
        return f"{exc.status} {exc.code}: {exc.message}"[:300]
    return f"{type(exc).__name__}: {exc}"[:300]


def _same(record: dict | None, expected: dict, sets: tuple[str, ...]) -> bool:
    if record is None:
        return False
    for key, want in expected.items():
        got = record.get(key)
        if key in sets:
            got, want = set(got or ()), set(want or ())
        if got != want:
            return False
    return True


def same_task(body) -> Check:
    """The task record holds what was submitted (``body``: a ``TaskSubmission``)."""
    expected = {"task_id": body.task_id, "description": body.task_description,
                "priority": body.priority, "required_agents": body.required_agents,
                "required_capabilities": body.required_capabilities,
                "classification": body.classification, "compartments": body.compartments}
    if body.timeout_s is not None:                 # None: the server's default
        expected["timeout_s"] = body.timeout_s
    return lambda record: _same(record, expected, ("required_capabilities", "compartments"))


def same_agent(body) -> Check:
    """The agent record holds what was registered (``body``: an ``AgentRegistration``)."""
    expected = {"agent_id": body.agent_id, "capabilities": body.capabilities,
                "security_clearance": body.security_clearance,
                "compartments": body.compartments, "capacity": body.capacity,
                "failure_domain": body.failure_domain, "fitness": body.fitness}
    return lambda record: _same(record, expected, ("capabilities", "compartments"))


def absent(record: dict | None) -> bool:
    return record is None


def finished(states) -> Check:
    """The task is in one of ``states`` (a cancel: any terminal state)."""
    return lambda record: record is not None and record.get("state") in states


def reported_by(agent_id: str) -> Check:
    """The agent no longer holds an open part of the task: its outcome was applied (it is
    among ``agents_done``, or a failure took the task away from it)."""
    return lambda record: record is not None and (agent_id in record.get("agents_done", ())
                                                  or agent_id not in record.get("agents", ()))
