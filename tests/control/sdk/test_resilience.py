"""CircuitBreaker states and the tenacity-based retry helper."""

import asyncio

import aiohttp
import pytest
from uqo.control.errors import ControlError
from uqo.control.sdk.resilience import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    CircuitBreaker,
    CircuitOpen,
    is_transient,
    retrying,
)


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


async def _down():
    raise aiohttp.ClientConnectionError("refused")


async def _up():
    return "ok"


async def test_breaker_opens_fails_fast_half_opens_and_closes():
    clock = Clock()
    br = CircuitBreaker(failure_threshold=3, reset_timeout_s=5.0, clock=clock)
    for _ in range(3):
        with pytest.raises(aiohttp.ClientConnectionError):
            await br.call(_down)
    assert br.state == OPEN
    with pytest.raises(CircuitOpen):
        await br.call(_up)                      # fails fast, the call is not made
    clock.t = 5.0
    assert br.state == HALF_OPEN
    with pytest.raises(aiohttp.ClientConnectionError):
        await br.call(_down)                    # the trial fails: open again
    assert br.state == OPEN
    clock.t = 10.0
    assert await br.call(_up) == "ok" and br.state == CLOSED


async def test_client_errors_do_not_trip_the_breaker():
    br = CircuitBreaker(failure_threshold=1)

    async def bad_request():
        raise ControlError.invalid("nope", "x")
    for _ in range(3):
        with pytest.raises(ControlError):
            await br.call(bad_request)
    assert br.state == CLOSED


async def test_retrying_retries_transient_and_reraises_the_last():
    calls = []

    async def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ControlError.unavailable("starting")
        return "ok"
    async for attempt in retrying(attempts=5, initial_s=0.001, max_wait_s=0.01):
        with attempt:
            result = await flaky()
    assert result == "ok" and len(calls) == 3
    with pytest.raises(asyncio.TimeoutError):
        async for attempt in retrying(attempts=2, initial_s=0.001, max_wait_s=0.01):
            with attempt:
                raise TimeoutError()


def test_transient_classification():
    assert is_transient(ControlError.unavailable("x"))
    assert not is_transient(ControlError.not_found("task", "t"))
    assert is_transient(ConnectionResetError()) and not is_transient(ValueError())
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker(failure_threshold=0)
