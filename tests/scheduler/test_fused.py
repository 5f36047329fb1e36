"""``fused.top_units`` lists exactly what ``TopUnits`` lists, and its ``exp``/``log`` helpers
are the ones every placement price uses.

The decision-level equality (fast lister against the reference sort-and-scan) is in
``test_topunits``; here the compiled lister is compared with the ``TopUnits`` path it replaces
unit for unit (slots, ``j``, costs to the bit, the ``exhausted`` flag), for many ``m`` from one
unit to more than the candidates offer, on a fleet with floors, loads, failures and outcomes.
"""

import numpy as np
import pytest
from uqo.control.scheduler.compiled import free_units
from uqo.control.scheduler.fused import neg_log, survival
from uqo.control.scheduler.scored import LOAD_WEIGHT
from uqo.control.scheduler.topunits import TopUnits
from uqo.control.scheduler.view import View

from .test_topunits import _pair, _tasks


def _topunits_path(strategy, view, cand, need, n_tasks):
    """The lister ``Scored._top_units`` built before ``fused`` (``TopUnits`` with the exact
    idle cost asked per evaluated candidate)."""
    t, floor = view.table, strategy.floor_of(view)

    def evaluate(slots):
        value = strategy._floor_value(view, slots)
        units = free_units(slots, t.active, t.up, t.clearance, t.cap_words, t.comp_words,
                           need.caps, need.comps, need.level, t.cap, t.load, value, floor,
                           n_tasks)
        return units > 0, units

    return TopUnits(cand, strategy.estimate.bound(view, cand), evaluate, strategy.cost_of(view),
                    lambda s: strategy.idle_cost(view, s, None), (t.load, t.cap, LOAD_WEIGHT))


@pytest.mark.parametrize("seed", [0, 3, 8])
def test_fused_lister_lists_exactly_what_topunits_lists(seed):
    sched, _ = _pair("quantum", 3000, seed)
    rng = np.random.default_rng([seed, 7])
    d = sched.decide(_tasks(rng, 0, 200), now=2.0)        # some load on the fleet
    assert d.assignments
    strategy = sched._strategies["quantum"]
    sched.link.snapshot()
    view = View(sched.table, sched.link, sched.mi_threshold, sched.latency, sched.books,
                sched.register.now, sched.hold_s())
    strategy._begin(view)
    tasks = _tasks(rng, 1, 40)
    batch_sigs = {(t.capabilities, t.compartments, t.classification) for t in tasks}
    checked = exhausted = 0
    for caps, comps, level in sorted(batch_sigs):
        need, _ = sched.table.compile_need(caps, comps, level)
        if need is None:
            continue
        cand = np.sort(rng.choice(sched.table.capacity, 1500, replace=False)).astype(np.int64)
        n_tasks = int(rng.integers(1, 6))
        fused = strategy._fused(view, cand, need, n_tasks,
                                *strategy.estimate.product_form(view))
        for m in (1, 7, 64, 300, 1200, 6000):
            ref = _topunits_path(strategy, view, cand, need, n_tasks)(m)
            got = fused(m)
            assert np.array_equal(got.slots, ref.slots) and np.array_equal(got.j, ref.j)
            assert np.array_equal(got.cost, ref.cost)         # the same bits, the same ties
            assert got.exhausted == ref.exhausted
            checked += 1
            exhausted += bool(ref.exhausted)
    assert checked >= 12 and 0 < exhausted < checked      # both ends of the scan were met


def test_survival_and_neg_log_are_the_closed_forms_and_keep_nan():
    rng = np.random.default_rng(1)
    rate, q = rng.random(1000) * 0.01, rng.random(1000)
    q[:5] = [0.0, 1e-9, np.nan, 1.0, 1e-6]
    add = rng.random(1000)
    assert np.allclose(survival(rate, 7.5), np.exp(-rate * 7.5), rtol=1e-15, atol=0)
    got = neg_log(q, 1e-6, add)
    want = -np.log(np.maximum(q, 1e-6)) + add
    assert np.isnan(got[2]) and np.isnan(want[2])
    ok = ~np.isnan(want)
    assert np.allclose(got[ok], want[ok], rtol=1e-15, atol=0)
    assert got[[0, 1, 4]] - add[[0, 1, 4]] == pytest.approx(-np.log(1e-6))   # the floor
