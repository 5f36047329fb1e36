"""Merkle tree hashing of RFC 6962 / RFC 9162 (Certificate Transparency) with proofs.

Use cases::

    tree = MerkleTree()
    tree.append(leaf_hash(b"record 0")); tree.append(leaf_hash(b"record 1"))
    tree.root()                                   # MTH of all leaves; root(n) for a prefix
    path = tree.inclusion_proof(0, 2)             # audit path of leaf 0 in the 2-leaf tree
    verify_inclusion(0, 2, leaf_hash(b"record 0"), path, tree.root(2))     # or ProofError
    proof = tree.consistency_proof(1, 2)
    verify_consistency(1, 2, tree.root(1), tree.root(2), proof)            # or ProofError

Hashes: leaf ``SHA256(0x00 || d)``, node ``SHA256(0x01 || left || right)``, empty tree
``SHA256("")``; a tree of n leaves splits at the largest power of two below n. Proof generation
follows RFC 6962 §2.1.1-2.1.2; the verifiers are the independent bit-walking algorithms of
RFC 9162 §2.1.3.2 and §2.1.4.2, so each side checks the other (plus the RFC's test vectors).

Storage: ``levels[k]`` holds the hashes of the complete, aligned subtrees of 2**k leaves (a
bytearray of 32-byte hashes), so appending is O(1) amortised and any subtree hash is O(log n).
A tree can start from a *compact range* (the hashes of the complete subtrees covering the first
``P`` leaves): that is how the audit log keeps its tree after pruning old records.

Written here rather than taken from a library: no maintained Python package implements
RFC 6962's proofs over an appendable store with pruning; this is ~150 lines checked against the
RFC's vectors and a naive recursive oracle in the tests.
"""

from __future__ import annotations

import hashlib

from .errors import InvalidArgument, ProofError

HASH_LEN = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def compact_positions(size: int) -> list[tuple[int, int]]:
    """``(level, index)`` of the complete subtrees covering leaves ``[0, size)``, largest first."""
    return [(k, (size >> k) - 1) for k in range(size.bit_length() - 1, -1, -1) if size >> k & 1]


class MerkleTree:
    """An append-only RFC 6962 tree, optionally starting from a pruned prefix."""

    def __init__(self, prefix_size: int = 0, prefix_nodes: list[bytes] = ()):
        positions = compact_positions(prefix_size)
        if len(positions) != len(prefix_nodes):
            raise InvalidArgument("prefix_nodes", f"a prefix of {prefix_size} leaves needs "
                                  f"{len(positions)} nodes, got {len(prefix_nodes)}")
        self.prefix_size = self.size = prefix_size
        depth = max(prefix_size.bit_length(), 1)
        self._base = [(prefix_size >> k) - (prefix_size >> k & 1) for k in range(depth)]
        self._levels = [bytearray() for _ in range(depth)]
        for (k, _), node in zip(positions, prefix_nodes):
            self._levels[k] += node

    def append(self, leaf: bytes) -> int:
        """Add a leaf hash; returns its index."""
        if len(leaf) != HASH_LEN:
            raise InvalidArgument("leaf", f"must be {HASH_LEN} bytes, got {len(leaf)}")
        index, node, k = self.size, leaf, 0
        while True:
            if k == len(self._levels):
                self._levels.append(bytearray())
                self._base.append(0)
            self._levels[k] += node
            j = (index >> k)
            if not j & 1:
                break
            node = node_hash(self._node(k, j - 1), node)
            k += 1
        self.size += 1
        return index

    def _node(self, k: int, j: int) -> bytes:
        i = j - self._base[k]
        level = self._levels[k] if k < len(self._levels) else b""
        if i < 0 or (i + 1) * HASH_LEN > len(level):
            raise ProofError(f"subtree (level {k}, index {j}) is not available (pruned or "
                             f"beyond the tree)")
        return bytes(level[i * HASH_LEN:(i + 1) * HASH_LEN])

    def subtree(self, start: int, end: int) -> bytes:
        """MTH of leaves ``[start, end)``; ``start`` must be aligned as RFC 6962 splits are."""
        n = end - start
        if n == 1 or (n & (n - 1) == 0 and start % n == 0):
            return self._node(n.bit_length() - 1, start // n)
        k = _split(n)
        return node_hash(self.subtree(start, start + k), self.subtree(start + k, end))

    def _check_size(self, size: int | None, low: int = 0) -> int:
        size = self.size if size is None else size
        if isinstance(size, bool) or not isinstance(size, int) or not low <= size <= self.size:
            raise InvalidArgument("size", f"must be in [{low}, {self.size}], got {size!r}")
        return size

    def root(self, size: int | None = None) -> bytes:
        size = self._check_size(size, self.prefix_size)
        if size == 0:
            return EMPTY_ROOT
        nodes = [self._node(k, j) for k, j in compact_positions(size)]
        acc = nodes[-1]
        for node in reversed(nodes[:-1]):
            acc = node_hash(node, acc)
        return acc

    def compact_range(self, size: int | None = None) -> list[bytes]:
        """The hashes that let a new tree start at ``size`` leaves (see ``__init__``)."""
        size = self._check_size(size, self.prefix_size)
        return [self._node(k, j) for k, j in compact_positions(size)]

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 6962 PATH(index, D[0:size])."""
        size = self._check_size(size, 1)
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < size:
            raise InvalidArgument("index", f"must be in [0, {size}), got {index!r}")
        return self._path(index, 0, size)

    def _path(self, m: int, start: int, end: int) -> list[bytes]:
        n = end - start
        if n == 1:
            return []
        k = _split(n)
        if m < k:
            return self._path(m, start, start + k) + [self.subtree(start + k, end)]
        return self._path(m - k, start + k, end) + [self.subtree(start, start + k)]

    def consistency_proof(self, old: int, new: int | None = None) -> list[bytes]:
        """RFC 6962 PROOF(old, D[0:new]); empty when ``old`` is 0 or equals ``new``."""
        new = self._check_size(new)
        old = self._check_size(old)
        if old > new:
            raise InvalidArgument("old", f"{old} is beyond the new size {new}")
        if old == 0 or old == new:
            return []
        return self._subproof(old, 0, new, True)

    def _subproof(self, m: int, start: int, end: int, complete: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if complete else [self.subtree(start, end)]
        k = _split(n)
        if m <= k:
            return self._subproof(m, start, start + k, complete) + [self.subtree(start + k, end)]
        return self._subproof(m - k, start + k, end, False) + [self.subtree(start, start + k)]


def _check_hashes(name: str, hashes) -> None:
    for h in hashes:
        if not isinstance(h, (bytes, bytearray)) or len(h) != HASH_LEN:
            raise ProofError(f"{name}: every hash must be {HASH_LEN} bytes")


def verify_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes],
                     root: bytes) -> None:
    """RFC 9162 §2.1.3.2; raises ``ProofError`` unless ``leaf`` is at ``index`` under ``root``."""
    _check_hashes("inclusion", [leaf, root, *proof])
    if not 0 <= index < size:
        raise ProofError(f"index {index} is outside a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or r != root:
        raise ProofError(f"inclusion proof for leaf {index} in tree {size} does not verify")


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes,
                       proof: list[bytes]) -> None:
    """RFC 9162 §2.1.4.2; raises ``ProofError`` unless tree ``old`` is a prefix of ``new``."""
    _check_hashes("consistency", [old_root, new_root, *proof])
    if not 0 <= old <= new:
        raise ProofError(f"sizes {old} -> {new} go backwards")
    if old == new or old == 0:
        if proof or (old == new and old_root != new_root):
            raise ProofError(f"trees {old} and {new} need an empty proof and equal roots")
        return
    if not proof:
        raise ProofError("empty consistency proof")
    if old & (old - 1) == 0:
        proof = [old_root, *proof]
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or fr != old_root or sr != new_root:
        raise ProofError(f"consistency proof {old} -> {new} does not verify")
