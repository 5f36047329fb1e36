"""Quorum sizes and vote counting (OSDI '99 §4.2-§4.5; TOCS 2002 "quorums and certificates").

Use cases::

    q = Quorums(4)                  # n = 4 replicas: f = 1, quorum 3, weak certificate 2
    q.primary(view=5)               # 1: primary of view v is v mod n (§4)
    matching(votes, digest)         # replicas whose vote carries ``digest``

With n replicas the protocol tolerates f = floor((n - 1) / 3) faulty ones (n >= 3f + 1). A
quorum must intersect any other quorum in at least f + 1 replicas (so in one correct replica)
and must be formed by the n - f replicas that may be correct alone. The smallest such size is
ceil((n + f + 1) / 2); for n = 3f + 1 that is the paper's 2f + 1. ``tests/pbft/test_quorum.py``
checks both properties by enumerating replica sets, and the counting below against a naive
re-implementation on random votes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class Quorums:
    """Sizes for a group of ``n`` replicas (``n >= 1``)."""

    __slots__ = ("f", "n", "quorum", "weak")

    def __init__(self, n: int):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be an int >= 1, got {n!r}")
        self.n = n
        self.f = (n - 1) // 3
        self.quorum = (n + self.f) // 2 + 1      # == ceil((n + f + 1) / 2)
        self.weak = self.f + 1                   # contains at least one correct replica

    def primary(self, view: int) -> int:
        """§4: the primary of view ``view`` is replica ``view mod n``."""
        return view % self.n


def matching(votes: Mapping[int, bytes], digest: bytes, exclude: int | None = None) -> list[int]:
    """Replicas (sorted) whose single recorded vote is for ``digest``, leaving out
    ``exclude`` (the primary, whose pre-prepare stands for its prepare in §4.2).

    ``votes`` maps replica -> digest: the log keeps the first vote of each replica per
    (view, seq), so a replica that votes twice counts at most once."""
    return sorted(r for r, d in votes.items() if d == digest and r != exclude)


def largest_agreement(votes: Mapping[int, bytes]) -> tuple[bytes | None, list[int]]:
    """The digest with the most voters and those voters (ties: the smallest digest)."""
    by_digest: dict[bytes, list[int]] = {}
    for replica, digest in votes.items():
        by_digest.setdefault(digest, []).append(replica)
    if not by_digest:
        return None, []
    digest = min(by_digest, key=lambda d: (-len(by_digest[d]), d))
    return digest, sorted(by_digest[digest])


def distinct_at_least(replicas: Iterable[int], count: int) -> bool:
    """Whether ``replicas`` names at least ``count`` distinct replicas."""
    return len(set(replicas)) >= count
