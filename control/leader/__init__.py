"""The running orchestrator (leader): typed operations over the log, state machine, scheduler
and engine."""

from .service import Orchestrator

__all__ = ["Orchestrator"]
