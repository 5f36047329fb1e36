"""Property-based attempts to make the scheduler break a hard constraint.

Hypothesis builds random fleets (capabilities, clearances, compartments, capacities, failure
domains, some pairs put in strongly correlated joint states, some agents down, some load held)
and random batches, for every strategy; every decision is then checked against the specs
directly, not through the scheduler's own bit sets.
"""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from uqo.control.scheduler import AgentSpec, TaskSpec

from .conftest import LABELS, make_scheduler

CAPS = ("a", "b", "c")
COMPS = ("x", "y")
names = st.frozensets(st.sampled_from(CAPS), max_size=3)
comps = st.frozensets(st.sampled_from(COMPS), max_size=2)

agents_st = st.lists(st.tuples(names, st.integers(0, 3), comps, st.integers(1, 3),
                               st.integers(-1, 4), st.floats(0.1, 1.0)),
                     min_size=1, max_size=24)
tasks_st = st.lists(st.tuples(st.integers(1, 5), st.frozensets(st.sampled_from(CAPS + ("z",)),
                                                                max_size=2),
                              st.integers(0, 3), comps, st.integers(0, 4)),
                    min_size=1, max_size=12)


def _correlate(s, rng):
    for a in np.flatnonzero(s.link.partner[:s.table.capacity] >= 0).tolist():
        if s.link.site[a] == 0 and rng.random() < 0.6:
            rho = np.zeros((4, 4))
            c = rng.uniform(0.1, 0.5)
            rho[3, 3], rho[0, 0] = 1 - c, c
            s.register.set_cell_state(int(s.link.eng[a]), rho)


def _check(s, specs, tasks, d, held_before):
    by_id = {t.task_id: t for t in tasks}
    assert {a.task_id for a in d.assignments} | set(d.pending) | set(d.rejected) == set(by_id)
    mi = s.register.pair_mutual_information()
    for a in d.assignments:
        t = by_id[a.task_id]
        idx = [int(x[1:]) for x in a.agent_ids]
        assert len(idx) == t.required_agents == len(set(idx))
        for i in idx:
            spec = specs[i]
            assert t.capabilities <= spec.capabilities
            assert spec.clearance >= t.classification
            assert t.compartments <= spec.compartments
            assert s.table.up[s.table.slot(spec.agent_id)]
        slots = [s.table.slot(f"a{i}") for i in idx]
        for x in slots:
            p = s.link.partner[x]
            if p >= 0 and mi[s.link.eng[x]] > s.mi_threshold:
                assert p not in slots, "correlated pair in one task"
    assert (s.table.load[s.table.active] <= s.table.cap[s.table.active]).all()
    eligible = lambda t: sum(t.capabilities <= sp.capabilities and
                             sp.clearance >= t.classification and t.compartments <= sp.compartments
                             for sp in specs)
    for tid in d.rejected:
        assert eligible(by_id[tid]) < by_id[tid].required_agents
    assert s.table.load.sum() == held_before + sum(len(a.agent_ids) for a in d.assignments)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(agents=agents_st, tasks=tasks_st, label=st.sampled_from(LABELS),
       seed=st.integers(0, 2 ** 16), rounds=st.integers(1, 3))
def test_no_decision_ever_breaks_a_hard_constraint(agents, tasks, label, seed, rounds):
    rng = np.random.default_rng(seed)
    s = make_scheduler(32, strategy=label[0], quantum_mode=label[1], seed=seed % 97)
    specs = [AgentSpec(f"a{i}", c, lv, cm, cap, None if d < 0 else f"d{d}", f)
             for i, (c, lv, cm, cap, d, f) in enumerate(agents)]
    s.add_agents(specs)
    _correlate(s, rng)
    for i in rng.choice(len(specs), len(specs) // 5, replace=False).tolist():
        s.agent_failed(f"a{i}")
    for r in range(rounds):
        batch = [TaskSpec(f"r{r}t{j}", k, c, lv, cm, p, 0.0)
                 for j, (k, c, lv, cm, p) in enumerate(tasks)]
        held = int(s.table.load.sum())
        d = s.decide(batch, now=float(r))
        _check(s, specs, batch, d, held)
        for a in d.assignments[: len(d.assignments) // 2]:
            s.release(a.task_id)
