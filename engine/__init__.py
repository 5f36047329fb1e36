"""uqo.engine: batched quantum-state operations on numpy, JAX and CuPy arrays.

Every function takes its array namespace from its arguments (array-api-compat), so the same call
works on every backend; see docs/engine-ops.md for shapes, dtypes and examples.
"""

from .channels import amplitude_damping, apply_kraus, dephasing, depolarizing
from .coherence import l1_coherence, relative_entropy_coherence
from .correlation import Correlation, correlation_matrix
from .entropy import (
    concurrence,
    entanglement_entropy,
    fidelity,
    mutual_information,
    negativity,
    von_neumann_entropy,
)
from .evolution import apply_unitary, evolve, iqft, propagator, qft, split_step
from .measurement import measure, weak_measure
from .register import AgentRegister, TickReport
from .states import expectation, inner, normalise, partial_trace, purity, to_density
from .tick import TickParams

__all__ = [
    "AgentRegister",
    "Correlation",
    "TickParams",
    "TickReport",
    "amplitude_damping",
    "apply_kraus",
    "apply_unitary",
    "concurrence",
    "correlation_matrix",
    "dephasing",
    "depolarizing",
    "entanglement_entropy",
    "evolve",
    "expectation",
    "fidelity",
    "inner",
    "iqft",
    "l1_coherence",
    "measure",
    "mutual_information",
    "negativity",
    "normalise",
    "partial_trace",
    "propagator",
    "purity",
    "qft",
    "relative_entropy_coherence",
    "split_step",
    "to_density",
    "von_neumann_entropy",
    "weak_measure",
]
