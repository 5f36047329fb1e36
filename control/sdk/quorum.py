"""Answers that count only when f+1 replicas give the same one (PBFT's reply quorum).

Use cases::

    client = UnifiedOrchestrator([url1, url2, url3, url4], reply_quorum=2)   # n = 4, f = 1
    await client.get_task(task_id)     # what 2 distinct replicas answered alike, else 503

Under ``uqo serve --consensus pbft`` up to f replicas may lie, including the one a client
talks to. OSDI '99 §4.1: a client accepts a result once f+1 distinct replicas sent the same
one, so at least one correct replica vouches for it (``uqo.control.pbft.client.ClientCore``
does this inside the protocol). With ``reply_quorum`` > 1 the SDK asks every endpoint at once
for a read (GET) and returns the first answer ``reply_quorum`` distinct endpoints gave
identically: a success payload, or an error (4xx) by status and code. Unreachable or
unavailable endpoints (5xx, connection errors) do not vote; without enough matching answers
the call fails with 503 ``no_quorum`` rather than trusting fewer replicas.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence

import aiohttp
from uqo.control.errors import ControlError


def _key(payload) -> bytes:
    """Equal answers, byte for byte after sorting keys (replicas apply one log)."""
    return json.dumps(payload, sort_keys=True, default=repr).encode()


async def quorum_call(endpoints: Sequence[str], once: Callable[[str], Awaitable],
                      quorum: int):
    """Call ``once(endpoint)`` on every distinct endpoint concurrently; return (or raise)
    the first outcome ``quorum`` endpoints produced alike."""
    endpoints = list(dict.fromkeys(endpoints))
    if not 1 <= quorum <= len(endpoints):
        raise ControlError.invalid(f"reply_quorum must be in [1, {len(endpoints)}] (the "
                                   f"endpoints), got {quorum}", "reply_quorum")
    tasks = [asyncio.ensure_future(once(base)) for base in endpoints]
    votes: Counter[bytes] = Counter()
    failures = 0
    try:
        for fut in asyncio.as_completed(tasks):
            try:
                payload = await fut
                key, outcome = b"ok" + _key(payload), payload
            except ControlError as exc:
                if exc.status >= 500:
                    failures += 1
                    continue
                key, outcome = b"err%d:%s" % (exc.status, exc.code.encode()), exc
            except (TimeoutError, aiohttp.ClientError, OSError):
                failures += 1
                continue
            votes[key] += 1
            if votes[key] >= quorum:
                if isinstance(outcome, ControlError):
                    raise outcome
                return outcome
    finally:
        for t in tasks:
            t.cancel()
    best = max(votes.values(), default=0)
    raise ControlError("no_quorum", f"{quorum} matching answers needed from distinct replicas; "
                       f"best agreement {best}, {failures} unreachable of {len(endpoints)}",
                       503)

