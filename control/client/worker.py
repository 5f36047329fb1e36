"""The agent worker: register, heartbeat, long-poll for assignments, run, report; reconnect.

Use cases::

    async def handler(assignment: dict) -> str | None:     # return a result, raise to fail
        return f"done: {assignment['description']}"

    worker = AgentWorker(UnifiedOrchestrator(url), "agent-7", {"general"}, handler)
    await worker.run(stop_event)          # until stop_event is set

Health checks: when a heartbeat's reply asks for a probe, the worker runs ``health_check``
(default: none needed, healthy) and sends the result with an immediate heartbeat; a check that
raises or returns False reports unhealthy.

Up to ``capacity`` assignments run at once. When the server goes away, the worker backs off
(exponential with jitter, via tenacity) and reconnects, registering again (a no-op when the
spec is unchanged) before it resumes; the client's circuit breaker keeps a down server from
being hammered. A handler exception is reported as the assignment's failure with its message.

Tracing: each assignment runs in an ``agent.run_task`` span whose parent is the submission the
assignment carries (``trace``, a W3C ``traceparent``); the outcome report is made inside it,
so the server's span for the report joins the same trace (docs/tracing.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from opentelemetry.trace import SpanKind
from uqo.control.errors import ControlError
from uqo.control.tracing import TRACER, mark_failed, parent_context

from ..sdk.resilience import is_transient, retrying

_LOG = logging.getLogger(__name__)
Handler = Callable[[dict], Awaitable[str | None]]
HealthCheck = Callable[[], Awaitable[bool]]


class AgentWorker:
    def __init__(self, client, agent_id: str, capabilities=(), handler: Handler | None = None,
                 security_clearance: int = 0, compartments=(), capacity: int = 1,
                 failure_domain: str | None = None, heartbeat_interval_s: float = 5.0,
                 poll_wait_s: float = 20.0, max_backoff_s: float = 5.0,
                 health_check: HealthCheck | None = None):
        self.client, self.agent_id = client, agent_id
        self.spec = {"capabilities": capabilities, "security_clearance": security_clearance,
                     "compartments": compartments, "capacity": capacity,
                     "failure_domain": failure_domain}
        self.handler = handler or echo_handler
        self.capacity = capacity
        self.heartbeat_interval_s, self.poll_wait_s = heartbeat_interval_s, poll_wait_s
        self.max_backoff_s = max_backoff_s
        self.health_check = health_check or always_healthy
        self.completed = self.failed = self.reconnects = self.probes_answered = 0
        self._running: dict[str, asyncio.Task] = {}

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Work until ``stop`` is set; survives server restarts."""
        stop = stop or asyncio.Event()
        async for attempt in retrying(attempts=None, max_wait_s=self.max_backoff_s,
                                      initial_s=0.1, stop_event=stop):
            with attempt:
                if attempt.retry_state.attempt_number > 1:
                    self.reconnects += 1
                await self._session(stop)
        await self._drain()

    async def _session(self, stop: asyncio.Event) -> None:
        await self.client.register_agent(agent_id=self.agent_id, **self.spec)
        beat = asyncio.create_task(self._heartbeats(stop))
        try:
            while not stop.is_set():
                await self._poll_once(stop)
        finally:
            beat.cancel()
            await asyncio.gather(beat, return_exceptions=True)

    async def _heartbeats(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                ack = await self.client.heartbeat(self.agent_id)
                if ack.get("probe"):
                    await self._answer_probe(ack["probe"]["probe_id"])
            except Exception as exc:       # a down server shows in the poll loop too
                if not is_transient(exc):
                    raise
            await asyncio.sleep(self.heartbeat_interval_s)

    async def _answer_probe(self, probe_id: str) -> None:
        try:
            healthy = bool(await self.health_check())
        except Exception:  # noqa: BLE001 - a failing check is the answer "unhealthy"
            healthy = False
        await self.client.heartbeat(self.agent_id, probe_id=probe_id, healthy=healthy)
        self.probes_answered += 1

    async def _poll_once(self, stop: asyncio.Event) -> None:
        if len(self._running) >= self.capacity:
            await asyncio.wait(list(self._running.values()),
                               return_when=asyncio.FIRST_COMPLETED)
            return
        poll = asyncio.create_task(self.client.get_assignments(self.agent_id,
                                                               wait=self.poll_wait_s))
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({poll, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if poll not in done:
            poll.cancel()
            await asyncio.gather(poll, return_exceptions=True)
            return
        for assignment in poll.result():
            task_id = assignment["task_id"]
            if task_id not in self._running:
                self._running[task_id] = asyncio.create_task(self._execute(assignment))

    async def _execute(self, assignment: dict) -> None:
        task_id = assignment["task_id"]
        try:
            with TRACER.start_as_current_span(
                    "agent.run_task", context=parent_context(assignment.get("trace")),
                    kind=SpanKind.CONSUMER, attributes={"uqo.task.id": task_id,
                                                        "uqo.agent.id": self.agent_id}):
                await self._run(task_id, assignment)
        finally:
            self._running.pop(task_id, None)

    async def _run(self, task_id: str, assignment: dict) -> None:
        t0 = time.perf_counter()
        try:
            result = await self.handler(assignment)
        except Exception as exc:  # noqa: BLE001 - the handler's failure is the task's failure
            mark_failed(exc)
            await self._report(task_id, False, time.perf_counter() - t0,
                               reason=f"{type(exc).__name__}: {exc}")
            self.failed += 1
        else:
            await self._report(task_id, True, time.perf_counter() - t0, result=result)
            self.completed += 1

    async def _report(self, task_id: str, success: bool, latency_s: float, result=None,
                      reason: str = "") -> None:
        async for attempt in retrying(attempts=8, max_wait_s=self.max_backoff_s):
            with attempt:
                try:
                    await self.client.report_outcome(self.agent_id, task_id, success,
                                                     latency_s, result, reason)
                except ControlError as exc:
                    if exc.status in (404, 409):  # cancelled, timed out or requeued meanwhile
                        _LOG.info("outcome of %s not taken: %s", task_id, exc.message)
                        return
                    raise

    async def _drain(self) -> None:
        if self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)


async def always_healthy() -> bool:
    """The default health check: an agent that can answer is healthy."""
    return True


async def echo_handler(assignment: dict) -> str:
    """The default handler: succeeds at once, echoing the task's description."""
    return assignment.get("description", "")


def sleep_handler(seconds: float) -> Handler:
    async def handler(assignment: dict) -> str:
        await asyncio.sleep(seconds)
        return f"slept {seconds} s"
    return handler
