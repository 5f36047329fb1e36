"""The scheduler's public value types: what an agent offers, what a task needs, what was decided.

Specs are frozen dataclasses validated on construction, so a malformed spec raises
``ValueError`` (naming the field and the value) before it reaches the scheduler and changes
nothing there; an ``Assignment`` (built by the scheduler) is a named tuple.

Security levels are plain ints ``0..3`` (UNCLASSIFIED, CONFIDENTIAL, SECRET, TOP_SECRET); any
``int`` subclass works, so ``uqo.security.SecurityLevel`` members (an ``IntEnum``) can be passed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

STRATEGIES = ("quantum", "round_robin", "least_connections", "power_of_two", "adaptive",
              "thompson", "ewma")
QUANTUM_MODES = ("sample", "exact")
MAX_LEVEL = 3
MAX_REQUIRED_AGENTS = 4096


def _names(value, field_name: str) -> frozenset[str]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ValueError(f"{field_name} must be a set of strings, got {value!r}")
    out = frozenset(value)
    bad = [v for v in out if not isinstance(v, str) or not v]
    if bad:
        raise ValueError(f"{field_name} must hold non-empty strings, got {bad[0]!r}")
    return out


def _int(value, field_name: str, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{field_name} must be an int, got {value!r}")  # noqa: TRY004 (one error type for bad input)
    if value < lo or (hi is not None and value > hi):
        span = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"{field_name} must be {span}, got {value!r}")
    return int(value)


def _id(value, field_name: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{field_name} must be a non-empty string, got {value!r}")
    return value


@dataclass(frozen=True)
class AgentSpec:
    """An agent as registered: what it can do and where it may be used.

    ``capacity`` is how many tasks it may hold at once; agents sharing a ``failure_domain``
    are paired two by two in joint engine states; ``fitness`` (finite, > 0) scales its score.
    """

    agent_id: str
    capabilities: frozenset[str]
    clearance: int = 0
    compartments: frozenset[str] = frozenset()
    capacity: int = 1
    failure_domain: str | None = None
    fitness: float = 1.0

    def __post_init__(self):
        _id(self.agent_id, "agent_id")
        object.__setattr__(self, "capabilities", _names(self.capabilities, "capabilities"))
        object.__setattr__(self, "compartments", _names(self.compartments, "compartments"))
        object.__setattr__(self, "clearance", _int(self.clearance, "clearance", 0, MAX_LEVEL))
        _int(self.capacity, "capacity", 1, 1 << 20)
        if self.failure_domain is not None:
            _id(self.failure_domain, "failure_domain")
        fit = self.fitness
        if isinstance(fit, bool) or not isinstance(fit, (int, float)) or not \
                (math.isfinite(fit) and fit > 0):
            raise ValueError(f"fitness must be a finite number > 0, got {fit!r}")


@dataclass(frozen=True)
class TaskSpec:
    """A task: ``required_agents`` agents, each holding every capability in ``capabilities``,
    with clearance >= ``classification`` and compartments including ``compartments``.

    Higher ``priority`` goes first; waiting raises it (aging). ``strategy`` overrides the
    scheduler's default for this task (one of ``STRATEGIES``).
    """

    task_id: str
    required_agents: int
    capabilities: frozenset[str] = frozenset()
    classification: int = 0
    compartments: frozenset[str] = frozenset()
    priority: int = 1
    submitted_at: float = 0.0
    strategy: str | None = None

    def __post_init__(self):
        _id(self.task_id, "task_id")
        _int(self.required_agents, "required_agents", 1, MAX_REQUIRED_AGENTS)
        object.__setattr__(self, "capabilities", _names(self.capabilities, "capabilities"))
        object.__setattr__(self, "compartments", _names(self.compartments, "compartments"))
        object.__setattr__(self, "classification",
                           _int(self.classification, "classification", 0, MAX_LEVEL))
        object.__setattr__(self, "priority", _int(self.priority, "priority", 0, 1_000_000))
        at = self.submitted_at
        if isinstance(at, bool) or not isinstance(at, (int, float)) or not math.isfinite(at):
            raise ValueError(f"submitted_at must be a finite number, got {at!r}")
        if self.strategy is not None and self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES} or None, "
                             f"got {self.strategy!r}")


class Assignment(NamedTuple):
    """A gang placement: all ``required_agents`` agents of ``task_id``, never fewer.

    A named tuple, immutable like the specs: a decision builds a thousand of them, each three
    times faster than a frozen dataclass."""

    task_id: str
    agent_ids: tuple[str, ...]


@dataclass
class Decision:
    """The result of one ``Scheduler.decide`` call.

    ``pending``: task ids not placed this round (retry later; aging applies).
    ``rejected``: task id -> reason for tasks that can never be placed with the current fleet;
    the reason starts with a machine-readable code (see ``REJECT_CODES``).
    """

    assignments: list[Assignment] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)
    latency_s: float = 0.0


REJECT_CODES = ("insufficient_eligible_agents", "unknown_capability", "unknown_compartment")
