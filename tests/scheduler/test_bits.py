import numpy as np
from uqo.control.scheduler.bits import Interner, bit_counts, covers, grow_columns, pack


def test_intern_is_stable_and_lookup_adds_nothing():
    names = Interner()
    assert names.intern(["a", "b", "a"]) == [0, 1, 0]
    assert names.lookup(["b", "zz"]) == ([1], ["zz"])
    assert len(names) == 2


def test_more_than_64_names_use_more_words_and_round_trip():
    names = Interner()
    idx = names.intern([f"n{i}" for i in range(130)])
    assert names.words == 3
    row = pack([idx[0], idx[64], idx[129]], names.words)
    assert names.decode(row) == frozenset({"n0", "n64", "n129"})


def test_covers_matches_set_inclusion_on_random_sets():
    rng = np.random.default_rng(0)
    have_sets = [set(rng.choice(100, rng.integers(0, 20), replace=False)) for _ in range(200)]
    need = set(rng.choice(100, 2, replace=False))
    have = np.stack([pack(s, 2) for s in have_sets])
    expected = np.array([need <= s for s in have_sets])
    assert np.array_equal(covers(have, pack(need, 2)), expected)


def test_grow_columns_and_bit_counts():
    rows = np.stack([pack([0, 3], 1), pack([3], 1)])
    wide = grow_columns(rows, 2)
    assert wide.shape == (2, 2) and np.array_equal(wide[:, 0], rows[:, 0])
    assert bit_counts(wide, 4).tolist() == [1, 0, 0, 2]
