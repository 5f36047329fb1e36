"""The agent register: one belief state per agent, held as a structure of arrays on a backend.

Use cases::

    reg = AgentRegister(capacity=1_000_000)          # best backend, complex64
    ids = reg.add_pairs(400_000)                     # agents 2i, 2i+1 share a failure domain
    solo = reg.add_singles(200_000)
    reg.heartbeat(ids[:10])                          # seen alive: readiness rises
    reg.record_outcome(ids[:5], [1, 1, -1, 0.5, 1])  # applied at the next tick
    report = reg.tick(1.0)                           # one batched step, diagnostics included
    report.global_coherence, reg.readiness()[ids]

Storage (physical meaning lives in ``tick.py``; this module only keeps books): pair cells
``(P + 1, 4, 4)`` and single cells ``(S + 1, 2, 2)`` on the backend (the last row of each is a
scratch cell used as padding), per-cell entropies on the backend, and host numpy arrays for the
agent <-> cell maps, staleness clocks and the per-agent diagnostics of the last tick. Slots are
stable: an agent id is an index in ``[0, capacity)`` until it is removed.

Observations (heartbeats, failures) are queued and applied in arrival order before the next
tick or the next read of a diagnostic, in one batched scatter per round (round k applies the
k-th event of every cell), so a burst of heartbeats costs one device update, not one each.

Sharding (JAX, ``shards``; docs/gpu.md): the cell arrays are split over a 1-D mesh of local
devices, ``shards`` equal contiguous blocks of rows, block ``k`` on device ``k``. A new cell
goes to the block of its consistent-hash partition (``uqo.engine.partition.HashRing.owner``)
of a key: ``keys`` given to ``add_pairs`` / ``add_singles`` (agent names, one per agent), else
the agent id as a decimal string. A pair cell follows its first agent's key. When that block
has no free cell the cell goes to the next block with one clockwise on the ring (the walk of
consistent hashing with bounded loads); ``shard_of`` says where each agent is. The tick runs on
every row (each device its block); results equal the one-device register's.

Several hosts (``shards="global"`` after ``jax.distributed.initialize``), in JAX's
multi-controller (SPMD) style: every process builds the same register and makes the same calls
in the same order, reads included (a read may flush queued observations to the devices). In
uqo that order is the replicated command log's, which every replica applies in log order
anyway. The host books (ids, cells, rates, per-agent diagnostics) are then identical in every
process; the cell arrays are global ``jax.Array``s over the devices of all processes, each
process holding only its own devices' blocks. The tick's per-cell diagnostics and the cells an
observation or ``cell_state`` reads are gathered to every process inside the jitted programs
(collectives: a process that skips a call leaves the others waiting).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from . import pairmath as pm
from .backend import get_backend, to_numpy
from .geometry import Geometry
from .observe import lueders_pairs, lueders_singles
from .partition import CellBlocks, HashRing
from .store import bucket, make_store
from .tick import TickParams

_KIND_FREE, _KIND_SINGLE, _KIND_PAIR = 0, 1, 2
_DTYPES = {"complex64": np.complex64, "complex128": np.complex128}


@dataclass(frozen=True)
class TickReport:
    """Fleet aggregates of one tick (plain floats)."""

    global_coherence: float
    mean_entropy: float
    mean_readiness: float
    mean_pair_mi: float
    mean_concurrence: float
    leakage: float
    n_agents: int
    n_pairs: int
    duration_s: float
    time: float


class AgentRegister:
    """N agents' belief states with the batched tick and the between-tick observations."""

    def __init__(self, capacity: int, backend=None, dtype: str = "complex64",
                 params: TickParams | None = None, seed: int = 0, shards="auto"):
        """``shards`` (JAX only): ``"auto"`` shards over every local device when there are
        several; an int ``k`` uses the first ``k`` local devices (1: one block, still through
        the sharded store); None never shards; ``"global"`` shards over every process's
        devices (``jax.devices()``), every process driving its copy of the register
        identically (module docstring; one process: all its devices, even one)."""
        if not isinstance(capacity, (int, np.integer)) or capacity < 1:
            raise ValueError(f"capacity must be a positive int, got {capacity!r}")
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")
        self.params = params or TickParams()
        self.params.validate()
        self.backend = backend if hasattr(backend, "xp") else get_backend(backend)
        self.capacity, self.dtype = int(capacity), _DTYPES[dtype]
        self.mesh = _mesh(self.backend, shards)
        self.xp, self._store = self.backend.xp, make_store(self.backend, mesh=self.mesh)
        self.shards = 1 if self.mesh is None else self.mesh.size
        self._real = np.float32 if self.dtype == np.complex64 else np.float64
        self.now, self.report = 0.0, None
        self._rng = np.random.default_rng(seed)
        self._init_books()
        self._init_device()

    # ---- construction -------------------------------------------------------------------
    def _init_books(self) -> None:
        n, k = self.capacity, self.shards
        ring = HashRing(k) if k > 1 else None
        self._pair_rows, self._single_rows = CellBlocks(n // 2, k, ring), CellBlocks(n, k, ring)
        npair, nsingle = self._pair_rows.rows, self._single_rows.rows
        self.kind = np.zeros(n, np.int8)
        self.cell = np.full(n, -1, np.int64)
        self.site = np.zeros(n, np.int8)
        self.last_seen = np.zeros(n, np.float64)
        self.pair_agents = np.full((npair, 2), -1, np.int64)
        self.single_agent = np.full(nsingle, -1, np.int64)
        self.pair_rate = np.full(npair, self.params.corr_rate, np.float64)
        self._rewards = np.zeros(n, np.float64)
        self._events: list[tuple[np.ndarray, int]] = []  # (agent ids, 0 heartbeat | 1 failure)
        self._free_slots = list(range(n - 1, -1, -1))
        self._pair_hw = self._single_hw = 0
        self._membership, self._geo = 0, {}   # membership version; cached tick geometry
        self._ready = np.zeros(n, np.float32)
        self._entropy = np.zeros(n, np.float32)
        self._mi = np.zeros(n, np.float32)
        self._conc = np.zeros(npair, np.float32)

    def _init_device(self) -> None:
        npair, nsingle = len(self.pair_rate), len(self.single_agent)
        if self.mesh is None:
            put = self.xp.asarray
        else:
            from uqo.kernels.sharding import place

            def put(host):
                return place(host, self.mesh)
        mixed4 = np.broadcast_to(np.eye(4, dtype=self.dtype) / 4, (npair, 4, 4))
        mixed2 = np.broadcast_to(np.eye(2, dtype=self.dtype) / 2, (nsingle, 2, 2))
        self.rho_pairs = put(np.ascontiguousarray(mixed4))
        self.rho_singles = put(np.ascontiguousarray(mixed2))
        self.s_pairs = put(np.full(npair, math.log(4.0)))
        self.s_singles = put(np.full(nsingle, math.log(2.0)))

    # ---- membership ---------------------------------------------------------------------
    @property
    def active(self) -> np.ndarray:
        return self.kind != _KIND_FREE

    @property
    def partner(self) -> np.ndarray:
        out = np.full(self.capacity, -1, np.int64)
        paired = np.flatnonzero(self.kind == _KIND_PAIR)
        agents = self.pair_agents[self.cell[paired]]
        out[paired] = np.where(agents[:, 0] == paired, agents[:, 1], agents[:, 0])
        return out

    @property
    def n_active(self) -> int:
        return self.capacity - len(self._free_slots)

    def _take_slots(self, n: int, pool: list, what: str) -> np.ndarray:
        if n > len(pool):
            raise ValueError(f"cannot add {n} {what}: only {len(pool)} free (capacity "
                             f"{self.capacity})")
        out = np.array([pool.pop() for _ in range(n)], dtype=np.int64)
        return out

    def _check_room(self, n: int, rows: CellBlocks, what: str) -> None:
        if n > rows.free():
            raise ValueError(f"cannot add {n} {what}: only {rows.free()} free (capacity "
                             f"{self.capacity})")

    def _take_cells(self, first: np.ndarray, keys, rows: CellBlocks) -> np.ndarray:
        """Rows for the cells of new agents; ``first``: the agent whose key places each cell."""
        if rows.ring is not None and keys is None:
            keys = [str(a) for a in first.tolist()]
        return rows.take(len(first), keys)

    def shard_of(self, ids) -> np.ndarray:
        """Block (position in ``mesh.devices``) holding each agent's cell, int64 ``(n,)``;
        all 0 when not sharded."""
        ids = self._check_ids(ids)
        pairs = self.kind[ids] == _KIND_PAIR
        return np.where(pairs, self._pair_rows.block_of(self.cell[ids]),
                        self._single_rows.block_of(self.cell[ids]))

    def add_pairs(self, n_pairs: int, keys=None) -> np.ndarray:
        """Add ``n_pairs`` failure-domain pairs; returns ids ``(2 n,)``: ``ids[2i], ids[2i+1]``.
        ``keys``: ``2 n`` agent names (str) placing the cells when sharded (pair ``i`` by
        ``keys[2i]``); default: the first agent's id."""
        n_pairs = _count(n_pairs, "n_pairs")
        keys = _check_keys(keys, 2 * n_pairs)
        if 2 * n_pairs > len(self._free_slots):
            raise ValueError(f"cannot add {2 * n_pairs} agents: {len(self._free_slots)} free")
        self._check_room(n_pairs, self._pair_rows, "pairs")
        ids = self._take_slots(2 * n_pairs, self._free_slots, "agents")
        cells = self._take_cells(ids[0::2], None if keys is None else keys[0::2],
                                 self._pair_rows)
        self.kind[ids], self.cell[ids] = _KIND_PAIR, np.repeat(cells, 2)
        self.site[ids] = np.tile([0, 1], n_pairs)
        self.pair_agents[cells] = ids.reshape(-1, 2)
        self.pair_rate[cells] = self.params.corr_rate
        self._reset_agents(ids)
        self._reset_cells(cells, pairs=True)
        self._pair_hw = max(self._pair_hw, int(cells.max(initial=-1)) + 1)
        self._membership += 1
        return ids

    def add_singles(self, n: int, keys=None) -> np.ndarray:
        """Add ``n`` agents held alone; returns their ids ``(n,)``. ``keys``: ``n`` agent names
        (str) placing the cells when sharded; default: the ids."""
        n = _count(n, "n")
        keys = _check_keys(keys, n)
        self._check_room(n, self._single_rows, "single cells")
        ids = self._take_slots(n, self._free_slots, "agents")
        cells = self._take_cells(ids, keys, self._single_rows)
        self.kind[ids], self.cell[ids], self.site[ids] = _KIND_SINGLE, cells, 0
        self.single_agent[cells] = ids
        self._reset_agents(ids)
        self._reset_cells(cells, pairs=False)
        self._single_hw = max(self._single_hw, int(cells.max(initial=-1)) + 1)
        self._membership += 1
        return ids

    def remove(self, ids) -> None:
        """Free agents' slots. A removed agent's partner stays in its pair cell, alone in effect
        (its reduced state is unchanged; the freed site is no longer read)."""
        ids = self._check_ids(ids)
        self._flush()
        for a in ids.tolist():
            kind, cell = self.kind[a], self.cell[a]
            if kind == _KIND_PAIR:
                self.pair_agents[cell, self.site[a]] = -1
                if (self.pair_agents[cell] < 0).all():
                    self._pair_rows.release(cell)
            else:
                self.single_agent[cell] = -1
                self._single_rows.release(cell)
            self.kind[a], self.cell[a] = _KIND_FREE, -1
            self._free_slots.append(a)
        self._ready[ids] = self._entropy[ids] = self._mi[ids] = 0.0
        self._rewards[ids] = 0.0
        self._membership += 1

    def _reset_agents(self, ids: np.ndarray) -> None:
        self.last_seen[ids] = self.now
        self._rewards[ids] = 0.0
        self._ready[ids], self._entropy[ids], self._mi[ids] = 0.5, math.log(2.0), 0.0

    def _reset_cells(self, cells: np.ndarray, pairs: bool) -> None:
        if len(cells) == 0:
            return
        d = 4 if pairs else 2
        mixed = np.broadcast_to(np.eye(d, dtype=self.dtype) / d, (len(cells), d, d))
        ent = np.full(len(cells), math.log(d))
        if pairs:
            self.rho_pairs = self._store.put(self.rho_pairs, cells, mixed)
            self.s_pairs = self._store.put(self.s_pairs, cells, ent)
            self._conc[cells] = 0.0
        else:
            self.rho_singles = self._store.put(self.rho_singles, cells, mixed)
            self.s_singles = self._store.put(self.s_singles, cells, ent)

    def _check_ids(self, ids) -> np.ndarray:
        arr = np.atleast_1d(np.asarray(ids))
        if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            raise ValueError(f"ids must be a 1-D array of ints, got shape {arr.shape} "
                             f"dtype {arr.dtype}")
        arr = arr.astype(np.int64)
        bad = arr[(arr < 0) | (arr >= self.capacity)]
        if bad.size == 0:
            bad = arr[self.kind[arr] == _KIND_FREE]
        if bad.size:
            raise ValueError(f"ids contains {bad.size} unknown agent id(s), e.g. {int(bad[0])}")
        return arr

    # ---- observations and outcomes ---------------------------------------------------------
    def record_outcome(self, ids, rewards) -> None:
        """Queue task outcomes: ``rewards`` in [-1, 1] (success > 0, failure or timeout < 0).
        Several outcomes of one agent before a tick add up (clipped to [-1, 1])."""
        ids = self._check_ids(ids)
        r = np.broadcast_to(np.asarray(rewards, dtype=np.float64), ids.shape)
        if not np.all(np.isfinite(r)) or np.any(np.abs(r) > 1):
            raise ValueError(f"rewards must be finite and in [-1, 1], got shape {r.shape} "
                             f"with values outside")
        np.add.at(self._rewards, ids, r)

    def heartbeat(self, ids, now: float | None = None) -> None:
        """Agents seen alive: a weak measurement (Lueders update) and their staleness reset."""
        ids = self._check_ids(ids)
        self.last_seen[ids] = self.now if now is None else float(now)
        self._events.append((ids, 0))

    def observe_failure(self, ids) -> None:
        """Agents observed failed: projective ``|0><0|`` on their site; a pair partner is
        updated through the joint state (its readiness drops if they were correlated)."""
        ids = self._check_ids(ids)
        self._events.append((ids, 1))

    def _flush(self, refresh: bool = True) -> None:
        """Apply the queued observations. ``refresh=False`` (the tick, which recomputes every
        diagnostic right after) skips refreshing the observed agents' diagnostics."""
        if not self._events:
            return
        events, self._events = self._events, []
        agents = np.concatenate([ids for ids, _ in events])
        kinds = np.concatenate([np.full(len(ids), k, np.int8) for ids, k in events])
        keep = self.kind[agents] != _KIND_FREE
        agents, kinds = agents[keep], kinds[keep]
        e = self.params.heartbeat_error
        m0 = np.where(kinds == 0, math.sqrt(e), 1.0)
        m1 = np.where(kinds == 0, math.sqrt(1 - e), 0.0)
        for pairs in (True, False):
            sel = (self.kind[agents] == (_KIND_PAIR if pairs else _KIND_SINGLE))
            if sel.any():
                self._apply_rounds(agents[sel], m0[sel], m1[sel], pairs, refresh)

    def _apply_rounds(self, agents, m0, m1, pairs: bool, refresh: bool = True) -> None:
        cells = self.cell[agents]
        order = np.argsort(cells, kind="stable")
        agents, m0, m1, cells = agents[order], m0[order], m1[order], cells[order]
        start = np.r_[0, np.flatnonzero(np.diff(cells)) + 1]
        rank = np.arange(len(cells)) - np.repeat(start, np.diff(np.r_[start, len(cells)]))
        for r in range(int(rank.max()) + 1):
            sel = rank == r
            self._measure_cells(agents[sel], cells[sel], m0[sel], m1[sel], pairs, refresh)

    def _measure_cells(self, agents, cells, m0, m1, pairs: bool, refresh: bool = True) -> None:
        inplace = getattr(self._store, "observe_pairs", None) if pairs else None
        if inplace is not None:   # host store (numba): update the cells where they are
            bad = inplace(self.rho_pairs, self.s_pairs, cells, self.site[agents], m0, m1)
            if refresh:
                good = cells[~bad]
                host = self.rho_pairs[good]
                self._refresh_pair_diagnostics(good, host, self.s_pairs[good])
            if not bad.any():
                return
            agents, cells, m0, m1 = agents[bad], cells[bad], m0[bad], m1[bad]
        # The touched cells are few: gather them to the host, update with numpy, scatter back.
        rho = to_numpy(self._store.take(self.rho_pairs if pairs else self.rho_singles, cells))
        sites = self.site[agents]
        host = lueders_pairs(rho, sites, m0, m1) if pairs else lueders_singles(rho, np, m0, m1)
        if pairs:
            sab = pm.pair_entropy(host)
            self.rho_pairs = self._store.put(self.rho_pairs, cells, host)
            self.s_pairs = self._store.put(self.s_pairs, cells, sab)
            if refresh:
                self._refresh_pair_diagnostics(cells, host, sab)
        else:
            self.rho_singles = self._store.put(self.rho_singles, cells, host)
            self.s_singles = self._store.put(self.s_singles, cells, pm.qubit_entropy(host))
            self._ready[agents] = host[:, 1, 1].real
            self._entropy[agents] = pm.qubit_entropy(host)

    def _refresh_pair_diagnostics(self, cells, host, sab) -> None:
        ra, rb = pm.reduced_pair(host)
        sa, sb = pm.qubit_entropy(ra), pm.qubit_entropy(rb)
        mi = np.clip(sa + sb - sab, 0, None)
        for site, red, s in ((0, ra, sa), (1, rb, sb)):
            who = self.pair_agents[cells, site]
            ok = who >= 0
            self._ready[who[ok]] = red[ok, 1, 1].real
            self._entropy[who[ok]] = s[ok]
            self._mi[who[ok]] = mi[ok]
        self._conc[cells] = pm.pair_concurrence(host)

    # ---- the tick ---------------------------------------------------------------------------
    def _geometry(self, kind: str, n: int) -> Geometry:
        """Index arrays describing which cells/sites hold agents, rebuilt only after membership
        changes (the tick is hot; add/remove are not)."""
        key = (kind, n, self._membership)
        if self._geo.get(kind, (None,))[0] != key:
            agents = self.pair_agents[:n] if kind == "pairs" else self.single_agent[:n, None]
            self._geo[kind] = (key, Geometry.build(agents))
        return self._geo[kind][1]

    def _site_rates(self, agents: np.ndarray, ok: np.ndarray | None, dt: float):
        """Channel strengths ``(p, q, g, r)`` per cell for the agents on one site (``ok`` marks
        occupied sites; None = all occupied). Empty sites get all zeros."""
        prm, real = self.params, self._real
        safe = agents if ok is None else np.maximum(agents, 0)
        silent = self.now - self.last_seen[safe]
        late = silent > prm.deadline
        tau = silent.astype(real)
        p = np.multiply(tau, real(prm.lambda1 * dt), out=tau)
        p += real(prm.lambda0 * dt)
        p = -np.expm1(-p)
        q = np.full(len(p), -math.expm1(-prm.kappa * dt) / 2, dtype=real)
        g = late * real(-math.expm1(-prm.mu * dt))
        r = self._rewards[safe].astype(real)
        np.clip(r, -1, 1, out=r)
        out = (p, q, g.astype(real, copy=False), r)
        if ok is not None:
            out = tuple(np.where(ok, x, real(0)) for x in out)
        return out

    def tick(self, dt: float) -> TickReport:
        """Advance every cell by ``dt`` seconds of model time; returns the fleet aggregates."""
        if not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
            raise ValueError(f"dt must be a positive finite number, got {dt!r}")
        t0 = time.perf_counter()
        self._flush(refresh=False)
        self.now += float(dt)
        pair_out = self._tick_pairs(dt)
        single_out = self._tick_singles(dt)
        self._rewards[:] = 0.0
        if not getattr(self._store, "failed", False):  # after a GPU failover the state is on host
            self.backend.synchronize()
        self.report = self._aggregate(pair_out, single_out, time.perf_counter() - t0)
        return self.report

    def _scatter(self, geo: Geometry, site: int, targets, values) -> None:
        who, cells = geo.who[site], geo.cells[site]
        for target, value in zip(targets, values):
            target[who] = value if cells is None else value[cells]

    def _extent(self, hw: int, rows: CellBlocks, cap: int) -> int:
        """Rows the tick runs on: a power-of-two prefix covering the used cells, or (sharded)
        every row, each device its block."""
        return bucket(hw, cap) if self.mesh is None or hw == 0 else rows.rows

    def _tick_pairs(self, dt):
        n = self._extent(self._pair_hw, self._pair_rows, self.capacity // 2)
        if n == 0:
            return None
        geo = self._geometry("pairs", n)
        pa, qa, ga, ra = self._site_rates(geo.site_ids(0), geo.ok[0], dt)
        pb, qb, gb, rb = self._site_rates(geo.site_ids(1), geo.ok[1], dt)
        c = -np.expm1(-self.pair_rate[:n] * dt)
        if geo.live is not None:
            c = np.where(geo.live, c, 0.0)
        args = [pa, pb, qa, qb, ga, gb, c.astype(self._real), ra, rb]
        self.rho_pairs, self.s_pairs, diag = self._store.run_pairs(
            self.rho_pairs, self.s_pairs, n, args, self.params.coupling * dt, self.params.theta0)
        diag = {k: to_numpy(v) for k, v in diag.items()}
        for site, sfx in ((0, "a"), (1, "b")):
            self._scatter(geo, site, (self._ready, self._entropy, self._mi),
                          (diag[f"ready_{sfx}"], diag[f"s_{sfx}"], diag["mi"]))
        self._conc[:n] = diag["concurrence"]
        return geo, diag

    def _tick_singles(self, dt):
        n = self._extent(self._single_hw, self._single_rows, self.capacity)
        if n == 0:
            return None
        geo = self._geometry("singles", n)
        args = list(self._site_rates(geo.site_ids(0), geo.ok[0], dt))
        self.rho_singles, self.s_singles, diag = self._store.run_singles(
            self.rho_singles, self.s_singles, n, args, self.params.theta0)
        diag = {k: to_numpy(v) for k, v in diag.items()}
        self._scatter(geo, 0, (self._ready, self._entropy), (diag["ready"], diag["s_cell"]))
        return geo, diag

    def _aggregate(self, pair_out, single_out, duration: float) -> TickReport:
        npur, leak, mi, conc = [], 0.0, np.zeros(0), np.zeros(0)
        for out in (pair_out, single_out):
            if out is not None:
                geo, diag = out
                npur.append(geo.select(diag["npurity"], geo.live_idx))
                leak += float(geo.select(diag["leak"], geo.live_idx).sum(dtype=np.float64))
        if pair_out is not None:
            geo, diag = pair_out
            mi = geo.select(diag["mi"], geo.full_idx)
            conc = geo.select(diag["concurrence"], geo.full_idx)
        n_act = self.n_active
        total = sum(len(x) for x in npur)
        coherence = sum(float(x.sum(dtype=np.float64)) for x in npur) / total if total else 0.0
        # free slots hold 0 in the per-agent arrays, so plain sums are sums over active agents
        return TickReport(
            global_coherence=coherence,
            mean_entropy=float(self._entropy.sum(dtype=np.float64)) / n_act if n_act else 0.0,
            mean_readiness=float(self._ready.sum(dtype=np.float64)) / n_act if n_act else 0.0,
            mean_pair_mi=_mean(mi), mean_concurrence=_mean(conc), leakage=leak,
            n_agents=n_act, n_pairs=len(mi), duration_s=duration, time=self.now)

    @property
    def events(self) -> list:
        """Backend events recorded by the store (e.g. a GPU failure that moved the register to
        the CPU); empty when nothing happened."""
        return list(getattr(self._store, "events", []))

    # ---- diagnostics ------------------------------------------------------------------------
    def readiness(self) -> np.ndarray:
        """``p_a = <1|rho_a|1>`` per slot, float32 ``(capacity,)``; 0 for free slots."""
        self._flush()
        return self._ready.copy()

    def entropy(self) -> np.ndarray:
        """Reduced von Neumann entropy (nats) per slot, float32 ``(capacity,)``."""
        self._flush()
        return self._entropy.copy()

    def pair_mutual_information(self) -> np.ndarray:
        """Mutual information (nats) of each agent's pair, float32 ``(capacity,)``; 0 alone."""
        self._flush()
        return self._mi.copy()

    def pair_concurrence(self) -> np.ndarray:
        """Concurrence of each agent's pair cell, float32 ``(capacity,)``; 0 alone."""
        self._flush()
        out = np.zeros(self.capacity, np.float32)
        paired = np.flatnonzero(self.kind == _KIND_PAIR)
        out[paired] = self._conc[self.cell[paired]]
        return out

    def cell_state(self, agent: int) -> np.ndarray:
        """The joint state (host copy) of the cell that holds ``agent``: 4x4 or 2x2."""
        a = int(self._check_ids([agent])[0])
        self._flush()
        arr = self.rho_pairs if self.kind[a] == _KIND_PAIR else self.rho_singles
        return to_numpy(self._store.take(arr, [self.cell[a]]))[0]

    def set_cell_state(self, agent: int, rho) -> None:
        """Overwrite the joint state of ``agent``'s cell (tests, restores). Validated."""
        a = int(self._check_ids([agent])[0])
        self._flush()
        pairs = self.kind[a] == _KIND_PAIR
        d = 4 if pairs else 2
        rho = np.asarray(rho, dtype=self.dtype)
        if rho.shape != (d, d):
            raise ValueError(f"rho must have shape ({d}, {d}), got {rho.shape}")
        if not np.allclose(rho, rho.conj().T, atol=1e-6) or abs(np.trace(rho) - 1) > 1e-5:
            raise ValueError("rho must be Hermitian with unit trace")
        cell = np.array([self.cell[a]])
        if pairs:
            self.rho_pairs = self._store.put(self.rho_pairs, cell, rho[None])
            sab = pm.pair_entropy(rho[None])
            self.s_pairs = self._store.put(self.s_pairs, cell, sab)
            self._refresh_pair_diagnostics(cell, rho[None], sab)
        else:
            self.rho_singles = self._store.put(self.rho_singles, cell, rho[None])
            self.s_singles = self._store.put(self.s_singles, cell, pm.qubit_entropy(rho[None]))
            self._ready[a], self._entropy[a] = rho[1, 1].real, pm.qubit_entropy(rho[None])[0]


def _mesh(backend, shards):
    """The device mesh for ``shards`` (None: not sharded); sharding needs JAX."""
    if backend.name != "jax":
        if shards in (None, "auto"):
            return None
        raise ValueError(f"shards needs the jax backend, got backend {backend.name!r} with "
                         f"shards={shards!r}")
    from uqo.kernels.sharding import local_mesh

    return local_mesh(shards)


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


def _mean(x: np.ndarray) -> float:
    return float(np.mean(x, dtype=np.float64)) if len(x) else 0.0
