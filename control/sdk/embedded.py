"""``EmbeddedOrchestrator``: the same SDK in process, on its own data directory.

Use cases::

    async with EmbeddedOrchestrator(data_dir="./uqo-data") as uo:
        await uo.register_agent(agent_id="a1", capabilities={"general"})
        task_id = await uo.submit_task(task_description="analyze data")
        uo.get_system_status()["quantum"]["global_coherence"]

It runs the full orchestrator (durable log, scheduler, engine ticks) on the caller's event loop,
without HTTP; arguments are validated by the API's schemas, refusals raise the same
``ControlError`` as over HTTP. ``get_system_status()`` is synchronous and cheap here.

Security: with ``auth`` on (the default) the data directory's ``uqo.security`` framework is
opened (an administrator is enrolled on first start, as ``uqo serve`` does);
``authenticate_user`` logs in through it, and a ``user_credential`` given to ``submit_task`` is
verified and names the submitter. The calling process itself is trusted: it owns the data
directory, so calls without a credential are allowed.

Tracing: nothing is installed here; a host application's OpenTelemetry provider receives the
orchestrator's spans, and a task submitted inside the caller's span continues its trace.
"""

from __future__ import annotations

from typing import Self

from uqo.control.api.normalize import agent_info, task_info
from uqo.control.config import load_config
from uqo.control.errors import ControlError
from uqo.control.leader.service import Orchestrator
from uqo.control.tracing import traceparent

from . import args as a
from .enums import TaskPriority


class EmbeddedOrchestrator:
    """``data_dir``: where the log and snapshots live; ``settings``: any other
    ``ServerConfig`` setting (``capacity=``, ``strategy=``, ``tick_interval_s=``, ...)."""

    def __init__(self, data_dir: str = "./uqo-data", **settings):
        self.config = load_config(overrides={**settings, "data_dir": data_dir})
        self.orchestrator = Orchestrator(self.config)
        self.admin_file: str | None = None
        self._started = False

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def start(self) -> None:
        if self._started:
            return
        if self.config.auth:
            import asyncio

            from uqo.control.api.sessions import StateSessions
            from uqo.control.server.bootstrap import open_security
            loop = asyncio.get_running_loop()
            fw, self.admin_file, _ = await loop.run_in_executor(None, open_security,
                                                                self.config.data_dir)
            self.orchestrator.security = fw
            fw.use_sessions(StateSessions(self.orchestrator, fw.local_sessions))
        await self.orchestrator.start()
        if self.orchestrator.security is not None:
            from uqo.control.api.sessions import take_over_local_changes
            await take_over_local_changes(self.orchestrator, self.orchestrator.security)
        self._started = True

    async def close(self) -> None:
        if self._started:
            await self.orchestrator.stop()
            if self.orchestrator.security is not None:
                self.orchestrator.security.close()
            self._started = False

    # ---- authentication -----------------------------------------------------------------
    async def authenticate_user(self, user_id: str, credentials: dict, source_ip=None,
                                context: dict | None = None) -> tuple[bool, dict | None]:
        """The seed's call: ``(True, Credential)`` or ``(False, None)``; ``source_ip``
        defaults to loopback (the caller is in this process)."""
        fw = self._security()
        return await fw.authenticate_user(user_id, credentials, source_ip or "127.0.0.1",
                                          context)

    def _security(self):
        if self.orchestrator.security is None:
            raise ControlError("auth_disabled", "authentication is off (auth = false)", 404)
        return self.orchestrator.security

    def _submitter(self, credential) -> str | None:
        if credential is None:
            return None
        from uqo.security import SecurityError

        token = a.credential_token(credential)
        try:
            return self._security().verify_token(token).user_id
        except SecurityError as exc:
            raise ControlError(getattr(exc, "code", "unauthenticated"), str(exc), 401,
                               "user_credential") from None

    # ---- agents -------------------------------------------------------------------------
    async def register_agent(self, agent_id: str, capabilities=(), security_clearance=0,
                             compartments=(), capacity: int = 1, failure_domain=None,
                             fitness: float = 1.0) -> dict:
        body = a.agent_body(agent_id, capabilities, security_clearance, compartments,
                            capacity, failure_domain, fitness)
        view, _ = await self.orchestrator.register_agent(agent_info(body))
        return view

    async def deregister_agent(self, agent_id: str) -> dict:
        requeued = await self.orchestrator.deregister_agent(agent_id)
        return {"agent_id": agent_id, "requeued_tasks": requeued}

    async def heartbeat(self, agent_id: str, probe_id: str | None = None,
                        healthy: bool = True) -> dict:
        return self.orchestrator.heartbeat(agent_id, probe_id, healthy)

    async def get_agent(self, agent_id: str) -> dict:
        return self.orchestrator.get_agent(agent_id)

    async def list_agents(self, **filters) -> dict:
        return self.orchestrator.list_agents(visible=None, **filters)   # in process: all

    async def get_assignments(self, agent_id: str, wait: float = 0.0) -> list[dict]:
        return await self.orchestrator.assignments(agent_id, wait)

    async def report_outcome(self, agent_id: str, task_id: str, success: bool,
                             latency_s: float = 0.0, result: str | None = None,
                             reason: str = "") -> dict:
        body = a.outcome_body(task_id, success, latency_s, result, reason)
        return await self.orchestrator.report_outcome(agent_id, body.task_id, body.success,
                                                      body.latency_s, body.result, body.reason)

    # ---- tasks --------------------------------------------------------------------------
    async def submit_task(self, task_description: str = "", priority=TaskPriority.NORMAL,
                          required_agents: int = 1, required_capabilities=(),
                          classification=0, compartments=(), timeout_s=None, strategy=None,
                          task_id=None, user_credential=None) -> str:
        body = a.task_body(task_description, priority, required_agents, required_capabilities,
                           classification, compartments, timeout_s, strategy, task_id)
        user = self._submitter(user_credential)
        [task_id] = await self.orchestrator.submit_tasks([task_info(body, user, traceparent())])
        return task_id

    async def submit_tasks(self, tasks: list[dict], user_credential=None) -> list[str]:
        user = self._submitter(user_credential)
        trace = traceparent()                  # the caller's span, if the host traces
        infos = [task_info(a.task_body(**t), user, trace) for t in tasks]
        return await self.orchestrator.submit_tasks(infos)

    async def get_task(self, task_id: str) -> dict:
        return self.orchestrator.get_task(task_id)

    async def list_tasks(self, **filters) -> dict:
        return self.orchestrator.list_tasks(visible=None, **filters)

    async def cancel_task(self, task_id: str, reason: str = "") -> dict:
        return await self.orchestrator.cancel_task(task_id, reason)

    async def wait_for_task(self, task_id: str, timeout_s: float = 30.0,
                            poll_s: float = 0.05) -> dict:
        return await self.orchestrator.wait_task(task_id, timeout_s=timeout_s)

    # ---- status -------------------------------------------------------------------------
    async def status(self) -> dict:
        return self.orchestrator.status()

    def get_system_status(self) -> dict:
        """The status sections, synchronously (the seed calls it without ``await``)."""
        return self.orchestrator.status()

