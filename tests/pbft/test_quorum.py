"""Quorum sizes and certificate counting, against naive re-implementations (as etcd-raft checks
its quorum code). OSDI '99 §4.2 (prepared, committed-local), §4.3 (stable checkpoints)."""

from __future__ import annotations

import itertools
import random

import pytest
from uqo.control.pbft.messages import Commit, Prepare, PrePrepare, batch_digest
from uqo.control.pbft.normal import NormalCase
from uqo.control.pbft.quorum import Quorums, largest_agreement, matching
from uqo.control.pbft.state import Slot


def naive_min_intersection(n: int, q: int) -> int:
    """The smallest overlap of two q-subsets of n replicas, by enumeration."""
    sets = [set(c) for c in itertools.combinations(range(n), q)]
    return min(len(a & b) for a in sets for b in sets)


@pytest.mark.parametrize("n", range(1, 11))
def test_quorums_intersect_in_a_correct_replica_and_need_only_correct_ones(n):
    q = Quorums(n)
    assert n >= 3 * q.f + 1 and 3 * (q.f + 1) + 1 > n                  # f is the largest
    assert naive_min_intersection(n, q.quorum) >= q.f + 1              # safety
    assert q.quorum <= n - q.f                                         # liveness
    if q.quorum > 1:                                                   # and it is the least
        assert naive_min_intersection(n, q.quorum - 1) < q.f + 1


@pytest.mark.parametrize("n,f,quorum", [(4, 1, 3), (7, 2, 5), (10, 3, 7), (13, 4, 9)])
def test_paper_sizes_for_n_equal_3f_plus_1(n, f, quorum):
    q = Quorums(n)
    assert (q.f, q.quorum, q.weak) == (f, quorum, f + 1)
    assert [q.primary(v) for v in range(n + 2)] == [*range(n), 0, 1]


@pytest.mark.parametrize("bad", [0, -1, 2.0, "4", True])
def test_quorums_refuse_bad_sizes(bad):
    with pytest.raises(ValueError, match="n must be"):
        Quorums(bad)


def _random_votes(rng: random.Random, n: int) -> dict[int, bytes]:
    digests = [bytes([d]) * 32 for d in range(rng.randint(1, 3))]
    return {r: rng.choice(digests) for r in range(n) if rng.random() < 0.8}


def test_matching_and_largest_agreement_against_naive():
    rng = random.Random(1)
    for _ in range(50_000):
        n = rng.choice((4, 5, 7, 10))
        votes = _random_votes(rng, n)
        digest = bytes([rng.randrange(3)]) * 32
        exclude = rng.choice((None, rng.randrange(n)))
        naive = []
        for r in range(n):
            if r in votes and votes[r] == digest and r != exclude:
                naive.append(r)
        assert matching(votes, digest, exclude) == naive
        best, voters = largest_agreement(votes)
        if not votes:
            assert (best, voters) == (None, [])
            continue
        counts = {d: sum(1 for v in votes.values() if v == d) for d in set(votes.values())}
        top = max(counts.values())
        assert len(voters) == top and counts[best] == top
        assert best == min(d for d, c in counts.items() if c == top)


class _Probe(NormalCase):
    """Just enough of a core to ask the §4.2 predicates about a slot."""

    def __init__(self, n: int):
        self.q = Quorums(n)


def _naive_prepared(slot: Slot, n: int) -> bool:
    """§4.2, word for word: the pre-prepare, and 2f prepares from different backups that
    match it (same view, sequence number and digest)."""
    if slot.pp is None:
        return False
    pp = slot.pp[0]
    f = Quorums(n).f
    need = Quorums(n).quorum - 1          # 2f when n = 3f + 1
    assert n != 3 * f + 1 or need == 2 * f
    backups = set()
    for replica, (p, _) in slot.prepares.items():
        if replica != pp.replica and (p.view, p.seq, p.digest) == (pp.view, pp.seq, pp.digest):
            backups.add(replica)
    return len(backups) >= need


def _naive_committed(slot: Slot, n: int) -> bool:
    if not _naive_prepared(slot, n):
        return False
    pp = slot.pp[0]
    good = {r for r, (c, _) in slot.commits.items() if c.digest == pp.digest}
    return len(good) >= Quorums(n).quorum


def test_prepared_and_committed_against_the_paper_on_random_slots():
    rng = random.Random(2)
    batch = ()
    for _ in range(20_000):
        n = rng.choice((4, 7))
        view, seq = rng.randrange(3), rng.randrange(1, 4)
        digests = [batch_digest(batch), b"\x01" * 32, b"\x02" * 32]
        slot = Slot()
        if rng.random() < 0.9:
            pp = PrePrepare(view, seq, digests[0], batch, view % n)
            slot.pp = (pp, None)
        for r in range(n):
            if rng.random() < 0.75:
                slot.prepares[r] = (Prepare(view, seq, rng.choice(digests[:2] * 3 + digests),
                                            r), None)
            if rng.random() < 0.75:
                slot.commits[r] = (Commit(view, seq, rng.choice(digests[:1] * 4 + digests),
                                          r), None)
        probe = _Probe(n)
        assert (probe._prepared_voters(slot) is not None) == _naive_prepared(slot, n)
        assert probe._committed(slot) == _naive_committed(slot, n)
