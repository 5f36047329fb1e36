"""The whole agent register on CuPy (host books, cells on the device, the tick by tick.cu) equals
the numpy register, ticks without allocating, and survives a GPU failure in the middle of a run.

Where CuPy has a CUDA device the equivalence and allocation tests run on it. Elsewhere they run
on the named fake CuPy (``fakecupy.py``: device arrays in guarded host memory, tick.cu executed by
the host emulator), which is what CI has. The failure tests inject faults into the fake device
(an allocation out of memory, a launch hitting an illegal address, a device lost for good), so
they run on the fake only: a real GPU cannot be made to fail on demand.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest
from uqo.engine.backend import Backend, get_backend, to_numpy
from uqo.engine.register import AgentRegister

TOL = 1e-5        # complex64 state, float32 diagnostics: the bar for every kernel
REPORT_FIELDS = ("global_coherence", "mean_entropy", "mean_readiness", "mean_pair_mi",
                 "mean_concurrence", "leakage", "n_agents", "n_pairs", "time")


def _real_gpu() -> bool:
    try:
        import cupy

        return bool(cupy.is_available())
    except Exception:  # noqa: BLE001 - not installed, or no driver: no GPU
        return False


REAL_GPU = _real_gpu()


@pytest.fixture
def device(request):
    """``(backend, fake module or None)``: real CuPy on a GPU, the fake elsewhere."""
    if REAL_GPU:
        return get_backend("cupy"), None
    cp = request.getfixturevalue("cp")
    return Backend("cupy", cp, "cuda:0"), cp


@pytest.fixture
def fake(cp):
    """The fake device's backend and module (fault injection needs the fake)."""
    return Backend("cupy", cp, "cuda:0"), cp


@contextlib.contextmanager
def counting_allocations(cp):
    """Yields a function returning the device allocations made since entry (fake: its
    counter; real CuPy: memory-pool mallocs seen by a MemoryHook)."""
    if cp is not None:
        start = cp.device.allocations
        yield lambda: cp.device.allocations - start
        return
    from cupy.cuda import memory_hook

    class Count(memory_hook.MemoryHook):
        name = "uqo-test-count"

        def __init__(self):
            self.n = 0

        def malloc_preprocess(self, **kwargs):
            self.n += 1

    hook = Count()
    with hook:
        yield lambda: hook.n


# --- driving two registers the same way -------------------------------------------------------

def random_state(rng, d: int) -> np.ndarray:
    a = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
    rho = a @ a.conj().T
    return rho / np.trace(rho).real


def tick_all(regs, dt: float) -> None:
    """Tick every register by ``dt``; their reports agree within ``TOL``."""
    reports = [r.tick(dt) for r in regs]
    for field in REPORT_FIELDS:
        got = [getattr(x, field) for x in reports]
        assert max(abs(g - got[0]) for g in got) < TOL, (field, got)


def step(regs, rng) -> str:
    """One random operation applied identically to every register; returns its name."""
    one = regs[0]
    live = np.flatnonzero(one.kind != 0)
    free = len(one._free_slots)
    op = str(rng.choice(["pairs", "singles", "heartbeat", "failure", "outcome", "measure",
                         "remove", "state", "tick", "tick", "tick"]))
    if op == "pairs" and free >= 2:
        n = int(rng.integers(1, min(6, free // 2) + 1))
        ids = [r.add_pairs(n) for r in regs]
        assert all(np.array_equal(ids[0], x) for x in ids)
    elif op == "singles" and free >= 1:
        n = int(rng.integers(1, min(6, free) + 1))
        ids = [r.add_singles(n) for r in regs]
        assert all(np.array_equal(ids[0], x) for x in ids)
    elif op == "measure" and len(live):      # task outcomes: both factors, reliability on tick.cu
        who = rng.choice(live, size=int(rng.integers(1, min(8, len(live)) + 1)))
        kinds = rng.choice(["success", "failure", "timeout"], len(who))
        for r in regs:
            r.observe_outcome(who, kinds)
    elif op in ("heartbeat", "failure", "outcome", "remove") and len(live):
        who = rng.choice(live, size=int(rng.integers(1, min(8, len(live)) + 1)))
        if op == "remove":
            who = np.unique(who)
        method = {"heartbeat": "heartbeat", "failure": "observe_failure",
                  "outcome": "record_outcome", "remove": "remove"}[op]
        args = (who, rng.uniform(-1, 1, len(who))) if op == "outcome" else (who,)
        for r in regs:
            getattr(r, method)(*args)
    elif op == "state" and len(live):
        a = int(rng.choice(live))
        rho = random_state(rng, 4 if one.kind[a] == 2 else 2)
        for r in regs:
            r.set_cell_state(a, rho)
    elif op == "tick":
        tick_all(regs, float(rng.uniform(0.2, 2.0)))
    else:
        return "skip"
    return op


def assert_same(want, got, where: str) -> None:
    """Same agents, same diagnostics and the same state in every active agent's cell."""
    assert np.array_equal(want.kind, got.kind) and np.array_equal(want.cell, got.cell), where
    for name in ("readiness", "entropy", "pair_mutual_information", "pair_concurrence",
                 "reliability", "reliability_entropy"):
        a, b = getattr(want, name)(), getattr(got, name)()
        assert np.abs(a - b).max(initial=0) < TOL, (where, name, np.abs(a - b).max())
    for attr, kind in (("rho_pairs", 2), ("rho_singles", 1)):
        cells = np.unique(want.cell[want.kind == kind])
        a, b = (to_numpy(r._store.take(getattr(r, attr), cells)) for r in (want, got))
        assert np.abs(a - b).max(initial=0) < TOL, (where, attr, np.abs(a - b).max())


def _on_device(reg) -> bool:
    return all(type(a).__module__.startswith("cupy")
               for a in (reg.rho_pairs, reg.rho_singles, reg.s_pairs, reg.s_singles))


def _pair(backend, capacity=96, seed=0):
    return (AgentRegister(capacity, backend="numpy", seed=seed),
            AgentRegister(capacity, backend=backend, seed=seed))


# --- the register on CuPy -----------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1])
def test_cupy_register_equals_numpy_register_over_random_operations(device, seed):
    backend, _ = device
    rng = np.random.default_rng(seed)
    regs = _pair(backend, seed=seed)
    ops = []
    for i in range(70):
        ops.append(step(regs, rng))
        assert_same(*regs, f"step {i} ({ops[-1]})")
    assert ops.count("tick") >= 10 and regs[0].report.n_agents > 0
    assert _on_device(regs[1]) and regs[1].events == []


def test_a_register_tick_allocates_nothing_on_the_device(device):
    """After the first tick of a size, ticks reuse the store's device buffers: the state, the
    parameters and the diagnostics (the host books grow, the device does not)."""
    backend, cp = device
    reg = AgentRegister(4096, backend=backend)
    ids = reg.add_pairs(1500)
    reg.add_singles(700)
    reg.tick(1.0)
    with counting_allocations(cp) as allocations:
        for _ in range(3):
            reg.tick(0.5)
    assert allocations() == 0
    reg.heartbeat(ids[:10])     # an observation is a transfer: it may allocate, and is applied
    reg.tick(0.5)
    assert reg.readiness()[ids[:10]].min() > 0


# --- failures injected into the (fake) device ---------------------------------------------------

def _run_with_fault(fake, at: str, when: int, lose: bool, seed: int = 2):
    """Drive a numpy and a CuPy register with random operations; the CuPy register's device
    fails at the ``when``-th tick (``at``: "launch" or "alloc"). Returns both registers after 30
    more operations (each compared after it)."""
    backend, cp = fake
    rng = np.random.default_rng(seed)
    want, got = _pair(backend, seed=seed)
    for _ in range(8):                     # a populated register first
        step((want, got), rng)
    want.add_pairs(20), got.add_pairs(20)
    fired, ticks, i = None, 0, 0
    while fired is None or i < fired + 30:
        if fired is None and ticks == when:
            cp.device.inject(at, lose=lose)
            if at == "alloc":              # an observation's transfer is the next allocation
                live = np.flatnonzero(want.kind != 0)[:5]
                want.heartbeat(live), got.heartbeat(live)
            if lose:                       # the lost state restarts maximally mixed: so does
                _reset(want)               # the reference, the moment the device is lost
            fired = i
            tick_all((want, got), 1.0)
        else:
            ticks += step((want, got), rng) == "tick"
        assert_same(want, got, f"step {i}")
        i += 1
    return want, got


def _reset(reg) -> None:
    """The failover's stand-in for unreadable cells: maximally mixed, entropy log D."""
    reg._flush()
    reg.rho_pairs[:] = np.eye(4, dtype=reg.rho_pairs.dtype) / 4
    reg.s_pairs[:] = math.log(4)
    reg.rho_singles[:] = np.eye(2, dtype=reg.rho_singles.dtype) / 2
    reg.s_singles[:] = math.log(2)
    rel = reg._rel                     # reliability qubits restart from the prior; outcomes
    rel.rho[:] = np.diag([1 - rel.p0, rel.p0])    # still queued on the host are kept


@pytest.mark.parametrize("at, call", [("launch", "run_pairs"), ("alloc", "take")])
def test_a_device_failure_moves_the_register_to_the_cpu_with_its_state(fake, at, call):
    _, got = _run_with_fault(fake, at, when=3, lose=False)
    assert len(got.events) == 1, got.events
    event = got.events[0]
    assert (event.call, event.state) == (call, "migrated")
    assert ("OutOfMemoryError" if at == "alloc" else "CUDADriverError") in event.error
    for arr in (got.rho_pairs, got.rho_singles, got.s_pairs, got.s_singles):
        assert isinstance(arr, np.ndarray)           # the state now lives on the host
    assert got._store.failed and type(got._store.fallback).__name__ in ("NumbaStore",
                                                                         "ArrayStore")


def test_a_lost_device_restarts_cells_maximally_mixed_and_ticks_on(fake):
    want, got = _run_with_fault(fake, "launch", when=2, lose=True)
    assert [(e.call, e.state) for e in got.events] == [("run_pairs", "reset")]
    assert fake[1].device.lost
    assert got.report.n_agents == want.report.n_agents > 0


def test_non_device_errors_are_not_taken_for_a_failover(fake):
    reg = AgentRegister(64, backend=fake[0])
    reg.add_pairs(4)
    with pytest.raises(ValueError, match="dt must be a positive finite number"):
        reg.tick(float("nan"))
    reg.tick(1.0)
    assert reg.events == [] and _on_device(reg)
