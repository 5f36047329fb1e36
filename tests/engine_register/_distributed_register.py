"""Worker of ``test_register_distributed.py``: one of 2 processes joined by ``jax.distributed``
(2 host CPU devices each), ``python _distributed_register.py <process id> <port>``.

Every process runs the same script on a register sharded over the 4 global devices
(``shards="global"``) and on a one-device register of its own, and compares them after every
step; prints ``REGISTER-OK process <id> checked <cells> of <total> cells`` on success."""

from __future__ import annotations

import sys

import numpy as np

TOL = 1e-6
REPORT_FIELDS = ("global_coherence", "mean_entropy", "mean_readiness", "mean_pair_mi",
                 "mean_concurrence", "leakage", "n_agents", "n_pairs", "time")
DIAGNOSTICS = ("readiness", "entropy", "pair_mutual_information", "pair_concurrence")


def start(pid: int, port: str):
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=2,
                               process_id=pid, initialization_timeout=60)
    assert jax.process_count() == 2 and len(jax.devices()) == 4, jax.devices()
    assert len(jax.local_devices()) == 2, jax.local_devices()
    return jax


def own_blocks(reg, pid: int) -> dict:
    """``{array name: rows}`` this process holds, checked to be exactly the blocks of its own
    devices (block ``k`` on ``mesh.devices[k]``); arrays still split over all 4 devices."""
    rows = {}
    for name in ("rho_pairs", "s_pairs", "rho_singles", "s_singles"):
        arr = getattr(reg, name)
        assert not arr.is_fully_addressable and len(arr.sharding.device_set) == 4, name
        block = arr.shape[0] // reg.shards
        want = {d: (k * block, (k + 1) * block) for k, d in enumerate(reg.mesh.devices)
                if d.process_index == pid}
        got = {s.device: (s.index[0].start, s.index[0].stop) for s in arr.addressable_shards}
        assert got == want, (name, got, want)
        rows[name] = got
    return rows


def compare(one, glob, pid: int, where: str) -> int:
    """Diagnostics (every agent) and this process's cell states against the one-device
    register; returns how many cells were compared here."""
    for name in DIAGNOSTICS:
        a, b = getattr(one, name)(), getattr(glob, name)()
        assert np.abs(a - b).max(initial=0) < TOL, (where, name, np.abs(a - b).max())
    assert np.array_equal(one.kind, glob.kind), where
    checked = 0
    rows = own_blocks(glob, pid)
    for name in ("rho_pairs", "rho_singles"):
        ref = np.asarray(getattr(one, name))
        for shard in getattr(glob, name).addressable_shards:
            lo, hi = rows[name][shard.device]
            if name == "rho_pairs":   # a pair cell may have lost its first agent: either one
                first, second = glob.pair_agents[lo:hi].T
                who = np.where(first >= 0, first, second)
            else:
                who = glob.single_agent[lo:hi]
            used = np.flatnonzero(who >= 0)
            err = np.abs(np.asarray(shard.data)[used] - ref[one.cell[who[used]]]).max(initial=0)
            assert err < TOL, (where, name, shard.device, err)
            checked += len(used)
    return checked


def check_tick(one, glob, dt: float, where: str) -> None:
    reports = one.tick(dt), glob.tick(dt)
    for field in REPORT_FIELDS:
        a, b = (getattr(r, field) for r in reports)
        assert abs(a - b) < TOL, (where, field, a, b)


def script(one, glob, pid: int) -> int:
    """The scripted operations; every one on both registers, compared after each. Returns the
    cells compared at the end."""
    regs = (one, glob)

    def both(method, *args, **kwargs):
        out = [getattr(r, method)(*args, **kwargs) for r in regs]
        if out[0] is not None:
            assert np.array_equal(out[0], out[1]), (method, out)   # same ids
        return out[0]

    keyed = both("add_pairs", 6, keys=[f"node-{i}" for i in range(12)])
    anon = both("add_pairs", 3)
    solo = both("add_singles", 5, keys=[f"solo-{i}" for i in range(5)])
    solo_anon = both("add_singles", 4)
    assert set(glob.shard_of(np.r_[keyed, anon, solo, solo_anon]).tolist()) == {0, 1, 2, 3}
    compare(one, glob, pid, "added")
    check_tick(one, glob, 1.0, "tick 1")
    compare(one, glob, pid, "tick 1")

    both("heartbeat", np.r_[keyed[:5], solo[:2], anon[3]])
    both("record_outcome", np.r_[keyed[4:8], solo[2:4]], [1, -1, 0.5, 0.25, -0.5, 1])
    check_tick(one, glob, 0.5, "tick 2")
    compare(one, glob, pid, "tick 2")

    both("observe_failure", np.r_[keyed[[0, 9]], solo[1], anon[0]])
    both("heartbeat", np.r_[keyed[[0, 0, 1]], solo[1]])       # several rounds on one cell
    compare(one, glob, pid, "observed")                      # the reads flush the queue
    check_tick(one, glob, 1.3, "tick 3")

    both("remove", np.r_[keyed[2:4], keyed[6], solo[0], solo_anon[1]])   # a whole pair, a half
    compare(one, glob, pid, "removed")
    both("add_pairs", 2, keys=["late-0", "late-1", "late-2", "late-3"])  # re-use freed rows
    both("add_singles", 3, keys=["late-s0", "late-s1", "late-s2"])
    compare(one, glob, pid, "re-added")
    check_tick(one, glob, 2.0, "tick 4")
    compare(one, glob, pid, "tick 4")

    rng = np.random.default_rng(3)                 # the same states in both processes
    a = rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4))
    rho = a @ a.conj().T
    both("set_cell_state", int(keyed[8]), rho / np.trace(rho).real)
    both("set_cell_state", int(solo[4]), np.array([[0.3, 0.1j], [-0.1j, 0.7]]))
    for step, dt in enumerate((0.7, 1.1, 0.4)):
        live = np.flatnonzero(one.kind != 0)
        both("heartbeat", live[step::3])
        both("record_outcome", live[1::4], np.linspace(-1, 1, len(live[1::4])))
        check_tick(one, glob, dt, f"tick {5 + step}")
        compare(one, glob, pid, f"tick {5 + step}")
    for agent in np.flatnonzero(one.kind != 0)[::5]:       # cells of both processes
        err = np.abs(one.cell_state(agent) - glob.cell_state(agent)).max()
        assert err < TOL, ("cell_state", agent, err)
    return compare(one, glob, pid, "end")


def main(pid: int, port: str) -> None:
    jax = start(pid, port)
    from uqo.engine.register import AgentRegister

    one = AgentRegister(64, backend="jax", shards=None)
    glob = AgentRegister(64, backend="jax", shards="global")
    assert one.mesh is None and glob.shards == 4
    checked = script(one, glob, pid)
    total = int((glob.pair_agents >= 0).any(axis=1).sum() + (glob.single_agent >= 0).sum())
    print(f"REGISTER-OK process {pid} checked {checked} of {total} cells; report "
          f"{glob.report}", flush=True)
    jax.distributed.shutdown()


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
