"""The linearizability checker: textbook histories, and agreement with a brute-force oracle."""

import itertools
import random

import pytest
from uqo.control.client.linearizability import Op, RegisterModel, TaskModel, check


def test_sequential_task_history_is_linearizable():
    ops = [Op(0, 0, 1, "write", "t1", "ok"), Op(1, 2, 3, "read", "t1", "present"),
           Op(1, 4, 5, "read", "t2", "absent")]
    assert check(ops, TaskModel()).ok


def test_stale_read_after_acknowledged_write_is_caught():
    ops = [Op(0, 0, 1, "write", "t1", "ok"), Op(1, 2, 3, "read", "t1", "absent")]
    result = check(ops, TaskModel())
    assert not result.ok and result.key == "t1" and len(result.ops) == 2


def test_read_seeing_a_write_before_it_was_invoked_is_caught():
    ops = [Op(1, 0, 1, "read", "t1", "present"), Op(0, 2, 3, "write", "t1", "ok")]
    assert not check(ops, TaskModel()).ok


def test_concurrent_read_may_see_either():
    for seen in ("present", "absent"):
        ops = [Op(0, 0, 3, "write", "t1", "ok"), Op(1, 1, 2, "read", "t1", seen)]
        assert check(ops, TaskModel()).ok


def test_non_monotonic_reads_are_caught():
    """present, then absent, while the write is still in flight: no single instant works."""
    ops = [Op(0, 0, 10, "write", "t1", "ok"), Op(1, 1, 2, "read", "t1", "present"),
           Op(1, 3, 4, "read", "t1", "absent")]
    assert not check(ops, TaskModel()).ok


def test_unknown_outcome_may_or_may_not_happen():
    maybe = Op(0, 0, None, "write", "t1")
    assert check([maybe, Op(1, 5, 6, "read", "t1", "absent")], TaskModel()).ok
    assert check([maybe, Op(1, 5, 6, "read", "t1", "present")], TaskModel()).ok
    # ... but not both in the wrong order: once seen present it cannot vanish
    assert not check([maybe, Op(1, 5, 6, "read", "t1", "present"),
                      Op(1, 7, 8, "read", "t1", "absent")], TaskModel()).ok


def test_retried_write_answered_exists_is_fine_only_after_a_first_write():
    first = Op(0, 0, None, "write", "t1")
    retry = Op(0, 1, 2, "write", "t1", "exists")
    assert check([first, retry], TaskModel()).ok
    assert not check([retry], TaskModel()).ok


def test_register_lost_update_is_caught():
    ops = [Op(0, 0, 1, "write", ("x", 1)), Op(1, 2, 3, "write", ("x", 2)),
           Op(2, 4, 5, "read", "x", 1)]
    assert not check(ops, RegisterModel()).ok


def _brute_force(ops, model) -> bool:
    """Every order of the operations (unknown ones optional) that respects real time."""
    known = [o for o in ops if o.ret is not None]
    unknown = [o for o in ops if o.ret is None]
    for k in range(len(unknown) + 1):
        for chosen in itertools.combinations(unknown, k):
            for order in itertools.permutations(known + list(chosen)):
                if _legal(order, model):
                    return True
    return False


def _legal(order, model) -> bool:
    for i, a in enumerate(order):          # a placed before b although b returned before a
        for b in order[i + 1:]:            # was called: real time violated
            if b.ret is not None and b.ret < a.call:
                return False
    state = model.init()
    for op in order:
        ok, state = model.step(state, op)
        if not ok:
            return False
    return True


def _random_history(rng: random.Random, n: int):
    ops, value = [], 0
    for client in range(n):
        call = rng.uniform(0, 10)
        ret = None if rng.random() < 0.15 else call + rng.uniform(0.1, 4)
        if rng.random() < 0.5:
            value += 1
            ops.append(Op(client, call, ret, "write", ("x", value)))
        else:
            ops.append(Op(client, call, ret, "read", "x", rng.choice([None, *range(1, 4)])))
    return ops


@pytest.mark.parametrize("seed", range(4))
def test_agrees_with_brute_force_on_random_histories(seed):
    rng = random.Random(seed)
    verdicts = set()
    for _ in range(400):
        ops = _random_history(rng, rng.randint(1, 6))
        expected = _brute_force(ops, RegisterModel())
        assert check(ops, RegisterModel()).ok == expected, ops
        verdicts.add(expected)
    assert verdicts == {True, False}       # the random histories exercise both answers


def test_many_unknown_retries_stay_cheap_and_exact():
    retries = [Op(0, 0.01 * k, None, "write", "t1") for k in range(200)]
    late = Op(0, 5, 6, "write", "t1", "exists")
    assert check([*retries, late, Op(1, 7, 8, "read", "t1", "present")], TaskModel()).ok
    assert not check([*retries, late, Op(1, 7, 8, "read", "t1", "absent")], TaskModel()).ok
    # a read before every retry began cannot see the write
    assert not check([Op(1, -2, -1, "read", "t1", "present"), *retries], TaskModel()).ok
