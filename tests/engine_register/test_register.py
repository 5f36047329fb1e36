"""The agent register: membership, observations, the tick's invariants, and backends agreeing."""

import math

import numpy as np
import pytest
from uqo.engine.register import AgentRegister
from uqo.engine.tick import TickParams

BELL = np.zeros((4, 4))
BELL[np.ix_([0, 3], [0, 3])] = 0.5
BACKENDS = ["numpy", "jax"]


def test_new_agents_are_maximally_mixed_and_heartbeat_raises_readiness():
    reg = AgentRegister(16, backend="numpy")
    ids = reg.add_pairs(2)
    solo = reg.add_singles(3)
    assert reg.n_active == 7 and set(reg.partner[ids]) == set(ids)
    assert (reg.partner[solo] == -1).all()
    np.testing.assert_allclose(reg.readiness()[ids], 0.5)
    reg.heartbeat([ids[0], solo[0]])
    ready = reg.readiness()
    e = reg.params.heartbeat_error
    assert ready[ids[0]] == pytest.approx(1 - e, abs=1e-6)
    assert ready[solo[0]] == pytest.approx(1 - e, abs=1e-6)
    assert ready[ids[1]] == pytest.approx(0.5, abs=1e-6)  # independent partner: unchanged


def test_failure_of_one_bell_partner_sets_the_other_to_zero():
    reg = AgentRegister(4, backend="numpy", dtype="complex128")
    a, b = reg.add_pairs(1)
    reg.set_cell_state(a, BELL)
    assert reg.pair_mutual_information()[a] == pytest.approx(2 * math.log(2), abs=1e-9)
    reg.observe_failure([a])
    assert reg.readiness()[b] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(reg.cell_state(b), np.diag([1, 0, 0, 0]), atol=1e-12)


def test_failure_on_correlated_mixture_gives_analytic_conditional_state():
    c = 0.3  # (1 - c)|11><11| + c|00><00|: after A fails, B is |0> with certainty
    reg = AgentRegister(4, backend="numpy", dtype="complex128")
    a, b = reg.add_pairs(1)
    rho = np.diag([c, 0, 0, 1 - c]).astype(complex)
    reg.set_cell_state(a, rho)
    reg.observe_failure([a])
    assert reg.readiness()[b] == pytest.approx(0.0, abs=1e-12)


def test_failure_when_model_is_certain_of_readiness_resets_the_site():
    reg = AgentRegister(4, backend="numpy", dtype="complex128")
    a, b = reg.add_pairs(1)
    reg.set_cell_state(a, np.diag([0, 0, 0, 1]).astype(complex))  # both surely ready
    reg.observe_failure([a])
    assert reg.readiness()[a] == 0.0 and reg.readiness()[b] == pytest.approx(1.0)


def test_events_on_one_cell_apply_in_order():
    reg = AgentRegister(4, backend="numpy", dtype="complex128")
    a, = reg.add_singles(1)
    reg.observe_failure([a])
    reg.heartbeat([a])          # alive again: readiness rises from 0 only through the POVM
    assert reg.readiness()[a] == pytest.approx(0.0, abs=1e-12)  # |0> stays |0> under diag POVM
    reg.set_cell_state(a, np.eye(2) / 2)
    reg.heartbeat([a])
    reg.heartbeat([a])
    e = reg.params.heartbeat_error
    assert reg.readiness()[a] == pytest.approx((1 - e) ** 2 / ((1 - e) ** 2 + e ** 2), abs=1e-9)


def test_silence_decays_to_mixed_and_past_deadline_toward_zero():
    params = TickParams(lambda0=0.5, lambda1=0.0, deadline=5.0, mu=1.0, corr_rate=0.0)
    reg = AgentRegister(4, backend="numpy", params=params, dtype="complex128")
    a, = reg.add_singles(1)
    reg.set_cell_state(a, np.diag([0, 1]).astype(complex))
    for _ in range(4):
        reg.tick(1.0)
    p4 = reg.readiness()[a]
    assert 0.5 < p4 < 1.0     # depolarising only: toward 1/2 from above
    for _ in range(30):
        reg.tick(1.0)
    # past the deadline the fixed point of depolarise-then-damp: p = (1-G)((1-P)p + P/2)
    big_p, big_g = -math.expm1(-0.5), -math.expm1(-1.0)
    fixed = (1 - big_g) * big_p / 2 / (1 - (1 - big_g) * (1 - big_p))
    assert reg.readiness()[a] == pytest.approx(fixed, abs=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_trace_and_hermiticity_over_many_ticks_complex64(backend):
    reg = AgentRegister(64, backend=backend, seed=1)
    ids = reg.add_pairs(16)
    solo = reg.add_singles(16)
    rng = np.random.default_rng(0)
    for t in range(10_000 if backend == "numpy" else 2_000):
        if t % 7 == 0:
            reg.heartbeat(rng.choice(ids, 5, replace=False))
        if t % 5 == 0:
            reg.record_outcome(rng.choice(solo, 4, replace=False), rng.uniform(-1, 1, 4))
            reg.record_outcome(rng.choice(ids, 4, replace=False), rng.uniform(-1, 1, 4))
        if t % 97 == 0:
            reg.observe_failure(rng.choice(ids, 1))
        reg.tick(0.5)
    from uqo.engine.backend import to_numpy
    for arr in (to_numpy(reg.rho_pairs)[:16], to_numpy(reg.rho_singles)[:16]):
        tr = np.trace(arr, axis1=1, axis2=2)
        assert np.abs(tr - 1).max() < 1e-5
        assert np.abs(arr - arr.conj().transpose(0, 2, 1)).max() < 1e-6
        assert np.linalg.eigvalsh(arr.astype(np.complex128)).min() > -1e-5


def _scripted_run(backend):
    reg = AgentRegister(200, backend=backend, seed=3)
    ids = reg.add_pairs(60)
    solo = reg.add_singles(50)
    rng = np.random.default_rng(11)
    reports = []
    for t in range(20):
        reg.heartbeat(rng.choice(ids, 20, replace=False))
        reg.record_outcome(rng.choice(ids, 10, replace=False), rng.uniform(-1, 1, 10))
        reg.record_outcome(rng.choice(solo, 10, replace=False), rng.uniform(-1, 1, 10))
        if t % 4 == 0:
            reg.observe_failure(rng.choice(ids, 2, replace=False))
        reports.append(reg.tick(1.0))
    return reg, reports


def test_jax_matches_numpy_within_1e5():
    ref, rep_ref = _scripted_run("numpy")
    got, rep_got = _scripted_run("jax")
    for fn in ("readiness", "entropy", "pair_mutual_information"):
        np.testing.assert_allclose(getattr(got, fn)(), getattr(ref, fn)(), atol=1e-5)
    for a, b in zip(rep_ref, rep_got):
        assert a.global_coherence == pytest.approx(b.global_coherence, abs=1e-5)
        assert a.leakage == pytest.approx(b.leakage, abs=1e-3)


def test_global_coherence_is_one_for_pure_and_zero_for_mixed():
    reg = AgentRegister(8, backend="numpy", params=TickParams(lambda0=0, lambda1=0, kappa=0,
                                                             corr_rate=0, coupling=0))
    a, _ = reg.add_pairs(1)
    assert reg.tick(1.0).global_coherence == pytest.approx(0.0, abs=1e-6)
    reg.set_cell_state(a, BELL)
    assert reg.tick(1.0).global_coherence == pytest.approx(1.0, abs=1e-5)


def test_remove_frees_slots_and_bad_ids_are_refused():
    reg = AgentRegister(6, backend="numpy")
    ids = reg.add_pairs(2)
    reg.remove([ids[0]])
    assert reg.n_active == 3 and reg.partner[ids[1]] == -1 or reg.kind[ids[1]] == 2
    with pytest.raises(ValueError, match="unknown agent"):
        reg.heartbeat([ids[0]])
    with pytest.raises(ValueError, match="unknown agent"):
        reg.record_outcome([99], [1.0])
    with pytest.raises(ValueError, match="rewards"):
        reg.record_outcome([ids[1]], [2.0])
    with pytest.raises(ValueError, match="cannot add"):
        reg.add_pairs(5)
    with pytest.raises(ValueError, match="dt"):
        reg.tick(float("nan"))
    with pytest.raises(ValueError, match="capacity"):
        AgentRegister(0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_report_aggregates_only_live_agents_and_full_pairs(backend):
    reg = AgentRegister(40, backend=backend)
    ids = reg.add_pairs(10)
    solo = reg.add_singles(5)
    reg.heartbeat(ids[::3])
    reg.remove([ids[0], ids[5], solo[1]])
    reg.remove([ids[1]])            # pair 0 is now empty, pair 2 half full
    rep = reg.tick(1.0)
    act = reg.active
    assert rep.n_agents == 21 == int(act.sum()) and rep.n_pairs == 8
    assert rep.mean_readiness == pytest.approx(reg.readiness()[act].mean(), abs=1e-6)
    assert rep.mean_entropy == pytest.approx(reg.entropy()[act].mean(), abs=1e-6)
    more = reg.add_pairs(1)         # membership changed: the cached geometry must follow
    rep2 = reg.tick(1.0)
    assert rep2.n_agents == 23 and rep2.n_pairs == 9
    assert reg.readiness()[more].min() > 0
