"""The fused JAX tick sharded over every visible device (``jax.sharding``).

Use cases::

    mesh = cell_mesh()                                   # 1-D mesh over jax.devices()
    order, block = partition_layout(partition_of_cell, mesh.size)
    tick = sharded_tick_pairs(mesh)                      # jitted, cells split across devices
    rho, diag, agg = tick(rho[order], s[order], *[p[order] for p in params], jdt, theta0)

The tick is elementwise over cells, so each device updates its own block with no communication;
only the fleet aggregates (``agg``: mean normalised purity, total leakage) are a cross-device
reduction, inside the same program. Cells are laid out so that device ``k`` holds the cells of
engine partition ``k`` (the consistent-hash partition of their agents, from the scheduler):
``partition_layout`` builds that order, padding every block to one size with index ``-1`` (the
caller points those at its scratch cell). Several hosts: call ``jax.distributed.initialize()``
first on each; ``jax.devices()`` then lists every host's devices and the same code runs.
"""

from __future__ import annotations

import numpy as np

AXIS = "cells"


def cell_mesh(devices=None):
    """A 1-D ``Mesh`` named ``cells`` over ``devices`` (default: all of ``jax.devices()``)."""
    import jax
    from jax.sharding import Mesh

    devs = np.asarray(jax.devices() if devices is None else devices)
    return Mesh(devs, (AXIS,))


def partition_layout(partition, n_devices: int) -> tuple[np.ndarray, int]:
    """``(order, block)``: cell indices grouped by partition id (``partition[c]`` in
    ``[0, n_devices)``), each group padded with ``-1`` to ``block`` entries, ``block`` the largest
    group rounded up to a multiple of 8. ``order`` has ``n_devices * block`` entries."""
    part = np.asarray(partition)
    if part.ndim != 1 or (part.size and (part.min() < 0 or part.max() >= n_devices)):
        raise ValueError(f"partition must be 1-D ids in [0, {n_devices}), got shape "
                         f"{part.shape} range [{part.min(initial=0)}, {part.max(initial=0)}]")
    groups = [np.flatnonzero(part == k) for k in range(n_devices)]
    block = max(8, -(-max((len(g) for g in groups), default=0) // 8) * 8)
    order = np.full((n_devices, block), -1, np.int64)
    for k, g in enumerate(groups):
        order[k, :len(g)] = g
    return order.reshape(-1), block


def sharded_tick_pairs(mesh):
    """The fused pair tick jitted with the cell axis sharded over ``mesh``. Returns
    ``f(rho, s_before, *params, coupling_dt, theta0) -> (rho, diag, agg)``."""
    import jax
    import jax.numpy as jnp
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    from .jax_tick import tick_pairs

    cells = NamedSharding(mesh, P(AXIS))
    rep = NamedSharding(mesh, P())

    def run(rho, s_before, *rest):
        new, diag = tick_pairs(rho, s_before, *rest)
        agg = {"global_coherence": jnp.mean(diag["npurity"]), "leakage": jnp.sum(diag["leak"])}
        return new, diag, agg

    def f(rho, s_before, *rest):
        params, scalars = rest[:-2], rest[-2:]
        rho = jax.device_put(rho, NamedSharding(mesh, P(AXIS, None, None)))
        s_before = jax.device_put(s_before, cells)
        params = [jax.device_put(p, cells) for p in params]
        return jitted(rho, s_before, *params, *scalars)

    jitted = jax.jit(run, out_shardings=(NamedSharding(mesh, P(AXIS, None, None)), cells, rep))
    return f
