import numpy as np
import pytest
from uqo.control.scheduler.registry import AgentTable

from .conftest import agent


def _naive_members(table, key):
    kind, i = key
    out = []
    for s in np.flatnonzero(table.active):
        spec_caps = table.cap_names.decode(table.cap_words[s])
        spec_comps = table.comp_names.decode(table.comp_words[s])
        if kind == "cap" and table.cap_names.names[i] in spec_caps or \
                kind == "comp" and table.comp_names.names[i] in spec_comps or \
                kind == "level" and table.clearance[s] >= i:
            out.append(int(s))
    return sorted(out)


def test_add_remove_keep_columns_and_reject_duplicates():
    t = AgentTable(8)
    slots = t.add([agent(0, ("gpu", "cpu"), 2, ("x",), 3), agent(1)])
    assert t.n_active == 2 and t.cap[slots[0]] == 3 and t.clearance[slots[0]] == 2
    assert t.cap_names.decode(t.cap_words[slots[0]]) == frozenset({"gpu", "cpu"})
    with pytest.raises(ValueError, match="'a1' is already registered"):
        t.add([agent(1)])
    with pytest.raises(ValueError, match="unknown agent_id 'zz'"):
        t.remove("zz")
    gen = t.gen[slots[1]]
    t.remove("a1")
    assert not t.active[slots[1]] and t.gen[slots[1]] == gen + 1 and t.n_active == 1


def test_full_table_rejects_and_changes_nothing():
    t = AgentTable(2)
    t.add([agent(0), agent(1)])
    with pytest.raises(ValueError, match="cannot add 1 agents"):
        t.add([agent(2)])
    assert t.n_active == 2 and "a2" not in t.slot_of


def test_postings_stay_exact_and_duplicate_free_through_churn():
    rng = np.random.default_rng(1)
    t = AgentTable(300)
    live, n = [], 0
    for step in range(40):
        add = [agent(n + i, rng.choice(["a", "b", "c"], rng.integers(1, 3), replace=False),
                     int(rng.integers(0, 4))) for i in range(int(rng.integers(1, 12)))]
        n += len(add)
        t.add(add)
        live += [a.agent_id for a in add]
        for _ in range(int(rng.integers(0, 6))):
            if live:
                t.remove(live.pop(int(rng.integers(0, len(live)))))
        for key in [("cap", 0), ("cap", 2), ("level", 2), ("level", 0)]:
            if key[0] == "cap" and key[1] >= len(t.cap_names):
                continue
            post = t.posting(key)
            assert len(np.unique(post)) == len(post)
            listed_active = sorted(int(s) for s in post if t.active[s])
            assert listed_active == _naive_members(t, key)


def test_eligibility_checks_every_constraint():
    t = AgentTable(8)
    t.add([agent(0, ("gpu",), 3, ("x",)), agent(1, ("gpu", "cpu"), 1, ("x", "y")),
           agent(2, ("cpu",), 3, ())])
    need, why = t.compile_need(frozenset({"gpu"}), frozenset({"x"}), 2)
    assert why is None
    ok = t.eligible(np.arange(3), need.caps, need.comps, need.level)
    assert ok.tolist() == [True, False, False]
    t.up[0] = False
    assert not t.eligible(np.array([0]), need.caps, need.comps, need.level)[0]
    assert t.eligible(np.array([0]), need.caps, need.comps, need.level, require_up=False)[0]


def test_unknown_names_are_reported_and_the_smallest_posting_is_chosen():
    t = AgentTable(8)
    t.add([agent(i, ("cpu",) if i else ("cpu", "rare")) for i in range(5)])
    need, why = t.compile_need(frozenset({"tpu"}), frozenset(), 0)
    assert need is None and why.startswith("unknown_capability") and "'tpu'" in why
    need, _ = t.compile_need(frozenset({"cpu", "rare"}), frozenset(), 0)
    assert need.key == ("cap", t.cap_names.lookup(["rare"])[0][0])


def test_compiled_needs_are_kept_only_while_membership_is_unchanged():
    t = AgentTable(16)
    t.add([agent(i, ("cpu", "rare") if i == 0 else ("cpu",)) for i in range(5)])
    key = frozenset({"cpu", "rare"})
    first = t.compile_need(key, frozenset(), 0)
    assert t.compile_need(key, frozenset(), 0) is first                  # kept
    assert first[0].key == ("cap", t.cap_names.lookup(["rare"])[0][0])   # 1 holder vs 5
    assert t.compile_need(frozenset({"tpu"}), frozenset(), 0)[0] is None
    t.add([agent(i, ("rare", "tpu")) for i in range(5, 13)])   # now 9 hold "rare", 5 "cpu"
    need, why = t.compile_need(frozenset({"tpu"}), frozenset(), 0)
    assert why is None and need.key == ("cap", t.cap_names.lookup(["tpu"])[0][0])
    assert t.compile_need(key, frozenset(), 0)[0].key == ("cap", t.cap_names.lookup(["cpu"])[0][0])


def test_slots_are_not_reused_before_compaction():
    t = AgentTable(4)
    t.add([agent(i) for i in range(3)])
    t.remove("a0")
    (slot,) = t.add([agent(9)])
    assert slot == 3
    t.compact()
    t.remove("a9")
    t.compact()
    assert t.add([agent(10)])[0] in (0, 3)
