"""The fused JAX tick sharded over devices (``jax.sharding``), and the pieces the agent register
uses to keep its cell arrays sharded.

Use cases::

    mesh = cell_mesh()                                   # 1-D mesh over jax.devices()
    order, block = partition_layout(partition_of_cell, mesh.size)
    tick = sharded_tick_pairs(mesh)                      # jitted, cells split across devices
    idx = np.maximum(order, 0)                           # padding rows: any real cell
    rho, diag, agg = tick(rho[idx], s[idx], inputs.map_cells(lambda p: p[idx]),
                          live=order >= 0)               # agg counts live cells only

    AgentRegister(n, backend="jax", shards="auto")       # the register on every local device
    AgentRegister(n, backend="jax", shards="global")     # on every process's devices (SPMD)

The tick is elementwise over cells, so each device updates its own block with no communication;
only the fleet aggregates (``agg``: mean normalised purity and total leakage over the ``live``
cells, and their count) are a cross-device reduction, inside the same program. Device ``k``
holds a contiguous block of cells: those of engine partition ``k`` (the consistent-hash
partition of their agents, ``uqo.engine.partition``); ``partition_layout`` builds that order,
padding every block to one size with index ``-1``. Several hosts: call
``jax.distributed.initialize()`` on each first; ``jax.devices()`` then lists every host's
devices, each process passes its own blocks (``jax.make_array_from_process_local_data``) and
the same jitted tick runs (``tests/kernels/test_sharding_distributed.py``). The register does
the same with ``shards="global"``: every process runs the same operations on its copy of the
books, and holds only its own devices' blocks of the cell arrays.
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


def cell_sharding(mesh, ndim: int):
    """``NamedSharding`` splitting axis 0 (cells) of an ``ndim``-d array over ``mesh``."""
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    return NamedSharding(mesh, P(AXIS, *([None] * (ndim - 1))))


def local_mesh(shards):
    """The register's mesh for ``shards``: ``"auto"`` -> every local device when there are
    several, else None (no sharding); an int ``k`` >= 1 -> the first ``k`` local devices;
    None -> None; ``"global"`` -> every device of every process (``jax.devices()``; one process:
    its local devices, a mesh even of one). Apart from ``"global"`` the devices are this
    process's: under ``jax.distributed`` an ``"auto"`` register is one process's object (its
    books on this host); a ``"global"`` one is replicated and every process must drive it
    identically (``AgentRegister``)."""
    import jax

    if shards == "global":
        return cell_mesh()
    devices = jax.local_devices()
    if shards is None or (shards == "auto" and len(devices) == 1):
        return None
    if shards == "auto":
        return cell_mesh(devices)
    if isinstance(shards, bool) or not isinstance(shards, (int, np.integer)) or shards < 1:
        raise ValueError(f"shards must be 'auto', 'global', None or an int >= 1, got "
                         f"{shards!r}")
    if shards > len(devices):
        raise ValueError(f"shards={shards} but only {len(devices)} local JAX device(s): "
                         f"{devices}")
    return cell_mesh(devices[:shards])


def place(host, mesh):
    """``host`` (numpy, cells on axis 0, length a multiple of ``mesh.size``) on ``mesh``."""
    return put_cells(host, cell_sharding(mesh, np.ndim(host)))


def put_cells(host, sharding):
    """``host`` (numpy, the same global value in every process) as a ``jax.Array`` with
    ``sharding``. A mesh spanning several processes: each process builds only its addressable
    shards from its copy (``jax.make_array_from_callback``), no communication."""
    import jax

    host = np.asarray(host)
    if sharding.is_fully_addressable:
        return jax.device_put(host, sharding)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


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
    ``f(rho, s_before, inputs, live=None) -> (rho, diag, agg)`` (``inputs`` a ``PairInputs``);
    ``live`` ``(C,)`` bool marks the cells the aggregates count (None: all)."""
    from .jax_tick import tick_pairs

    return _sharded(mesh, tick_pairs)


def sharded_tick_singles(mesh):
    """As ``sharded_tick_pairs`` for ``(C, 2, 2)`` single cells: ``f(rho, s_before, inputs,
    live=None)`` with ``inputs`` a ``SingleInputs``."""
    from .jax_tick import tick_singles

    return _sharded(mesh, tick_singles)


def _sharded(mesh, tick):
    import jax
    import jax.numpy as jnp
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    cells, cells3 = cell_sharding(mesh, 1), cell_sharding(mesh, 3)

    def run(rho, s_before, live, inputs):
        new, diag = tick(rho, s_before, inputs)
        n = jnp.sum(live)
        agg = {"global_coherence": jnp.sum(jnp.where(live, diag["npurity"], 0.0))
               / jnp.maximum(n, 1),
               "leakage": jnp.sum(jnp.where(live, diag["leak"], 0.0)), "cells": n}
        return new, diag, agg

    jitted = jax.jit(run, out_shardings=(cells3, cells, NamedSharding(mesh, P())))

    def f(rho, s_before, inputs, live=None):
        if live is None:
            live = np.ones(rho.shape[0], bool)
        s_before, live = (jax.device_put(x, cells) for x in (s_before, live))
        inputs = inputs.map_cells(lambda x: jax.device_put(x, cells))
        return jitted(jax.device_put(rho, cells3), s_before, live, inputs)

    return f
