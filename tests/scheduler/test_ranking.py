"""The threshold scan returns exactly the M cheapest units (checked against a full sort)."""

import numpy as np
import pytest
from uqo.control.scheduler.ranking import scan_units, unit_costs


def _setup(seed, n=20000):
    rng = np.random.default_rng(seed)
    q = rng.uniform(0, 1, n)
    cap = rng.integers(1, 4, n)
    load = rng.integers(0, 3, n) % cap
    elig = rng.random(n) < 0.3

    def cost_of(a, j):
        return 1.0 - q[a] * (1.0 - (load[a] + j) / cap[a])

    def evaluate(slots):
        s = slots[elig[slots]]
        return unit_costs(s, cap[s] - load[s], cost_of)

    return q, elig, cost_of, evaluate, cap, load


@pytest.mark.parametrize("seed, m", [(0, 1), (1, 50), (2, 700)])
def test_threshold_scan_equals_full_sort(seed, m):
    q, elig, cost_of, evaluate, cap, load = _setup(seed)
    order = np.argsort(1.0 - q, kind="stable")
    units = scan_units(order, (1.0 - q)[order], 0, m, evaluate)
    every = unit_costs(np.flatnonzero(elig), (cap - load)[elig], cost_of)[2]
    assert np.allclose(np.sort(units.cost), np.sort(every)[:m])
    assert not units.exhausted


def test_dirty_agents_come_in_as_extra_and_are_skipped_in_the_scan():
    q, elig, _, evaluate, _, load = _setup(3)
    order = np.argsort(1.0 - q, kind="stable")
    bounds = (1.0 - q)[order]
    dirty = np.flatnonzero(elig)[:5]
    q[dirty], load[dirty] = 1.0, 0       # they became perfect after the order was built
    mask = np.zeros(len(q), bool)
    mask[dirty] = True

    def skip_dirty(slots):
        return evaluate(slots[~mask[slots]])

    units = scan_units(order, bounds, 0, 10, skip_dirty, evaluate(dirty))
    assert set(dirty.tolist()) <= set(units.slots.tolist())
    assert len(units.slots) == len(set(zip(units.slots.tolist(), units.j.tolist())))


def test_rotating_start_takes_the_first_zero_cost_units_after_the_cursor():
    n = 100
    order = np.arange(n)

    def evaluate(slots):
        return unit_costs(slots, np.ones(len(slots), np.int64), lambda a, j: np.zeros(len(a)))

    units = scan_units(order, None, 95, 8, evaluate)
    assert units.slots.tolist()[:5] == [95, 96, 97, 98, 99]
    with pytest.raises(ValueError, match="rotating start"):
        scan_units(order, np.zeros(n), 5, 8, evaluate)


def test_too_few_units_is_reported_as_exhausted():
    order = np.arange(10)
    units = scan_units(order, np.zeros(10), 0, 50,
                       lambda s: unit_costs(s, np.ones(len(s), np.int64),
                                            lambda a, j: a * 0.1))
    assert units.exhausted and len(units.slots) == 10
