"""The inputs of one tick as one value: each cell's channel strengths and rewards, and the
tick's scalars.

Use cases::

    inputs = PairInputs(p_a=pa, p_b=pb, q_a=qa, q_b=qb, g_a=ga, g_b=gb, c=c, r_a=ra, r_b=rb,
                        coupling_dt=0.05, theta0=math.pi / 4)
    rho, diag = uqo.engine.tick.tick_pairs(rho, s_before, inputs)       # the reference
    rho, diag = jax.jit(uqo.kernels.jax_tick.tick_pairs)(rho, s_before, inputs)
    rho, s, diag = store.run_pairs(rho, s, n, inputs)                   # any register store
    inputs.map_cells(np.ascontiguousarray)                              # every (C,) array

Every tick implementation takes ``(rho, s_before, inputs)``: the reference
(``uqo.engine.tick``), the numba, fused JAX and CUDA kernels' wrappers, and the stores'
``run_pairs`` / ``run_singles``. The symbols are those of the model (docs/engine.md, agent
model): per site ``p`` depolarising, ``q`` dephasing and ``g`` damping probabilities and ``r``
the summed queued reward; per pair cell ``c`` the correlated-failure probability; the scalars
``coupling_dt`` (``J dt`` of the ZZ coupling) and ``theta0`` (rotation per unit reward).
``CELL_FIELDS`` lists the ``(C,)`` arrays in the kernels' row order (the CUDA kernel's packed
``params`` rows). They live in kernels/, the bottom layer, so the kernels can name them without
importing the engine.

JAX: both classes are pytrees (``jax.tree_util.register_dataclass``), every field a leaf, the
scalars too (a new ``dt`` does not recompile a jitted tick). Registering needs jax, and nothing
here imports it: the classes register themselves when this module is imported after jax, or
when a value is built while jax is loaded (``__post_init__``), which covers every value that can
hold a JAX array or reach ``jax.jit`` with jax loaded.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any, ClassVar

_registered = False


def register_pytrees() -> None:
    """Register ``PairInputs`` and ``SingleInputs`` as JAX pytrees (once; imports jax)."""
    global _registered
    if _registered:
        return
    from jax.tree_util import register_dataclass

    for cls in (PairInputs, SingleInputs):
        names = [f.name for f in dataclasses.fields(cls)]
        register_dataclass(cls, data_fields=names, meta_fields=[])
    _registered = True


class TickInputs:
    """What both input kinds share: the per-cell arrays in kernel order, and a map over them."""

    CELL_FIELDS: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        if not _registered and "jax" in sys.modules:
            register_pytrees()

    def per_cell(self) -> tuple:
        """The ``(C,)`` arrays in ``CELL_FIELDS`` order."""
        return tuple(getattr(self, name) for name in self.CELL_FIELDS)

    def map_cells(self, fn):
        """A copy with ``fn`` applied to every ``(C,)`` array (the scalars are kept)."""
        return dataclasses.replace(self, **{name: fn(getattr(self, name))
                                            for name in self.CELL_FIELDS})


@dataclasses.dataclass(frozen=True)
class PairInputs(TickInputs):
    """Inputs of a tick of ``C`` pair cells: sites ``a`` (0) and ``b`` (1) of each cell."""

    p_a: Any          # (C,) depolarising probability of site a
    p_b: Any          # (C,) ... of site b
    q_a: Any          # (C,) dephasing probability of site a
    q_b: Any
    g_a: Any          # (C,) amplitude-damping probability of site a (past its deadline)
    g_b: Any
    c: Any            # (C,) correlated-failure probability of the pair
    r_a: Any          # (C,) summed reward queued for site a, in [-1, 1] (0: none)
    r_b: Any
    coupling_dt: Any  # J dt of the in-pair ZZ coupling (scalar)
    theta0: Any       # rotation per unit reward (scalar)

    CELL_FIELDS: ClassVar[tuple[str, ...]] = ("p_a", "p_b", "q_a", "q_b", "g_a", "g_b", "c",
                                              "r_a", "r_b")


@dataclasses.dataclass(frozen=True)
class SingleInputs(TickInputs):
    """Inputs of a tick of ``C`` single-agent cells."""

    p: Any            # (C,) depolarising probability
    q: Any            # (C,) dephasing probability
    g: Any            # (C,) amplitude-damping probability
    r: Any            # (C,) summed queued reward in [-1, 1]
    theta0: Any       # rotation per unit reward (scalar)

    CELL_FIELDS: ClassVar[tuple[str, ...]] = ("p", "q", "g", "r")


if "jax" in sys.modules:   # imported after jax: register now
    register_pytrees()

__all__ = ["PairInputs", "SingleInputs", "TickInputs", "register_pytrees"]
