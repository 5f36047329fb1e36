"""Client-side helpers built on the SDK: the agent worker (register, heartbeat, take
assignments, report; reconnects with backoff) and ``ServerProcess`` (``uqo serve`` as a child
process, for tests, benchmarks and local stacks)."""

from .procs import ServerProcess
from .worker import AgentWorker

__all__ = ["AgentWorker", "ServerProcess"]
