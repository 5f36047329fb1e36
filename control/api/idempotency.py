"""``Idempotency-Key`` on the API's writes: a retried write is applied once, on any replica.

Use cases::

    POST /v1/tasks/t1/cancel   Idempotency-Key: 7f3c...     -> 200, the task cancelled
    (the answer is lost; the client retries, on this replica or another after a failover)
    POST /v1/tasks/t1/cancel   Idempotency-Key: 7f3c...     -> 200, the same body,
                                                               Idempotent-Replayed: true
    POST /v1/tasks/t2/cancel   Idempotency-Key: 7f3c...     -> 422 idempotency_key_reused
    Idempotency-Key: ""  (or over 255 characters)           -> 400, field Idempotency-Key
    the same key again while the first is still running     -> 409 idempotency_key_in_flight

As in the IETF draft "The Idempotency-Key HTTP Header Field" and Stripe's API: the key (1 to 255
printable ASCII characters, chosen by the client, a UUID v4 say) is scoped to the authenticated
caller, and fingerprinted with the request (method, path, media type and body bytes, SHA-256).
The routes that log a client's command honour it: ``KEYED_ROUTES``; other routes ignore the
header. The key and the fingerprint are logged with the command and recorded by the replicated
state machine as it applies it (``uqo.control.state.idempotency``), so a retry is recognised on
every replica, after a failover or a restart, for ``idempotency_ttl_s`` (default 24 h; at most
``idempotency_max_keys`` keys). Only applied writes are remembered: a refused one (4xx) may be
retried with its key and runs again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from aiohttp import web
from uqo.control.errors import ControlError
from uqo.control.state.idempotency import WRITE_KEY, WriteKey

from .appkeys import ORCH
from .auth import caller

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
MAX_KEY = 255
KEYED_ROUTES = frozenset({"registerAgent", "deregisterAgent", "reportOutcome", "submitTask",
                          "submitTasks", "cancelTask"})
IN_FLIGHT = web.AppKey("idempotency_in_flight", set)


def parse_key(values: list[str]) -> str:
    """The one header value, checked: 1..255 printable ASCII characters."""
    if len(values) != 1:
        raise ControlError.invalid(f"{HEADER} given {len(values)} times; send it once", HEADER)
    key = values[0]
    if not 1 <= len(key) <= MAX_KEY or not all(" " <= c <= "~" for c in key):
        raise ControlError.invalid(f"{HEADER} must be 1 to {MAX_KEY} printable ASCII "
                                   f"characters, got {key[:40]!r} ({len(key)} characters)",
                                   HEADER)
    return key


async def fingerprint(request: web.Request) -> str:
    """SHA-256 over the method, path, media type and body bytes of the request."""
    h = hashlib.sha256()
    for part in (request.method, request.path, request.content_type):
        h.update(part.encode() + b"\n")
    h.update(await request.read())
    return h.hexdigest()


@web.middleware
async def middleware(request: web.Request, handler):
    """Innermost (after authentication and authorisation): set the request's ``WRITE_KEY``,
    refuse a concurrent duplicate here, mark a replayed answer."""
    values = request.headers.getall(HEADER, [])
    route = request.match_info.route
    if not values or route.name not in KEYED_ROUTES:
        return await handler(request)
    cfg = request.app[ORCH].cfg
    write = WriteKey(caller(request) or "", parse_key(values), await fingerprint(request),
                     cfg.idempotency_ttl_s, cfg.idempotency_max_keys)
    flights = request.app[IN_FLIGHT]
    slot = (write.principal, write.key)
    if slot in flights:
        raise ControlError("idempotency_key_in_flight", f"a request with {HEADER} "
                           f"{write.key!r} is still being processed; retry once it answered",
                           409, HEADER, retry_after_s=1)
    flights.add(slot)
    token = WRITE_KEY.set(write)
    try:
        response = await handler(request)
    finally:
        WRITE_KEY.reset(token)
        flights.discard(slot)
    if write.replayed:
        response.headers[REPLAYED] = "true"
        request.app[ORCH].metrics.idempotent_replays.inc()
    return response


async def replay_or(request: web.Request, write: Callable[[], Awaitable],
                    shape: Callable = lambda result: result):
    """``await write()``, unless the request's key was applied already: then ``shape`` of a
    copy of the first result (what ``write`` makes of the command's result). Runs before the
    orchestrator's own checks, which a repeat would fail (its task is cancelled already).

    No read barrier: this look and those checks read the same local state with no await
    between them, so if this replica has not applied the first entry yet, the checks pass
    too, the write is logged ``Keyed`` again and its application answers the first result
    (``machine._apply_keyed``). A barrier would cost every keyed write an etcd round trip,
    or a whole PBFT ordering, for nothing."""
    key = WRITE_KEY.get()
    if key is not None:
        orch = request.app[ORCH]
        record = orch.sm.keys.lookup(key.principal, key.key, key.digest, orch.clock())
        if record is not None:
            key.replayed = True
            return shape(record.result())
    return await write()
