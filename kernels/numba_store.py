"""The register's store on numpy: the tick is the parallel numba kernel, run in place.

A store is the register's adapter to one backend; ``uqo.engine.register.storage.Store`` is the
protocol (``put``, ``take``, ``run_pairs``, ``run_singles``, each taking and returning the storage
arrays). ``NumbaStore`` keeps numpy arrays, ticks them with ``uqo.kernels.numba_tick`` in place on
the live prefix and writes the diagnostics into buffers kept between ticks (no allocation per
tick once the register stops growing); it also updates observed pair cells in place
(``observe_pairs``), which the register uses where a store has it.
"""

from __future__ import annotations

import importlib.util

import numpy as np

from .tick_inputs import PairInputs, SingleInputs


def numba_available() -> bool:
    return importlib.util.find_spec("numba") is not None


class NumbaStore:
    """numpy storage; the tick is ``uqo.kernels.numba_tick`` run in place on the live prefix."""

    def __init__(self, backend=None):
        self.backend = backend
        self.xp = np if backend is None else backend.xp
        self._out: dict[str, np.ndarray] = {}

    def put(self, arr, idx, values):
        arr[np.asarray(idx)] = values
        return arr

    def take(self, arr, idx):
        return arr[np.asarray(idx)]

    def _buffer(self, kind: str, rows: int, n: int) -> np.ndarray:
        buf = self._out.get(kind)
        if buf is None or buf.shape[1] < n:
            buf = np.empty((rows, n), np.float64)
            self._out[kind] = buf
        return buf

    def observe_pairs(self, rho, s_cell, cells, sites, m0, m1):
        """Lueders updates of distinct pair cells in place (``uqo.kernels.numba_observe``);
        returns the mask of cells whose outcome had probability ~0 (left for the caller)."""
        from .numba_observe import lueders_pairs_inplace

        return lueders_pairs_inplace(rho, s_cell, cells, sites, m0, m1)

    def run_pairs(self, rho, s_cell, n: int, inputs: PairInputs):
        from . import numba_tick as nt

        out = self._buffer("pairs", len(nt.PAIR_KEYS), n)
        nt.pairs_inplace(rho[:n], s_cell[:n], inputs.map_cells(np.ascontiguousarray), out)
        return rho, s_cell, {k: out[i, :n] for i, k in enumerate(nt.PAIR_KEYS)}

    def run_singles(self, rho, s_cell, n: int, inputs: SingleInputs):
        from . import numba_tick as nt

        out = self._buffer("singles", len(nt.SINGLE_KEYS), n)
        nt.singles_inplace(rho[:n], s_cell[:n], inputs.map_cells(np.ascontiguousarray), out)
        return rho, s_cell, {k: out[i, :n] for i, k in enumerate(nt.SINGLE_KEYS)}
