"""The tangled-signature flow of ``ranked`` (agents of one signature without a node) reaches the
same optimum as the plain network with one node per agent, on random instances with heavy
sharing, scarce capacity and several priority levels."""

import typing

import numpy as np
import pytest
from uqo.control.scheduler import ranked
from uqo.control.scheduler.flow import Network
from uqo.control.scheduler.ranking import Units, unit_costs


class _Ledger:
    def __init__(self, free):
        self._free = free

    def free(self, slots):
        return self._free[slots]


class _Recording(Network):
    costs: typing.ClassVar[list] = []

    def solve(self):
        super().solve()
        _Recording.costs.append(self.cost())


def _plain_flow(ledger, groups, k, level, cost_of):
    """The reference network: every listed agent is a node between hubs and the sink."""
    sig_of = np.concatenate([np.full(len(u.slots), g) for g, (_, u) in enumerate(groups)])
    uniq, a_of = np.unique(np.concatenate([u.slots for _, u in groups]), return_inverse=True)
    n_tasks = np.array([len(r) for r, _ in groups], np.int64)
    pair = np.unique(sig_of * np.int64(len(uniq)) + a_of)
    p_sig, p_agent = pair // len(uniq), pair % len(uniq)
    free = ledger.free(uniq)
    net = _Recording()
    anode, sink, hub = net.nodes(len(uniq)), net.nodes(1)[0], net.nodes(len(groups))
    units = np.minimum(free, np.bincount(p_agent, weights=n_tasks[p_sig],
                                         minlength=len(uniq)).astype(np.int64))
    u_agent, _, u_cost = unit_costs(np.arange(len(uniq)), units,
                                      lambda a, j: cost_of(uniq[a], j))
    net.arcs(anode[u_agent], sink, 1, np.rint(u_cost * ranked.COST_SCALE).astype(np.int64))
    ranked._demand_nodes(net, hub, sink, groups, k, level)
    arcs = net.arcs(hub[p_sig], anode[p_agent], np.minimum(free[p_agent], n_tasks[p_sig]), 0)
    net.solve()
    return net.flows(arcs), p_sig


def _instance(rng):
    n_agents, n_groups = int(rng.integers(5, 60)), int(rng.integers(2, 7))
    base = rng.choice([0.05, 0.1, 0.2], n_agents)          # few values: many tied optima
    load = rng.integers(0, 2, n_agents)
    cap = load + rng.integers(0, 4, n_agents)
    free = cap - load

    def cost_of(a, j):
        return base[a] + 0.01 * (load[a] + j) / np.maximum(cap[a], 1)

    groups, row, k_all, level_all = [], 0, [], []
    for _ in range(n_groups):
        n_rows = int(rng.integers(1, 5))
        rows = np.arange(row, row + n_rows)
        row += n_rows
        k_all += rng.integers(1, 4, n_rows).tolist()
        level_all += rng.integers(0, 3, n_rows).tolist()
        slots = np.sort(rng.choice(n_agents, int(rng.integers(1, n_agents + 1)), replace=False))
        slots = slots[free[slots] > 0]
        if len(slots) == 0:
            slots = np.array([int(np.argmax(free))])
        groups.append((rows, Units(slots, np.zeros(len(slots), np.int64), cost_of(slots, 0),
                                   False, 0)))
    return groups, np.array(k_all), np.array(level_all), _Ledger(free), cost_of


@pytest.mark.parametrize("seed", range(40))
def test_flow_without_private_agent_nodes_reaches_the_plain_optimum(seed, monkeypatch):
    rng = np.random.default_rng(seed)
    groups, k, level, ledger, cost_of = _instance(rng)
    _Recording.costs = []
    monkeypatch.setattr(ranked, "Network", _Recording)
    out = ranked._flow(ledger, groups, k, level, cost_of)
    plain_flows, _ = _plain_flow(ledger, groups, k, level, cost_of)
    fast_cost, plain_cost = _Recording.costs
    assert fast_cost == plain_cost
    assert sum(len(o) for o in out) == plain_flows.sum()   # ties may move units between
    for g, (rows, units) in enumerate(groups):                 # signatures, not their number
        assert np.isin(out[g], units.slots).all()
        assert np.bincount(out[g]).max(initial=0) <= len(rows)
    used = np.bincount(np.concatenate(out), minlength=len(ledger._free))
    assert (used <= ledger._free).all()


def _deal_spread_plain(ledger, rows, k, units, keys):
    """The reference greedy: for each agent (most repeated first) a pass over every task."""
    agents, first, mult = np.unique(units, return_index=True, return_counts=True)
    mult = np.minimum(mult, ledger.free(agents))
    order = np.lexsort((first, -mult))
    total, chosen = int(mult.sum()), []
    for r in rows.tolist():
        if k[r] <= total:
            chosen.append(r)
            total -= int(k[r])
    need = {r: int(k[r]) for r in chosen}
    got = {r: [] for r in chosen}
    held = {r: set() for r in chosen}
    key_of = dict(zip(units.tolist(), keys.tolist()))
    for i in order.tolist():
        a = int(agents[i])
        open_rows = [r for r in chosen if need[r] > 0 and key_of[a] not in held[r]]
        open_rows.sort(key=lambda r: -need[r])
        for r in open_rows[:int(mult[i])]:
            got[r].append(a)
            held[r].add(key_of[a])
            need[r] -= 1
    for r in chosen:
        if need[r] == 0:
            ledger.commit(r, np.array(got[r], np.int64))
    return np.array([r for r in rows.tolist() if r not in need or need[r] > 0], np.int64)


def _table(n, rng):
    from types import SimpleNamespace

    cap = rng.integers(1, 5, n).astype(np.int32)
    return SimpleNamespace(load=np.zeros(n, np.int32), cap=cap, active=np.ones(n, bool),
                           up=np.ones(n, bool))


@pytest.mark.parametrize("seed", range(30))
def test_bucketed_deal_gives_what_the_plain_greedy_gives(seed):
    from uqo.control.scheduler.ledger import Ledger

    rng = np.random.default_rng(seed)
    n_agents, n_rows = int(rng.integers(3, 40)), int(rng.integers(1, 30))
    k = rng.integers(1, 5, n_rows)
    rows = np.sort(rng.choice(n_rows, int(rng.integers(1, n_rows + 1)), replace=False))
    units = rng.integers(0, n_agents, int(rng.integers(1, 80)))
    pair_key = np.arange(n_agents) // 2 * 2                  # agents 2i, 2i+1 share a key
    keys = np.where(rng.random(n_agents) < 0.3, pair_key, np.arange(n_agents))[units]
    table = _table(n_agents, rng)
    fast, plain = Ledger(table), Ledger(_table(n_agents, np.random.default_rng(seed)))
    plain.table.cap = table.cap.copy()
    left_fast = ranked._deal_spread(None, fast, rows, k, units, keys)
    left_plain = _deal_spread_plain(plain, rows, k, units, keys)
    assert np.array_equal(left_fast, left_plain)
    assert fast.placed.keys() == plain.placed.keys()
    for r in fast.placed:
        assert np.array_equal(fast.placed[r], plain.placed[r])
    assert np.array_equal(fast.table.load, plain.table.load)


@pytest.mark.parametrize("seed", range(6))
def test_parallel_unit_arcs_merged_by_cost_give_the_unit_network_optimum(seed):
    """``_ParallelUnits``: unit arcs merged per (tail, cost) solve to the same optimal cost as
    one arc per unit, and give each unit its flow back consistently: per tail, the units used
    are its cheapest (ties by arc order), as many as the tail's flow."""
    rng = np.random.default_rng(seed)
    n_tails, n_units = 12, 400
    tails_of = rng.integers(0, n_tails, n_units)
    icost = rng.integers(0, 6, n_units).astype(np.int64)          # heavy ties
    send = np.array([rng.integers(0, (tails_of == t).sum() + 1) for t in range(n_tails)])
    results = []
    for merged in (False, True):
        net = Network()
        tails, sink = net.nodes(n_tails), net.nodes(1)[0]
        # each tail may send up to its budget; a pricey bypass keeps the network feasible
        src = net.nodes(1)[0]
        net.arcs(np.full(n_tails, src), tails, send, 0)
        net.supply([src, sink], [int(send.sum()), -int(send.sum())])
        net.arcs([src], [sink], [int(send.sum())], [1000])
        if merged:
            arcs = ranked._ParallelUnits(net, tails[tails_of], sink, icost)
            net.solve()
            flow = arcs.flows(net)
        else:
            idx = net.arcs(tails[tails_of], sink, 1, icost)
            net.solve()
            flow = net.flows(idx)
        results.append((net.cost(), flow))
    (cost_plain, flow_plain), (cost_merged, flow) = results
    assert cost_merged == cost_plain
    assert set(np.unique(flow)) <= {0, 1}
    for t in range(n_tails):
        mine = np.flatnonzero(tails_of == t)
        assert flow[mine].sum() == flow_plain[mine].sum() == send[t]
        cheapest = mine[np.argsort(icost[mine], kind="stable")][:send[t]]
        assert set(np.flatnonzero(flow)) & set(mine) == set(cheapest.tolist())


def test_claimed_lists_do_not_depend_on_where_the_scan_starts():
    """``claim_units`` scans from ``d + slack`` units and doubles; a scan that saw every unit
    at once lists the same units for every signature, on agents claimed by earlier ones."""
    grew = 0
    for seed in range(30):
        rng = np.random.default_rng(seed)
        n = int(rng.integers(20, 300))
        slots = np.repeat(np.arange(n), rng.integers(1, 4, n))
        j = np.concatenate([np.arange(c) for c in np.bincount(slots)])
        cost = rng.integers(0, 5, len(slots)) + j                    # many equal costs
        order = np.lexsort((j, slots, cost))
        every = Units(slots[order], j[order], cost[order] * 1.0, False, 0)
        calls = []

        def scan(m, every=every, calls=calls):
            calls.append(m)
            m = min(m, len(every.slots))
            return Units(every.slots[:m], every.j[:m], every.cost[:m], m == len(every.slots), 0)

        def whole(m, every=every):
            return Units(every.slots, every.j, every.cost, True, 0)

        claims, seen = ranked.Claims(n), ranked.Claims(n)
        for _ in range(6):                         # signatures, each claiming what it lists
            d, slack = int(rng.integers(1, 40)), int(rng.integers(0, 20))
            calls.clear()
            got = ranked.claim_units(scan, d, slack, claims)
            want = ranked.claim_units(whole, d, slack, seen)
            assert np.array_equal(got.slots, want.slots) and np.array_equal(got.j, want.j)
            assert calls[0] == d + slack
            grew += len(calls) > 1
    assert grew >= 10                              # scans that had to grow were checked too
