"""Circuit breaker and retries with exponential backoff and jitter, for the SDK and the worker.

Use cases::

    breaker = CircuitBreaker(failure_threshold=5, reset_timeout_s=5.0)
    result = await breaker.call(session_get, url)          # fails fast while open

    async for attempt in retrying(attempts=5):             # tenacity: backoff with full jitter
        with attempt:
            await client.heartbeat("a1")

States of the breaker: *closed* (calls pass; ``failure_threshold`` consecutive transient
failures open it), *open* (calls fail at once with ``CircuitOpen`` for ``reset_timeout_s``),
*half-open* (one trial call passes: success closes, failure re-opens). Only transient failures
(connection errors, timeouts, 503) count: a 4xx is the caller's mistake, not the server's
health. Retries use tenacity (well kept, async-aware); the breaker is hand-written because
tenacity has none and the usual breaker packages are synchronous or unmaintained.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import tenacity
from uqo.control.errors import ControlError

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitOpen(ControlError):
    def __init__(self, retry_in_s: float):
        super().__init__("circuit_open", f"circuit open after repeated failures; retry in "
                         f"{retry_in_s:.2f} s", 503, None)


def is_transient(exc: BaseException) -> bool:
    """Worth retrying later: the server was unreachable, slow, said it is unavailable, or the
    breaker is open (which is itself a verdict on the server's health)."""
    if isinstance(exc, ControlError):
        return exc.status in (502, 503, 504)
    return isinstance(exc, (aiohttp.ClientConnectionError, asyncio.TimeoutError,
                            ConnectionError))


class CircuitBreaker:
    def __init__(self, failure_threshold: int = 5, reset_timeout_s: float = 5.0,
                 clock=time.monotonic):
        if not isinstance(failure_threshold, int) or failure_threshold < 1:
            raise ValueError(f"failure_threshold must be an int >= 1, got "
                             f"{failure_threshold!r}")
        if not reset_timeout_s > 0:
            raise ValueError(f"reset_timeout_s must be > 0, got {reset_timeout_s!r}")
        self.failure_threshold, self.reset_timeout_s = failure_threshold, reset_timeout_s
        self.clock = clock
        self.failures = 0
        self._opened_at: float | None = None
        self._trial = False

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return CLOSED
        if self.clock() - self._opened_at >= self.reset_timeout_s:
            return HALF_OPEN
        return OPEN

    def before(self) -> None:
        """Raise ``CircuitOpen`` unless a call may go through now."""
        state = self.state
        if state == OPEN or (state == HALF_OPEN and self._trial):
            wait = self.reset_timeout_s - (self.clock() - self._opened_at)
            raise CircuitOpen(max(0.0, wait))
        if state == HALF_OPEN:
            self._trial = True

    def record(self, exc: BaseException | None) -> None:
        """Record a call's outcome (``None``: success)."""
        if exc is None or not is_transient(exc):
            self.failures, self._opened_at, self._trial = 0, None, False
            return
        self.failures += 1
        if self._trial or self.failures >= self.failure_threshold:
            self._opened_at, self._trial = self.clock(), False

    async def call(self, fn, *args, **kwargs):
        self.before()
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            self.record(exc)
            raise
        self.record(None)
        return result


def in_flight(exc: BaseException) -> bool:
    """The server still runs an earlier attempt with the same idempotency key (409): retry
    later, on the same replica; not a verdict on the server's health."""
    return isinstance(exc, ControlError) and exc.code == "idempotency_key_in_flight"


def not_delivered(exc: BaseException) -> bool:
    """Certainly never reached the server: the connection could not be made, or the breaker
    failed the call before sending. Only such failures may retry a non-idempotent call."""
    return isinstance(exc, (aiohttp.ClientConnectorError, CircuitOpen))


def retrying(attempts: int = 5, max_wait_s: float = 2.0, initial_s: float = 0.05,
             stop_event: asyncio.Event | None = None,
             when=is_transient) -> tenacity.AsyncRetrying:
    """Retry failures ``when(exc)`` holds (transient ones by default) with exponential backoff
    and full jitter; re-raise the last error when ``attempts`` run out (or ``stop_event`` is
    set). ``attempts=None``: no limit."""
    stop = tenacity.stop_never if attempts is None else tenacity.stop_after_attempt(attempts)
    if stop_event is not None:
        stop = stop | (lambda _state: stop_event.is_set())
    return tenacity.AsyncRetrying(
        stop=stop, reraise=True,
        wait=tenacity.wait_random_exponential(multiplier=initial_s, max=max_wait_s),
        retry=tenacity.retry_if_exception(when))
