"""Probe planning: round robin in turn, information gain by the closed form."""

import math

import numpy as np
import pytest
from uqo.control.scheduler.probing import ProbePlanner, binary_entropy, readiness_gain

from .conftest import agent, make_scheduler, set_readiness


def test_readiness_gain_closed_forms():
    assert readiness_gain(0.5, 0.0) == pytest.approx(math.log(2))
    assert readiness_gain(1.0, 0.0) == pytest.approx(0.0, abs=1e-9)
    e = 0.1
    assert readiness_gain(0.5, e) == pytest.approx(math.log(2) - binary_entropy(e))
    p = np.linspace(0, 1, 11)
    g = readiness_gain(p, 0.05)
    assert (g >= -1e-12).all() and np.argmax(g) == 5


def test_round_robin_cycles_over_active_agents():
    s = make_scheduler(8)
    s.add_agents([agent(i) for i in range(5)])
    s.remove_agent("a2")
    plan = ProbePlanner()
    got = [plan.round_robin(s.table, 2).tolist() for _ in range(3)]
    slots = [s.table.slot(f"a{i}") for i in (0, 1, 3, 4)]
    flat = [x for g in got for x in g]
    assert sorted(set(flat)) == sorted(slots) and len(flat) == 6


def test_info_gain_probes_the_most_uncertain_agents_first():
    s = make_scheduler(8)
    s.add_agents([agent(i) for i in range(4)])
    for i, p in enumerate([0.99, 0.5, 0.05, 0.7]):
        set_readiness(s, f"a{i}", p)
    assert s.probe_targets(2) == ["a1", "a3"]
    assert len(s.probe_targets(2, "round_robin")) == 2
    with pytest.raises(ValueError, match="policy"):
        s.probe_targets(1, "loudest")
    with pytest.raises(ValueError, match="n must"):
        s.probe_targets(-1)


def test_a_probe_without_answer_counts_as_a_failure_and_an_answer_as_alive():
    s = make_scheduler(8, strategy="ewma")
    s.add_agents([agent(i) for i in range(2)])
    s.agent_failed("a0")
    s.probe_result("a0", True, healthy=True)
    assert s.table.up[s.table.slot("a0")] and s.books.count[s.table.slot("a0")] == 1
    before = s.books.ewma(np.array([1]))[0]
    s.probe_result("a1", False)
    assert s.books.ewma(np.array([1]))[0] < before
    with pytest.raises(ValueError, match="answered"):
        s.probe_result("a1", "yes")
