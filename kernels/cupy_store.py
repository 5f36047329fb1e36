"""The register's store on CuPy: state stays on the device, the tick is the CUDA kernel.

One of the register's stores (protocol: ``uqo.engine.register.storage.Store``).

Per live-prefix size ``n`` (the register rounds it to powers of two, so there are few) the store
keeps its device buffers: packed parameters ``(K, n)`` float32, the live mask, the diagnostics
``(K, n)`` float32 and the aggregate sums. A tick then allocates nothing: one host->device copy
of the parameters, one kernel, and the diagnostics the register reads back. CuPy's memory pool
serves the first allocation of each size.
"""

from __future__ import annotations

from . import cupy_tick as ct
from .tick_inputs import PairInputs, SingleInputs


class CupyStore:
    """CuPy arrays updated in place; ``run_pairs``/``run_singles`` launch ``tick.cu``."""

    def __init__(self, backend):
        import cupy

        self.backend, self.xp, self._cp = backend, backend.xp, cupy
        self._bufs: dict[tuple, tuple] = {}

    def put(self, arr, idx, values):
        arr[self._cp.asarray(idx)] = self._cp.asarray(values, dtype=arr.dtype)
        return arr

    def take(self, arr, idx):
        return arr[self._cp.asarray(idx)]

    def _buffers(self, kind: str, rows: int, n_agg: int, n: int) -> tuple:
        key = (kind, n)
        if key not in self._bufs:
            cp = self._cp
            self._bufs[key] = (cp.empty((rows, n), cp.float32), cp.ones(n, cp.uint8),
                               cp.empty((rows, n), cp.float32), cp.zeros(n_agg, cp.float64))
        return self._bufs[key]

    def run_pairs(self, rho, s_cell, n: int, inputs: PairInputs):
        params, live, out, agg = self._buffers("pairs", len(ct.PAIR_KEYS),
                                               len(ct.PAIR_AGGREGATES), n)
        params.set(ct.pack(inputs))
        ct.pairs_inplace(rho[:n], s_cell[:n], params, live, inputs.coupling_dt, inputs.theta0,
                         out, agg)
        return rho, s_cell, {k: out[i] for i, k in enumerate(ct.PAIR_KEYS)}

    def run_singles(self, rho, s_cell, n: int, inputs: SingleInputs):
        params, live, out, agg = self._buffers("singles", len(ct.SINGLE_KEYS),
                                               len(ct.SINGLE_AGGREGATES), n)
        params.set(ct.pack(inputs))
        ct.singles_inplace(rho[:n], s_cell[:n], params, live, inputs.theta0, out, agg)
        return rho, s_cell, {k: out[i] for i, k in enumerate(ct.SINGLE_KEYS)}
