"""``LegacyOrchestrator``: the old synchronous calls, kept working during migration.

Use cases (the seed's "old system" lines)::

    old_orchestrator = LegacyOrchestrator("http://127.0.0.1:8080", credential=token)
    old_orchestrator = LegacyOrchestrator(data_dir="./uqo-data")     # in process
    old_orchestrator.register_agent("agent-1", capabilities={"general"})
    result = old_orchestrator.run_goal("analyze data")    # waits for the task to finish
    result["state"], result["result"]
    old_orchestrator.close()

It drives a ``UnifiedOrchestrator`` (a URL) or an ``EmbeddedOrchestrator`` (``data_dir=``) on
an event loop in a private thread, so plain synchronous code can call it. ``run_goal`` submits
one task needing one agent with the ``general`` capability and waits for its end: some agent
(a ``uqo agent`` worker, say) must take and finish it.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Self

from uqo.control.errors import ControlError


class LegacyOrchestrator:
    def __init__(self, base_url: str | None = None, data_dir: str | None = None,
                 credential=None, **settings):
        if (base_url is None) == (data_dir is None):
            raise ControlError.invalid("give exactly one of base_url or data_dir", "base_url")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="uqo-legacy",
                                        daemon=True)
        self._thread.start()
        if base_url is not None:
            from .client import UnifiedOrchestrator
            self.client = UnifiedOrchestrator(base_url, credential)
        else:
            from .embedded import EmbeddedOrchestrator
            self.client = EmbeddedOrchestrator(data_dir=data_dir, **settings)
            self._run(self.client.start())

    def _run(self, coro, timeout_s: float | None = None):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout_s)

    def register_agent(self, agent_id: str, capabilities=("general",), **kwargs) -> dict:
        return self._run(self.client.register_agent(agent_id=agent_id,
                                                    capabilities=capabilities, **kwargs))

    def run_goal(self, goal: str, timeout_s: float = 60.0,
                 capabilities=("general",)) -> dict:
        """Submit ``goal`` as a one-agent task and wait until it ends; the task's view."""
        async def go():
            task_id = await self.client.submit_task(task_description=goal, required_agents=1,
                                                    required_capabilities=capabilities)
            return await self.client.wait_for_task(task_id, timeout_s=timeout_s)
        return self._run(go())

    def get_system_status(self) -> dict:
        return self._run(self.client.status())

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._run(self.client.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
