"""The register's stores on JAX: jitted scatters and ticks that donate their input buffers, on
one device (``JaxStore``) or with every cell array split over a device mesh
(``ShardedJaxStore``). Both implement ``uqo.engine.register.storage.Store``. Importing this
module imports no jax; building a store does.

The tick's inputs cross ``jax.jit`` as one pytree argument (``PairInputs`` / ``SingleInputs``,
``uqo.kernels.tick_inputs``), every field traced: a new ``dt`` does not recompile.
"""

from __future__ import annotations

from functools import partial

import numpy as np
from uqo.kernels.tick_inputs import PairInputs, SingleInputs, register_pytrees

from ..backend import Backend
from ..tick import tick_pairs, tick_singles
from .storage import bucket


def _jax_put(arr, idx, values):
    return arr.at[idx].set(values)


def _jax_run(tick, n, rho, s_cell, inputs):
    import jax

    new, diag = tick(rho[:n], s_cell[:n], inputs)
    rho = jax.lax.dynamic_update_slice_in_dim(rho, new, 0, axis=0)
    s_cell = jax.lax.dynamic_update_slice_in_dim(s_cell, diag["s_cell"], 0, axis=0)
    return rho, s_cell, {k: v.astype("float32") for k, v in diag.items()}


class JaxStore:
    """JAX: jitted functions with donated buffers; scatter sizes padded to powers of two (the
    padding points at the scratch cell, the last row of every cell array). ``pairs_fn`` and
    ``singles_fn`` are the tick functions to compile (default: the generic reference; the fused
    versions of ``uqo.kernels.jax_tick`` have the same signature)."""

    def __init__(self, backend: Backend, pairs_fn=tick_pairs, singles_fn=tick_singles):
        import jax

        register_pytrees()
        self.backend = backend
        self.xp = backend.xp
        self._put = jax.jit(_jax_put, donate_argnums=(0,))
        self._pairs = jax.jit(partial(_jax_run, pairs_fn), static_argnums=(0,),
                              donate_argnums=(1, 2))
        self._singles = jax.jit(partial(_jax_run, singles_fn), static_argnums=(0,),
                                donate_argnums=(1, 2))

    def _pad(self, arr, idx, values):
        idx = np.asarray(idx, dtype=np.int32)
        n = len(idx)
        m = bucket(n, 1 << 62, floor=16)
        if m == n:
            return idx, values
        scratch = arr.shape[0] - 1
        pad_idx = np.concatenate([idx, np.full(m - n, scratch, np.int32)])
        vals = self.xp.asarray(values)
        filler = self.xp.broadcast_to(arr[scratch], (m - n,) + tuple(arr.shape[1:]))
        return pad_idx, self.xp.concatenate([vals.astype(arr.dtype), filler], axis=0)

    def put(self, arr, idx, values):
        idx, values = self._pad(arr, idx, values)
        return self._put(arr, self.xp.asarray(idx), self.xp.asarray(values, dtype=arr.dtype))

    def take(self, arr, idx):
        return self.xp.take(arr, self.xp.asarray(np.asarray(idx, dtype=np.int32)), axis=0)

    def run_pairs(self, rho, s_cell, n: int, inputs: PairInputs):
        return self._pairs(n, rho, s_cell, inputs.map_cells(self.xp.asarray))

    def run_singles(self, rho, s_cell, n: int, inputs: SingleInputs):
        return self._singles(n, rho, s_cell, inputs.map_cells(self.xp.asarray))


def _jax_take(arr, idx):
    return arr[idx]


def _sharded_run(tick, rho, s_cell, inputs):
    new, diag = tick(rho, s_cell, inputs)
    return new, diag["s_cell"], {k: v.astype("float32") for k, v in diag.items()}


class ShardedJaxStore(JaxStore):
    """JAX with every cell array split over a 1-D ``mesh`` (``uqo.kernels.sharding``): device
    ``k`` holds rows ``[k B, (k + 1) B)``. Every result keeps that sharding. The tick runs on
    whole arrays (``n`` must be their length): each device updates its block, no communication.
    Scatters are padded to powers of two by repeating their first entry (same index, same
    value), so the scratch row is never read.

    A mesh spanning several processes (``jax.distributed``; every process calls the same
    methods with the same host arguments): the tick's diagnostics and ``take`` come back
    replicated on every device (an all-gather inside the same program), so each process can
    read them; each process builds only its own blocks of the host arrays it places. One
    process: they stay sharded, as before."""

    def __init__(self, backend: Backend, pairs_fn=tick_pairs, singles_fn=tick_singles, *, mesh):
        import jax
        from jax.sharding import NamedSharding
        from jax.sharding import PartitionSpec as P
        from uqo.kernels.sharding import cell_sharding

        register_pytrees()
        self.backend, self.xp, self.mesh = backend, backend.xp, mesh
        self._cells = {nd: cell_sharding(mesh, nd) for nd in (1, 2, 3)}
        # None: every block is in this process, results are read as they are
        self._everywhere = (None if self._cells[1].is_fully_addressable
                            else NamedSharding(mesh, P()))
        self._puts = {nd: jax.jit(_jax_put, donate_argnums=(0,), out_shardings=sh)
                      for nd, sh in self._cells.items()}
        outs = (self._cells[3], self._cells[1], self._everywhere or self._cells[1])
        self._pairs = jax.jit(partial(_sharded_run, pairs_fn), donate_argnums=(0, 1),
                              out_shardings=outs)
        self._singles = jax.jit(partial(_sharded_run, singles_fn), donate_argnums=(0, 1),
                                out_shardings=outs)
        if self._everywhere is not None:
            self._take = jax.jit(_jax_take, out_shardings=self._everywhere)

    def put(self, arr, idx, values):
        idx = np.asarray(idx, dtype=np.int32)
        if len(idx) == 0:
            return arr
        values = np.asarray(values, dtype=arr.dtype)
        m = bucket(len(idx), 1 << 62, floor=16)
        pad = np.zeros(m - len(idx), np.int64)
        return self._puts[arr.ndim](arr, np.concatenate([idx, idx[pad]]),
                                    np.concatenate([values, values[pad]]))

    def take(self, arr, idx):
        """Rows ``idx`` of ``arr``; over several processes a numpy copy read in every process
        (the gather is padded to a power of two like ``put``)."""
        if self._everywhere is None:
            return super().take(arr, idx)
        idx = np.asarray(idx, dtype=np.int32)
        n = len(idx)
        if n == 0:
            return np.zeros((0,) + tuple(arr.shape[1:]), arr.dtype)
        pad = np.zeros(bucket(n, 1 << 62, floor=16) - n, np.int64)
        return np.asarray(self._take(arr, np.concatenate([idx, idx[pad]])))[:n]

    def _tick(self, fn, rho, s_cell, n, inputs):
        from uqo.kernels.sharding import put_cells

        if n != rho.shape[0]:
            raise ValueError(f"a sharded tick runs on every cell: n must be {rho.shape[0]}, "
                             f"got {n}")
        return fn(rho, s_cell, inputs.map_cells(lambda a: put_cells(a, self._cells[1])))

    def run_pairs(self, rho, s_cell, n: int, inputs: PairInputs):
        return self._tick(self._pairs, rho, s_cell, n, inputs)

    def run_singles(self, rho, s_cell, n: int, inputs: SingleInputs):
        return self._tick(self._singles, rho, s_cell, n, inputs)


__all__ = ["JaxStore", "ShardedJaxStore"]
