"""Checks of the sharded register, run by ``test_sharded_register.py`` in a subprocess with 4
host devices (``XLA_FLAGS`` must be set before JAX starts):
``python _sharded_checks.py <check name> [seed ...]``; prints ``<check name> OK`` on success."""

from __future__ import annotations

import sys

import numpy as np
from uqo.engine.partition import HashRing
from uqo.engine.register import AgentRegister
from uqo.kernels.sharding import cell_sharding

REPORT_FIELDS = ("global_coherence", "mean_entropy", "mean_readiness", "mean_pair_mi",
                 "mean_concurrence", "leakage", "n_agents", "n_pairs", "time")


def assert_sharded(reg) -> None:
    """Every cell array still split in blocks over the register's 4 devices."""
    for arr in (reg.rho_pairs, reg.s_pairs, reg.rho_singles, reg.s_singles):
        want = cell_sharding(reg.mesh, arr.ndim)
        assert arr.sharding.is_equivalent_to(want, arr.ndim), arr.sharding
        assert len(arr.sharding.device_set) == 4


def assert_same(one, sharded, where: str) -> None:
    """Same agents, same diagnostics and same cell states (1e-6), cell by cell."""
    for name in ("readiness", "entropy", "pair_mutual_information", "pair_concurrence"):
        a, b = getattr(one, name)(), getattr(sharded, name)()
        assert np.abs(a - b).max(initial=0) < 1e-6, (where, name, np.abs(a - b).max())
    assert np.array_equal(one.kind, sharded.kind), where
    for reg_arr in ("rho_pairs", "rho_singles"):
        pairs = reg_arr == "rho_pairs"
        ids = np.flatnonzero(one.kind == (2 if pairs else 1))
        a = np.asarray(getattr(one, reg_arr))[one.cell[ids]]
        b = np.asarray(getattr(sharded, reg_arr))[sharded.cell[ids]]
        assert np.abs(a - b).max(initial=0) < 1e-6, (where, reg_arr, np.abs(a - b).max())


def random_state(rng, d: int) -> np.ndarray:
    a = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
    rho = a @ a.conj().T
    return rho / np.trace(rho).real


def random_operations(seed: int = 0, steps: int = 60) -> None:
    """A random sequence of adds (with and without keys), heartbeats, failures, outcomes,
    removals, re-adds, state overwrites and ticks gives the same results on 4 shards as on
    one device."""
    rng = np.random.default_rng(seed)
    one = AgentRegister(96, backend="jax", shards=None, seed=seed)
    sharded = AgentRegister(96, backend="jax", shards="auto", seed=seed)
    assert one.mesh is None and sharded.shards == 4
    regs, named = (one, sharded), 0
    for step in range(steps):
        live = np.flatnonzero(one.kind != 0)
        free = len(one._free_slots)
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
            rho = random_state(rng, 4 if one.kind[a] == 2 else 2)
            for r in regs:
                r.set_cell_state(a, rho)
            out = None
        elif op == "tick":
            dt = float(rng.uniform(0.2, 2.0))
            reports = [r.tick(dt) for r in regs]
            for field in REPORT_FIELDS:
                a, b = (getattr(x, field) for x in reports)
                assert abs(a - b) < 1e-6, (step, field, a, b)
            assert_sharded(sharded)
            out = None
        else:
            continue
        if out is not None:
            assert np.array_equal(*out), (step, op)       # same ids: slots are not sharded
        assert_same(one, sharded, f"step {step} ({op})")
        assert_sharded(sharded)                           # observations and puts keep it
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


if __name__ == "__main__":
    import jax

    assert len(jax.devices()) == 4, jax.devices()
    check, args = sys.argv[1], [int(a) for a in sys.argv[2:]]
    for seed in args or [None]:
        globals()[check]() if seed is None else globals()[check](seed)
    print(f"{check} OK", flush=True)
