"""The CP-SAT optimum against brute force, and the cost/constraint checker."""

import itertools

import numpy as np
import pytest
from uqo.control.scheduler.exact import Instance, placement_cost, solve_exact, weighted_fill


def _brute(inst):
    best = None
    n_t, n_a = inst.eligible.shape
    options = [[None] + [c for c in itertools.combinations(range(n_a), int(inst.k[t]))]
               for t in range(n_t)]
    for combo in itertools.product(*options):
        assign = {t: list(c) for t, c in enumerate(combo) if c is not None}
        try:
            cost = placement_cost(inst, assign)
        except ValueError:
            continue
        key = (-weighted_fill(inst, assign), cost)
        best = key if best is None or key < best else best
    return best


@pytest.mark.parametrize("seed", range(4))
def test_cp_sat_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    inst = Instance(rng.random((3, 5)) < 0.7, rng.integers(1, 3, 3), rng.integers(0, 3, 3),
                    rng.uniform(0.1, 1, 5), rng.integers(1, 3, 5), np.zeros(5, np.int64),
                    ((0, 1),))
    assign, cost = solve_exact(inst)
    fill, best = _brute(inst)
    assert weighted_fill(inst, assign) == -fill
    assert cost == pytest.approx(best, abs=1e-3)


def test_checker_rejects_each_kind_of_violation():
    inst = Instance(np.array([[True, True, False]]), np.array([2]), np.array([0]),
                    np.array([0.5, 0.5, 0.5]), np.array([1, 1, 1]), np.zeros(3, np.int64),
                    ((0, 1),))
    for bad, needle in [({0: [0, 0]}, "distinct"), ({0: [0, 2]}, "ineligible"),
                        ({0: [0, 1]}, "correlated")]:
        with pytest.raises(ValueError, match=needle):
            placement_cost(inst, bad)
