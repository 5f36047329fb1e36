"""uqo.control.scheduler: eligibility, quantum-inspired and classical strategies, batched gang
matching at a million agents. See ``scheduler.Scheduler`` and docs/scheduler.md."""

from uqo.engine.partition import HashRing

from .registry import AgentTable
from .scheduler import Scheduler
from .types import (
                    QUANTUM_MODES,
                    REJECT_CODES,
                    STRATEGIES,
                    AgentSpec,
                    Assignment,
                    Decision,
                    TaskSpec,
)

__all__ = ["QUANTUM_MODES", "REJECT_CODES", "STRATEGIES", "AgentSpec", "AgentTable",
           "Assignment", "Decision", "HashRing", "Scheduler", "TaskSpec"]
