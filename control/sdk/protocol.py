"""``OrchestratorAPI``: the seed's async API, which both SDK clients implement.

``UnifiedOrchestrator`` (over HTTP) and ``EmbeddedOrchestrator`` (in process) are used
interchangeably by application code and by the agent worker; this Protocol is that contract,
with the same parameter names and defaults on both (tests/control/sdk/test_protocol.py checks
the signatures, not just the names). Arguments are validated on the client side through the
API's own schemas (``args``) and normalised once (``uqo.control.api.normalize``).

(Named ``OrchestratorAPI`` because ``uqo.control.leader.Orchestrator`` is the running leader
that the embedded client wraps.)
"""

from __future__ import annotations

from typing import Protocol, Self, runtime_checkable

from .enums import TaskPriority


@runtime_checkable
class OrchestratorAPI(Protocol):
    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc) -> None: ...

    async def close(self) -> None: ...

    # ---- authentication -----------------------------------------------------------------
    async def authenticate_user(self, user_id: str, credentials: dict, source_ip=None,
                                context: dict | None = None) -> tuple[bool, dict | None]:
        """``(True, session)`` on success, ``(False, None)`` for wrong credentials."""

    # ---- agents -------------------------------------------------------------------------
    async def register_agent(self, agent_id: str, capabilities=(), security_clearance=0,
                             compartments=(), capacity: int = 1, failure_domain=None,
                             fitness: float = 1.0) -> dict:
        """Register (the same spec again is a no-op); the agent's view."""

    async def deregister_agent(self, agent_id: str) -> dict:
        """``{"agent_id", "requeued_tasks"}``."""

    async def heartbeat(self, agent_id: str, probe_id: str | None = None,
                        healthy: bool = True) -> dict:
        """The agent is alive; ``probe_id``/``healthy`` answer a health check the last reply
        asked for (``{"probe": {"probe_id", "deadline_s"}}``)."""

    async def get_agent(self, agent_id: str) -> dict: ...

    async def list_agents(self, **filters) -> dict: ...

    async def get_assignments(self, agent_id: str, wait: float = 0.0) -> list[dict]:
        """Open assignments; waits up to ``wait`` seconds for one (long-poll)."""

    async def report_outcome(self, agent_id: str, task_id: str, success: bool,
                             latency_s: float = 0.0, result: str | None = None,
                             reason: str = "") -> dict: ...

    # ---- tasks --------------------------------------------------------------------------
    async def submit_task(self, task_description: str = "", priority=TaskPriority.NORMAL,
                          required_agents: int = 1, required_capabilities=(),
                          classification=0, compartments=(), timeout_s=None, strategy=None,
                          task_id=None, user_credential=None) -> str:
        """The new task's id, once durable."""

    async def submit_tasks(self, tasks: list[dict], user_credential=None) -> list[str]:
        """All or none; each dict holds ``submit_task``'s keyword arguments."""

    async def get_task(self, task_id: str) -> dict: ...

    async def list_tasks(self, **filters) -> dict: ...

    async def cancel_task(self, task_id: str, reason: str = "") -> dict: ...

    async def wait_for_task(self, task_id: str, timeout_s: float = 30.0,
                            poll_s: float = 0.05) -> dict:
        """The task once finished, or as it is after ``timeout_s``."""

    # ---- status -------------------------------------------------------------------------
    async def status(self) -> dict: ...

    def get_system_status(self) -> dict:
        """The status, synchronously (the seed calls it without ``await``)."""
