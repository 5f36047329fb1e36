"""The register's reliability qubits: one ``(2, 2)`` state per agent slot, on the backend.

Use cases (the register does this; docs/model.md has the maps)::

    rel = ReliabilityCells(backend, capacity, np.complex64, p0=0.9)
    rel.reset(ids)                              # new agents: the prior diag(1 - p0, p0)
    rel.outcome(ids, success)                   # queued: effects diag(s0, s1) or diag(1-s0, 1-s1)
    rel.tick(n, gamma, p_star)                  # applies the queue, drifts, diagnostics
    rel.ready, rel.entropy                      # host float32 per slot: P(reliable), S(rho)

Outcomes queue as one diagonal effect per agent (the product of its outcomes' effects:
diagonal effects commute, so order within a tick does not matter) and are applied before the
next tick or read. Where the work runs: numpy, the numba loops of
``uqo.kernels.numba_reliability`` in place; JAX, the reference maps jitted into one program;
CuPy, the CUDA kernels of ``tick.cu`` (``uqo.kernels.cupy_tick``), one thread per qubit.
"""

from __future__ import annotations

import numpy as np

from .. import reliability as ref
from ..backend import to_numpy


class ReliabilityCells:
    def __init__(self, backend, capacity: int, dtype, p0: float, s0: float, s1: float):
        self.backend, self.capacity, self.dtype = backend, int(capacity), dtype
        self.p0, self.s0, self.s1 = float(p0), float(s0), float(s1)
        self.name = getattr(backend, "name", "numpy")
        host = np.zeros((self.capacity, 2, 2), dtype)
        host[:, 0, 0], host[:, 1, 1] = 1.0 - self.p0, self.p0
        self.rho = host if self.name == "numpy" else backend.asarray(host)
        self.ready = np.full(self.capacity, self.p0, np.float32)
        self.entropy = ref.qubit_entropy(host[:1]).astype(np.float32).repeat(self.capacity)
        self._log_e0 = np.zeros(self.capacity)   # queued effects, as sums of logs
        self._log_e1 = np.zeros(self.capacity)
        self._pending: list[np.ndarray] = []
        self._jit = None
        if self.name == "cupy":             # the kernel's outputs, allocated once
            xp = backend.xp
            self._ready_dev = xp.zeros(self.capacity, dtype=xp.float32)
            self._entropy_dev = xp.zeros(self.capacity, dtype=xp.float32)

    # ---- membership and evidence --------------------------------------------------------
    def reset(self, ids: np.ndarray) -> None:
        """``ids`` start from the prior, with nothing queued."""
        ids = np.asarray(ids, np.int64)
        if len(ids) == 0:
            return
        self._log_e0[ids], self._log_e1[ids] = 0.0, 0.0
        prior = np.zeros((len(ids), 2, 2), self.dtype)
        prior[:, 0, 0], prior[:, 1, 1] = 1.0 - self.p0, self.p0
        self._write(ids, prior)
        self.ready[ids] = self.p0
        self.entropy[ids] = self.entropy_of_prior()

    def entropy_of_prior(self) -> float:
        p = min(max(self.p0, 1e-12), 1 - 1e-12)
        return float(-(p * np.log(p) + (1 - p) * np.log(1 - p)))

    def outcome(self, ids: np.ndarray, success: np.ndarray) -> None:
        """Queue task outcomes: ``success`` bool per id (ids may repeat)."""
        ids = np.asarray(ids, np.int64)
        e0, e1 = ref.outcome_effects(np.asarray(success, bool), self.s0, self.s1)
        with np.errstate(divide="ignore"):
            np.add.at(self._log_e0, ids, np.log(e0))
            np.add.at(self._log_e1, ids, np.log(e1))
        self._pending.append(ids)

    @property
    def queued(self) -> bool:
        return bool(self._pending)

    def flush(self) -> None:
        """Apply the queued outcome effects (and refresh the touched agents' diagnostics)."""
        if not self._pending:
            return
        ids = np.unique(np.concatenate(self._pending))
        self._pending = []
        l0, l1 = self._log_e0[ids], self._log_e1[ids]
        top = np.maximum(l0, l1)                   # products of many effects underflow; only
        top = np.where(np.isfinite(top), top, 0.0)  # their ratio matters: scale the larger to 1
        e0, e1 = np.exp(l0 - top), np.exp(l1 - top)
        self._log_e0[ids], self._log_e1[ids] = 0.0, 0.0
        if self.name == "numpy":
            from uqo.kernels import numba_reliability as nr

            bad = nr.observe(self.rho, ids, e0, e1)
        elif self.name == "cupy":
            bad = self._observe_cupy(ids, e0, e1)
        else:
            bad = np.ones(len(ids), bool)            # JAX: the reference, on the host rows
        host = to_numpy(self.rho[ids]) if self.name != "numpy" else self.rho[ids]
        if bad.any():
            host = np.array(host)
            host[bad] = ref.lueders_diagonal(host[bad], e0[bad], e1[bad])
            self._write(ids[bad], host[bad])
        self.ready[ids] = np.real(host[:, 1, 1])
        self.entropy[ids] = ref.qubit_entropy(host)

    # ---- the tick -----------------------------------------------------------------------
    def tick(self, n: int, gamma: float, p_star: float) -> None:
        """Queued outcomes, then drift of rows ``[0, n)`` and their diagnostics."""
        self.flush()
        if n <= 0:
            return
        if self.name == "numpy":
            from uqo.kernels import numba_reliability as nr

            nr.tick(self.rho, n, gamma, p_star, self.ready, self.entropy)
            return
        if self.name == "cupy":
            from uqo.kernels import cupy_tick as ct

            ct.reliability_inplace(self.rho, n, gamma, p_star, self._ready_dev,
                                   self._entropy_dev)
            self.ready[:n] = to_numpy(self._ready_dev)[:n]
            self.entropy[:n] = to_numpy(self._entropy_dev)[:n]
            return
        fn = self._program()
        self.rho, ready, entropy = fn(self.rho, n, gamma, p_star)
        self.ready[:n] = to_numpy(ready)[:n]
        self.entropy[:n] = to_numpy(entropy)[:n]

    def _program(self):
        if self._jit is None:
            self._jit = _jax_program()
        return self._jit

    def _observe_cupy(self, ids, e0, e1) -> np.ndarray:
        from uqo.kernels import cupy_tick as ct

        xp = self.backend.xp
        bad = xp.zeros(len(ids), dtype=xp.uint8)
        ct.reliability_observe(self.rho, xp.asarray(ids, dtype=xp.int64),
                               xp.asarray(e0, dtype=xp.float64),
                               xp.asarray(e1, dtype=xp.float64), bad)
        return to_numpy(bad).astype(bool)

    def to_host(self) -> None:
        """Move to host numpy (the register's cells failed over to the CPU). A device that
        can no longer be read loses what it held: every qubit restarts from the prior, as the
        failover restarts unreadable liveness cells maximally mixed."""
        if self.name == "numpy":
            return
        from uqo.kernels.failover import is_device_failure

        try:
            host = np.array(to_numpy(self.rho), order="C")          # writable for numba
        except Exception as exc:
            if not is_device_failure(exc):
                raise
            host = np.zeros((self.capacity, 2, 2), self.dtype)
            host[:, 0, 0], host[:, 1, 1] = 1.0 - self.p0, self.p0
            self.ready[:], self.entropy[:] = self.p0, self.entropy_of_prior()
        self.rho, self.name, self._jit, self.backend = host, "numpy", None, None

    # ---- single states ------------------------------------------------------------------
    def state(self, agent: int) -> np.ndarray:
        self.flush()
        return to_numpy(self.rho[agent:agent + 1])[0]

    def set_state(self, agent: int, rho: np.ndarray) -> None:
        self.flush()
        host = np.asarray(rho, self.dtype)[None]
        self._write(np.array([agent]), host)
        self.ready[agent] = np.real(host[0, 1, 1])
        self.entropy[agent] = ref.qubit_entropy(host)[0]

    def _write(self, ids: np.ndarray, host: np.ndarray) -> None:
        if self.name == "numpy":
            self.rho[ids] = host
        elif self.name == "jax":
            self.rho = self.rho.at[self.backend.asarray(ids)].set(self.backend.asarray(host))
        else:
            self.rho[self.backend.asarray(ids)] = self.backend.asarray(host)


def _step(xp, rho, n, gamma, p_star):
    """The reference tick on one backend: drift of every row (rows past ``n`` are drifted too,
    harmlessly: they are free slots, reset before use), diagnostics."""
    new = ref.drift(rho, gamma, p_star)
    tr = xp.real(new[:, 0, 0] + new[:, 1, 1])
    new = new / xp.astype(tr, new.dtype)[:, None, None]
    return new, ref.reliability(new), ref.qubit_entropy(new)


def _jax_program():
    import jax
    import jax.numpy as jnp

    step = jax.jit(lambda rho, gamma, p_star: _step(jnp, rho, 0, gamma, p_star),
                   donate_argnums=0)
    return lambda rho, n, gamma, p_star: step(rho, gamma, p_star)

