"""Checks of the sharded register, run by ``test_sharded_register.py`` in a subprocess with 4
host devices (``XLA_FLAGS`` must be set before JAX starts):
``python _sharded_checks.py <check name> [seed ...]``; prints ``<check name> OK`` on success."""

from __future__ import annotations

import sys

import numpy as np
from uqo.engine.partition import HashRing
from uqo.engine.register import AgentRegister
from uqo.engine.register.jax_storage import ShardedJaxStore
from uqo.kernels.failover import DeviceFailure, FailoverStore
from uqo.kernels.numba_store import NumbaStore
from uqo.kernels.sharding import cell_sharding

REPORT_FIELDS = ("global_coherence", "mean_entropy", "mean_readiness", "mean_pair_mi",
                 "mean_concurrence", "leakage", "n_agents", "n_pairs", "time")


def assert_sharded(reg) -> None:
    """Every cell array still split in blocks over the register's 4 devices."""
    for arr in (reg.rho_pairs, reg.s_pairs, reg.rho_singles, reg.s_singles):
        want = cell_sharding(reg.mesh, arr.ndim)
        assert arr.sharding.is_equivalent_to(want, arr.ndim), arr.sharding
        assert len(arr.sharding.device_set) == 4


def assert_same(one, sharded, where: str, tol: float = 1e-6) -> None:
    """Same agents, same diagnostics and same cell states (``tol``), cell by cell."""
    for name in ("readiness", "entropy", "pair_mutual_information", "pair_concurrence"):
        a, b = getattr(one, name)(), getattr(sharded, name)()
        assert np.abs(a - b).max(initial=0) < tol, (where, name, np.abs(a - b).max())
    assert np.array_equal(one.kind, sharded.kind), where
    for reg_arr in ("rho_pairs", "rho_singles"):
        pairs = reg_arr == "rho_pairs"
        ids = np.flatnonzero(one.kind == (2 if pairs else 1))
        a = np.asarray(getattr(one, reg_arr))[one.cell[ids]]
        b = np.asarray(getattr(sharded, reg_arr))[sharded.cell[ids]]
        assert np.abs(a - b).max(initial=0) < tol, (where, reg_arr, np.abs(a - b).max())


def random_state(rng, d: int) -> np.ndarray:
    a = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
    rho = a @ a.conj().T
    return rho / np.trace(rho).real


def drive(rng, regs, steps: int, after=None, rtol=()) -> None:
    """``steps`` random operations (adds with and without keys, heartbeats, failures, outcomes,
    removals, re-adds, state overwrites, ticks) applied identically to every register of
    ``regs``; ``regs[0]``'s books pick the targets. Checks that every register returns the same
    ids, and tick reports within ``1e-6`` plus ``rtol[i]`` relative of ``regs[0]``'s for
    ``regs[i + 1]``; ``after(step, op)`` runs after each operation."""
    lead, named = regs[0], 0
    for step in range(steps):
        live = np.flatnonzero(lead.kind != 0)
        free = len(lead._free_slots)
        op = rng.choice(["pairs", "singles", "heartbeat", "failure", "outcome", "remove",
                         "state", "tick", "tick"])
        if op == "pairs" and free >= 2:
            n = int(rng.integers(1, min(6, free // 2) + 1))
            keys = None if rng.random() < 0.5 else [f"agent-{named + i}" for i in range(2 * n)]
            named += 2 * n
            out = [r.add_pairs(n, keys=keys) for r in regs]
        elif op == "singles" and free >= 1:
            n = int(rng.integers(1, min(6, free) + 1))
            keys = None if rng.random() < 0.5 else [f"agent-{named + i}" for i in range(n)]
            named += n
            out = [r.add_singles(n, keys=keys) for r in regs]
        elif op in ("heartbeat", "failure", "outcome", "remove") and len(live):
            who = rng.choice(live, size=int(rng.integers(1, min(8, len(live)) + 1)))
            if op == "remove":
                who = np.unique(who)
            method = {"heartbeat": "heartbeat", "failure": "observe_failure",
                      "outcome": "record_outcome", "remove": "remove"}[op]
            args = (who, rng.uniform(-1, 1, len(who))) if op == "outcome" else (who,)
            for r in regs:
                getattr(r, method)(*args)
            out = None
        elif op == "state" and len(live):
            a = int(rng.choice(live))
            rho = random_state(rng, 4 if lead.kind[a] == 2 else 2)
            for r in regs:
                r.set_cell_state(a, rho)
            out = None
        elif op == "tick":
            dt = float(rng.uniform(0.2, 2.0))
            reports = [r.tick(dt) for r in regs]
            for field in REPORT_FIELDS:
                a, *others = (getattr(x, field) for x in reports)
                tol = [1e-6 + t * abs(a) for t in (*rtol, *[0.0] * len(others))]
                assert all(abs(a - b) < t for b, t in zip(others, tol)), (step, field, a, others)
            out = None
        else:
            continue
        if out is not None:                           # same ids: slots are not sharded
            assert all(np.array_equal(out[0], o) for o in out[1:]), (step, op)
        if after is not None:
            after(step, op)


def random_operations(seed: int = 0, steps: int = 60) -> None:
    """A random sequence of adds (with and without keys), heartbeats, failures, outcomes,
    removals, re-adds, state overwrites and ticks gives the same results on 4 shards as on
    one device."""
    one = AgentRegister(96, backend="jax", shards=None, seed=seed)
    sharded = AgentRegister(96, backend="jax", shards="auto", seed=seed)
    assert one.mesh is None and sharded.shards == 4

    def after(step, op):
        assert_same(one, sharded, f"step {step} ({op})")
        assert_sharded(sharded)                       # ticks, observations and puts keep it

    drive(np.random.default_rng(seed), (one, sharded), steps, after)
    assert one.report is not None and one.report.n_agents > 0


def placement() -> None:
    """Cells sit in the block of their key's ring partition, on that device; a full block
    spills to the next block clockwise on the ring."""
    reg = AgentRegister(400, backend="jax", shards=4)
    ring = HashRing(4)
    keys = [f"node-{i}" for i in range(40)]
    pairs = reg.add_pairs(20, keys=keys)
    solo = reg.add_singles(30, keys=[f"solo-{i}" for i in range(30)])
    reg.tick(1.0)
    home = np.r_[np.repeat(ring.owners(keys[0::2]), 2), ring.owners(f"solo-{i}" for i in range(30))]
    ids = np.r_[pairs, solo]
    assert np.array_equal(reg.shard_of(ids), home)
    assert set(home.tolist()) == {0, 1, 2, 3}
    for a, k in zip(ids.tolist(), home.tolist()):
        arr = reg.rho_pairs if reg.kind[a] == 2 else reg.rho_singles
        shard, = [s for s in arr.addressable_shards if s.device == reg.mesh.devices[k]]
        rows = shard.index[0]
        assert rows.start <= reg.cell[a] < rows.stop, (a, k, rows)
        np.testing.assert_allclose(np.asarray(shard.data)[reg.cell[a] - rows.start],
                                   reg.cell_state(a), atol=0)

    # 40 singles whose keys all belong to partition 0: a block holds ceil(41 / 4) = 11 rows
    small = AgentRegister(40, backend="jax", shards=4)
    zero = [k for k in (f"k{i}" for i in range(2000)) if ring.owner(k) == 0][:40]
    ids = small.add_singles(40, keys=zero)
    free, want = [11, 11, 11, 10], []                  # the array's last row is scratch
    for key in zero:                                    # naive oracle: walk until a free block
        k = next(k for k in ring.clockwise(key) if free[k])
        free[k] -= 1
        want.append(k)
    where = small.shard_of(ids)
    assert (where[:11] == 0).all() and (where[11:] != 0).all()
    assert where.tolist() == want, (where.tolist(), want)
    small.tick(1.0)
    assert_sharded(small)
    try:
        small.add_singles(1, keys=["one-more"])
    except ValueError as exc:
        assert "cannot add 1 agents: only 0 free" in str(exc), exc
    else:
        raise AssertionError("a full register accepted an agent")


class FlakyDevice:
    """A real store whose ``fail_at``-th call (of method ``on``; None: any) raises
    ``DeviceFailure`` instead of running; ``lose()``, if given, runs first: the fault destroys
    device state, as a dead GPU would."""

    def __init__(self, inner, fail_at: int, on: str | None = None, lose=None):
        self.inner, self.backend, self.xp = inner, inner.backend, inner.xp
        self.calls, self.fail_at, self.on, self.lose, self.failed = 0, fail_at, on, lose, None

    def __getattr__(self, name):                      # put, take, run_pairs, run_singles
        method = getattr(self.inner, name)

        def call(*args):
            if self.on in (None, name):
                self.calls += 1
                if self.calls == self.fail_at:
                    self.failed = name
                    if self.lose is not None:
                        self.lose()
                    raise DeviceFailure("injected: CUDA error: an illegal memory access")
            return method(*args)
        return call


def _flaky_register(shards, fail_at: int, seed: int, on: str | None = None):
    """A register whose store is ``FailoverStore(FlakyDevice(its JAX store), NumbaStore)``."""
    reg = AgentRegister(96, backend="jax", shards=shards, seed=seed)
    assert isinstance(reg._store, ShardedJaxStore) == (shards is not None)
    flaky = FlakyDevice(reg._store, fail_at, on)
    reg._store = FailoverStore(flaky, NumbaStore, clock=lambda: 42.0)
    return reg, flaky


def _same_reports(regs, dt: float, where: str) -> None:
    reports = [r.tick(dt) for r in regs]
    for field in REPORT_FIELDS:
        a, b = (getattr(x, field) for x in reports)
        assert abs(a - b) < 1e-6, (where, field, a, b)


def _on_host(reg, store, state: str, call: str) -> None:
    """One failover event (``call``, ``state``), the CPU store in use, numpy cell arrays."""
    assert store.failed and len(store.events) == 1 and len(reg.events) == 1, store.events
    event = store.events[0]
    assert (event.time, event.call, event.state) == (42.0, call, state), event
    assert "illegal memory access" in event.error
    assert isinstance(store.fallback, NumbaStore)
    for name in ("rho_pairs", "s_pairs", "rho_singles", "s_singles"):
        assert isinstance(getattr(reg, name), np.ndarray), name


def _after_failover(one, sharded, rng) -> None:
    """Adds, observations, outcomes and ticks once both registers run on the CPU."""
    regs = (one, sharded)
    drop = np.flatnonzero(one.kind != 0)[:max(0, 7 - len(one._free_slots))]
    for r in regs:                                     # room for 7 agents
        r.remove(drop)
    pairs = [r.add_pairs(2, keys=["late-0", "late-1", "late-2", "late-3"]) for r in regs]
    solo = [r.add_singles(3) for r in regs]
    assert np.array_equal(*pairs) and np.array_equal(*solo)
    ids = np.r_[pairs[0], solo[0]]
    for r in regs:
        r.heartbeat(ids[::2])
        r.observe_failure(ids[1:2])
        r.record_outcome(ids, np.linspace(-1, 1, len(ids)))
    assert_same(one, sharded, "observed after the failover")
    _same_reports(regs, 0.7, "after the failover")
    drive(rng, regs, 20)
    assert_same(one, sharded, "end")
    assert [len(r.events) for r in regs] == [1, 1]


def failover(seed: int = 0) -> None:
    """A device failure (at a random store call: put, take or a tick) in the middle of a run of
    random operations moves the sharded register to the CPU (numba): one ``migrated`` event,
    numpy arrays, and from then on the same results as a one-device register driven identically
    (the same fault at the same store call), adds and observations included; and close to a
    one-device register that never failed."""
    rng = np.random.default_rng(seed)
    fail_at = int(rng.integers(20, 60))
    one, one_flaky = _flaky_register(None, fail_at, seed)
    sharded, flaky = _flaky_register(4, fail_at, seed)
    steady = AgentRegister(96, backend="jax", shards=None, seed=seed)
    store, seen = sharded._store, []

    def after(step, op):
        if store.failed and not seen:
            seen.append(f"step {step} ({op})")
        assert store.failed == one._store.failed, (step, op)
        assert_same(one, sharded, f"step {step} ({op}), failed: {store.failed}")
        if not store.failed:
            assert_sharded(sharded)

    # steady ticks with the JAX kernel throughout: float32 spectra, so its leakage (a sum over
    # cells of entropy changes) drifts from the float64 numba tick's by ~1e-5
    drive(rng, (one, sharded, steady), 60, after, rtol=(0.0, 1e-4))
    assert_same(steady, sharded, "never failed", tol=1e-5)
    assert flaky.failed is not None and flaky.failed == one_flaky.failed, (fail_at, flaky.calls)
    _on_host(sharded, store, "migrated", flaky.failed)
    _after_failover(one, sharded, rng)
    print(f"seed {seed}: {flaky.failed} failed at call {fail_at}, {seen[0]}", flush=True)


def lost_device(seed: int = 0) -> None:
    """One of the 4 devices dies in a tick, taking its blocks of every cell array with it: its
    cells restart maximally mixed (event ``reset``), the other devices' cells are migrated to
    the CPU. From then on the register equals a one-device register driven identically whose
    cells of that block were set maximally mixed just before that tick (and whose store fails
    over, without loss, at the same call)."""
    rng = np.random.default_rng(seed)
    # not device 0: the fault is simulated by deleting the dead device's buffers, and JAX takes
    # an array whose first buffer is deleted for deleted altogether (no shard can be listed);
    # a real dead GPU leaves buffers that fail to read, the other devices' still listed
    dead = int(rng.integers(1, 4))
    one, one_flaky = _flaky_register(None, 0, seed, on="run_pairs")
    sharded, flaky = _flaky_register(4, 0, seed, on="run_pairs")
    regs, device = (one, sharded), sharded.mesh.devices[dead]

    def kill():
        for name in ("rho_pairs", "s_pairs", "rho_singles", "s_singles"):
            shard, = [s for s in getattr(sharded, name).addressable_shards if s.device == device]
            shard.data.delete()

    flaky.lose = kill
    drive(rng, regs, 40, lambda step, op: assert_same(one, sharded, f"step {step} ({op})"))
    ring = HashRing(4)
    home = [k for k in (f"dead-{i}" for i in range(400)) if ring.owner(k) == dead][:8]
    pairs = [r.add_pairs(2, keys=home[:4]) for r in regs]
    solo = [r.add_singles(4, keys=home[4:]) for r in regs]
    ids = np.r_[pairs[0], solo[0]]
    for r in regs:
        r.heartbeat(ids[::3])
        r.record_outcome(ids, np.linspace(-1, 1, len(ids)))
    _same_reports(regs, 1.0, "before the fault")
    live = np.flatnonzero(sharded.kind != 0)
    on_dead = live[sharded.shard_of(live) == dead]
    assert_sharded(sharded)
    mixed = {2: np.eye(2) / 2, 4: np.eye(4) / 4}
    changed = np.array([not np.allclose(rho, mixed[len(rho)], atol=1e-3)
                        for rho in (sharded.cell_state(a) for a in live)])
    gone = np.isin(live, on_dead)                      # else the check proves nothing:
    assert (changed & gone).any() and (changed & ~gone).any()
    for r in regs:                                     # queued: the failing tick flushes them
        r.heartbeat(live[::2])                         # on the device before its fault
    for a in on_dead.tolist():                         # the reference loses the same cells
        one.set_cell_state(a, mixed[4 if one.kind[a] == 2 else 2])
    for f in (one_flaky, flaky):                       # both fail over in the next tick
        f.fail_at = f.calls + 1
    _same_reports(regs, 0.8, "the failing tick")
    assert_same(one, sharded, "the failing tick")
    _on_host(sharded, sharded._store, "reset", "run_pairs")
    _on_host(one, one._store, "migrated", "run_pairs")
    _after_failover(one, sharded, rng)
    print(f"seed {seed}: device {dead} lost {len(on_dead)} of {len(live)} agents' cells",
          flush=True)


if __name__ == "__main__":
    import jax

    assert len(jax.devices()) == 4, jax.devices()
    check, args = sys.argv[1], [int(a) for a in sys.argv[2:]]
    for seed in args or [None]:
        globals()[check]() if seed is None else globals()[check](seed)
    print(f"{check} OK", flush=True)
