"""``AgentRegister``: the register's public face. It checks arguments and hands each job to the
part that owns it (the package docstring lists them); it keeps no state of its own beyond its
configuration.

Use cases::

    reg = AgentRegister(capacity=1_000_000)          # best backend, complex64
    ids = reg.add_pairs(400_000)                     # agents 2i, 2i+1 share a failure domain
    solo = reg.add_singles(200_000)
    reg.heartbeat(ids[:10])                          # seen alive: liveness rises
    reg.observe_outcome(ids[:3], ["success", "failure", "timeout"])   # both factors
    report = reg.tick(1.0)                           # one batched step, diagnostics included
    report.global_coherence, reg.readiness()[ids]    # liveness P(up)
    reg.reliability()[ids], reg.success_probability()[ids]
"""

from __future__ import annotations

import math

import numpy as np

from .. import pairmath as pm
from ..backend import get_backend
from ..tick import TickParams
from .books import KIND_PAIR, Books
from .cells import CellArrays
from .diagnostics import Diagnostics, TickReport
from .observations import OUTCOMES, Observations
from .placement import Placement
from .reliability import ReliabilityCells
from .reliability_reads import ReliabilityReads
from .stepping import Stepper
from .storage import make_store

_DTYPES = {"complex64": np.complex64, "complex128": np.complex128}


class _Via:
    """A register attribute that is an attribute of one of its parts (read and write)."""

    def __init__(self, part: str, name: str | None = None):
        self.part, self.name = part, name

    def __set_name__(self, owner, name: str) -> None:
        self.name = self.name or name

    def __get__(self, obj, objtype=None):
        return self if obj is None else getattr(getattr(obj, self.part), self.name)

    def __set__(self, obj, value) -> None:
        setattr(getattr(obj, self.part), self.name, value)


class AgentRegister(ReliabilityReads):
    """N agents' belief states with the batched tick and the between-tick observations."""

    # the books, host numpy: per agent slot, per pair cell row, per single cell row
    kind, cell, site, last_seen = _Via("_books"), _Via("_books"), _Via("_books"), _Via("_books")
    hazard = _Via("_books")
    pair_agents, single_agent, pair_rate = _Via("_books"), _Via("_books"), _Via("_books")
    _free_slots = _Via("_books", "free_slots")
    # the cell arrays on the backend, and the store that moves them
    rho_pairs, rho_singles = _Via("_cells"), _Via("_cells")
    s_pairs, s_singles = _Via("_cells"), _Via("_cells")
    _store = _Via("_cells", "store")
    # model time and the last tick's report
    now, report = _Via("_stepper"), _Via("_stepper")

    def __init__(self, capacity: int, backend=None, dtype: str = "complex64",
                 params: TickParams | None = None, seed: int = 0, shards="auto"):
        """``shards`` (JAX only): ``"auto"`` shards over every local device when there are
        several; an int ``k`` uses the first ``k`` local devices (1: one block, still through
        the sharded store); None never shards; ``"global"`` shards over every process's
        devices (``jax.devices()``), every process driving its copy of the register
        identically (package docstring; one process: all its devices, even one)."""
        if not isinstance(capacity, (int, np.integer)) or capacity < 1:
            raise ValueError(f"capacity must be a positive int, got {capacity!r}")
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")
        self.params = params or TickParams()
        self.params.validate()
        self.backend = backend if hasattr(backend, "xp") else get_backend(backend)
        self.capacity, self.dtype = int(capacity), _DTYPES[dtype]
        place = self._placement = Placement(self.backend, shards, self.capacity)
        self.mesh, self.shards, self.xp = place.mesh, place.shards, self.backend.xp
        store = make_store(self.backend, mesh=self.mesh)
        self._real = np.float32 if self.dtype == np.complex64 else np.float64
        self._rng = np.random.default_rng(seed)
        npair, nsingle = place.pair_rows.rows, place.single_rows.rows
        self._books = Books(self.capacity, npair, nsingle, self.params.corr_rate,
                            self.params.hazard)
        prm = self.params
        self._rel = ReliabilityCells(self.backend, self.capacity, self.dtype,
                                     prm.reliable_prior, prm.success_unreliable,
                                     prm.success_reliable)
        self._cells = CellArrays(store, place.put, self.dtype, npair, nsingle)
        self._diag = Diagnostics(self._books)
        self._obs = Observations(self._books, self._cells, self._diag, self.params, self._rel)
        self._stepper = Stepper(self._books, place, self._cells, self._diag, self._obs,
                                self.params, self.backend, self._real)

    # ---- membership ---------------------------------------------------------------------
    @property
    def active(self) -> np.ndarray:
        return self._books.active

    @property
    def partner(self) -> np.ndarray:
        return self._books.partner()

    @property
    def n_active(self) -> int:
        return self._books.n_active

    def shard_of(self, ids) -> np.ndarray:
        """Block (position in ``mesh.devices``) holding each agent's cell, int64 ``(n,)``;
        all 0 when not sharded."""
        ids = self._books.check_ids(ids)
        return self._placement.block_of(self.cell[ids], self.kind[ids] == KIND_PAIR)

    def add_pairs(self, n_pairs: int, keys=None) -> np.ndarray:
        """Add ``n_pairs`` failure-domain pairs; returns ids ``(2 n,)``: ``ids[2i], ids[2i+1]``.
        ``keys``: ``2 n`` agent names (str) placing the cells when sharded (pair ``i`` by
        ``keys[2i]``); default: the first agent's id."""
        n_pairs = _count(n_pairs, "n_pairs")
        keys = _check_keys(keys, 2 * n_pairs)
        free = len(self._books.free_slots)
        if 2 * n_pairs > free:
            raise ValueError(f"cannot add {2 * n_pairs} agents: {free} free")
        self._placement.check_room(n_pairs, True, "pairs")
        ids = self._books.take_slots(2 * n_pairs)
        cells = self._placement.take(ids[0::2], None if keys is None else keys[0::2], True)
        self._books.seat_pairs(ids, cells, self.params.corr_rate, self.now)
        self._welcome(ids, cells, pairs=True)
        return ids

    def add_singles(self, n: int, keys=None) -> np.ndarray:
        """Add ``n`` agents held alone; returns their ids ``(n,)``. ``keys``: ``n`` agent names
        (str) placing the cells when sharded; default: the ids."""
        n = _count(n, "n")
        keys = _check_keys(keys, n)
        self._placement.check_room(n, False, "single cells")
        ids = self._books.take_slots(n)
        cells = self._placement.take(ids, keys, False)
        self._books.seat_singles(ids, cells, self.now)
        self._welcome(ids, cells, pairs=False)
        return ids

    def _welcome(self, ids: np.ndarray, cells: np.ndarray, pairs: bool) -> None:
        """New agents know nothing: no queued reward, maximally mixed cells, the prior
        reliability."""
        self._obs.forget(ids)
        self._rel.reset(ids)
        self._diag.reset_agents(ids)
        self._cells.reset(cells, pairs)
        if pairs:
            self._diag.reset_pair_cells(cells)

    def remove(self, ids) -> None:
        """Free agents' slots. A removed agent's partner stays in its pair cell, alone in effect
        (its reduced state is unchanged; the freed site is no longer read)."""
        ids = self._books.check_ids(ids)
        self._obs.flush()
        for pairs, row in self._books.unseat(ids):
            self._placement.release(pairs, row)
        self._diag.clear_agents(ids)
        self._obs.forget(ids)

    # ---- observations and outcomes ---------------------------------------------------------
    def record_outcome(self, ids, rewards) -> None:
        """Queue task outcomes: ``rewards`` in [-1, 1] (success > 0, failure or timeout < 0).
        Several outcomes of one agent before a tick add up (clipped to [-1, 1])."""
        self._obs.record_outcome(self._books.check_ids(ids), rewards)

    def heartbeat(self, ids, now: float | None = None) -> None:
        """Agents seen alive: a weak measurement (Lueders update) and their staleness reset."""
        ids = self._books.check_ids(ids)
        self._obs.heartbeat(ids, self.now if now is None else float(now))

    def observe_outcome(self, ids, outcomes) -> None:
        """Queue task outcomes, ``"success"``, ``"failure"`` (the agent reported it) or
        ``"timeout"`` (no answer) per id: measurements of the agents' liveness and, for those
        that came back, of their reliability (docs/model.md). Unknown names raise and queue
        nothing."""
        ids = self._books.check_ids(ids)
        names = np.broadcast_to(np.asarray(outcomes, dtype=object), ids.shape)
        bad = [x for x in names.tolist() if x not in OUTCOMES]
        if bad:
            raise ValueError(f"outcomes must be one of {sorted(OUTCOMES)}, got {bad[0]!r}")
        self._obs.outcome(ids, np.array([OUTCOMES[x] for x in names.tolist()], np.int8))

    def set_hazard(self, hazard, ids=None) -> None:
        """Lone failure rate(s) per second of ``ids`` (default: every slot, and new agents'):
        the tick damps their liveness toward down at this rate."""
        h = np.asarray(hazard, np.float64)
        if not np.all(np.isfinite(h)) or np.any(h < 0):
            raise ValueError(f"hazard must be finite and >= 0, got {hazard!r}")
        if ids is None:
            self._books.hazard[:] = h
            if h.ndim == 0:
                self._books.default_hazard = float(h)
        else:
            self._books.hazard[self._books.check_ids(ids)] = h

    def observe_failure(self, ids) -> None:
        """Agents observed failed: projective ``|0><0|`` on their site; a pair partner is
        updated through the joint state (its readiness drops if they were correlated)."""
        self._obs.failure(self._books.check_ids(ids))

    def _flush(self, refresh: bool = True) -> None:
        """Apply the queued observations now (``Observations.flush``)."""
        self._obs.flush(refresh)

    # ---- the tick ---------------------------------------------------------------------------
    def tick(self, dt: float) -> TickReport:
        """Advance every cell by ``dt`` seconds of model time; returns the fleet aggregates."""
        if not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
            raise ValueError(f"dt must be a positive finite number, got {dt!r}")
        return self._stepper.tick(dt)

    @property
    def events(self) -> list:
        """Backend events recorded by the store (e.g. a GPU failure that moved the register to
        the CPU); empty when nothing happened."""
        return self._cells.events

    # ---- diagnostics ------------------------------------------------------------------------
    def readiness(self) -> np.ndarray:
        """``p_a = <1|rho_a|1>`` per slot, float32 ``(capacity,)``; 0 for free slots."""
        self._obs.flush()
        return self._diag.ready.copy()

    def entropy(self) -> np.ndarray:
        """Reduced von Neumann entropy (nats) per slot, float32 ``(capacity,)``."""
        self._obs.flush()
        return self._diag.entropy.copy()

    def pair_mutual_information(self) -> np.ndarray:
        """Mutual information (nats) of each agent's pair, float32 ``(capacity,)``; 0 alone."""
        self._obs.flush()
        return self._diag.mi.copy()

    def pair_concurrence(self) -> np.ndarray:
        """Concurrence of each agent's pair cell, float32 ``(capacity,)``; 0 alone."""
        self._obs.flush()
        return self._diag.pair_concurrence()

    def cell_state(self, agent: int) -> np.ndarray:
        """The joint state (host copy) of the cell that holds ``agent``: 4x4 or 2x2."""
        a = int(self._books.check_ids([agent])[0])
        self._obs.flush()
        return self._cells.read([self.cell[a]], self.kind[a] == KIND_PAIR)[0]

    def set_cell_state(self, agent: int, rho) -> None:
        """Overwrite the joint state of ``agent``'s cell (tests, restores). Validated."""
        a = int(self._books.check_ids([agent])[0])
        self._obs.flush()
        pairs = self.kind[a] == KIND_PAIR
        d = 4 if pairs else 2
        rho = np.asarray(rho, dtype=self.dtype)
        if rho.shape != (d, d):
            raise ValueError(f"rho must have shape ({d}, {d}), got {rho.shape}")
        if not np.allclose(rho, rho.conj().T, atol=1e-6) or abs(np.trace(rho) - 1) > 1e-5:
            raise ValueError("rho must be Hermitian with unit trace")
        cell, host = np.array([self.cell[a]]), rho[None]
        entropy = pm.pair_entropy(host) if pairs else pm.qubit_entropy(host)
        self._cells.write(cell, host, entropy, pairs)
        if pairs:
            self._diag.refresh_pairs(cell, host, entropy)
        else:
            self._diag.refresh_singles(np.array([a]), host, entropy)


def _check_keys(keys, n: int):
    if keys is None:
        return None
    keys = list(keys)
    if len(keys) != n or not all(isinstance(k, str) for k in keys):
        raise ValueError(f"keys must be {n} str (one per agent), got {len(keys)} of types "
                         f"{sorted({type(k).__name__ for k in keys})}")
    return keys


def _count(n, name: str) -> int:
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"{name} must be a non-negative int, got {n!r}")
    return int(n)
