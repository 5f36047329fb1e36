"""RFC 6962 hashing and proofs: the RFC's vectors, a naive recursive oracle, corrupted proofs."""

import hashlib
import json
from pathlib import Path

import pytest
from uqo.security.errors import InvalidArgument, ProofError
from uqo.security.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)

VECTORS = json.loads((Path(__file__).parent / "testdata" / "rfc6962_vectors.json").read_text())
H = bytes.fromhex


def _tree(n=8):
    t = MerkleTree()
    for d in VECTORS["leaves"][:n]:
        t.append(leaf_hash(H(d)))
    return t


def _naive_root(leaves):
    """MTH straight from RFC 6962 §2.1, on raw leaf data."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _naive_root(leaves[:k]) + _naive_root(leaves[k:])).digest()


def test_rfc_roots():
    t = _tree()
    assert t.root(0) == EMPTY_ROOT
    for n, root in enumerate(VECTORS["roots"], start=1):
        assert t.root(n) == H(root)


@pytest.mark.parametrize("case", VECTORS["inclusion"], ids=lambda c: f"{c['index']}in{c['size']}")
def test_rfc_inclusion_proofs(case):
    t = _tree()
    proof = [H(p) for p in case["proof"]]
    assert t.inclusion_proof(case["index"], case["size"]) == proof
    leaf = leaf_hash(H(VECTORS["leaves"][case["index"]]))
    verify_inclusion(case["index"], case["size"], leaf, proof, H(VECTORS["roots"][case["size"] - 1]))


@pytest.mark.parametrize("case", VECTORS["consistency"], ids=lambda c: f"{c['old']}to{c['new']}")
def test_rfc_consistency_proofs(case):
    t = _tree()
    proof = [H(p) for p in case["proof"]]
    assert t.consistency_proof(case["old"], case["new"]) == proof
    verify_consistency(case["old"], case["new"], H(VECTORS["roots"][case["old"] - 1]),
                       H(VECTORS["roots"][case["new"] - 1]), proof)


def test_against_the_naive_oracle_for_every_size_and_index():
    data = [bytes([i]) * (i % 5) for i in range(40)]
    t = MerkleTree()
    for d in data:
        t.append(leaf_hash(d))
    for n in range(1, 41):
        root = _naive_root(data[:n])
        assert t.root(n) == root
        for m in range(n):
            verify_inclusion(m, n, leaf_hash(data[m]), t.inclusion_proof(m, n), root)
        for m in range(n + 1):
            verify_consistency(m, n, _naive_root(data[:m]), root, t.consistency_proof(m, n))


def _corruptions(proof):
    yield "truncated", proof[:-1]
    yield "extended", proof + [proof[0]]
    yield "prepended", [b"\x00" * 32] + proof
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = bytes([bad[i][0] ^ 8]) + bad[i][1:]
        yield f"flip[{i}]", bad


def test_corrupted_inclusion_proofs_are_refused():
    t = _tree()
    root, leaf, proof = t.root(8), leaf_hash(H(VECTORS["leaves"][5])), t.inclusion_proof(5, 8)
    for name, bad in _corruptions(proof):
        with pytest.raises(ProofError):
            verify_inclusion(5, 8, leaf, bad, root)
    for index, size in ((4, 8), (6, 8), (5, 16), (5, 4), (8, 8)):
        with pytest.raises(ProofError):
            verify_inclusion(index, size, leaf, proof, root)
    with pytest.raises(ProofError, match="32 bytes"):
        verify_inclusion(5, 8, b"short", proof, root)


def test_corrupted_consistency_proofs_are_refused():
    t = _tree()
    r6, r8, proof = t.root(6), t.root(8), t.consistency_proof(6, 8)
    for name, bad in _corruptions(proof):
        with pytest.raises(ProofError):
            verify_consistency(6, 8, r6, r8, bad)
    for old, new, a, b in ((5, 8, r6, r8), (6, 8, r8, r6), (6, 16, r6, r8), (8, 6, r6, r8)):
        with pytest.raises(ProofError):
            verify_consistency(old, new, a, b, proof)
    with pytest.raises(ProofError, match="empty consistency proof"):
        verify_consistency(6, 8, r6, r8, [])
    with pytest.raises(ProofError, match="equal roots"):
        verify_consistency(8, 8, r6, r8, [])
    verify_consistency(0, 8, EMPTY_ROOT, r8, [])


@pytest.mark.parametrize("prefix", [1, 5, 8, 13, 32])
def test_a_tree_from_a_compact_range_matches_the_full_tree(prefix):
    leaves = [leaf_hash(str(i).encode()) for i in range(50)]
    full = MerkleTree()
    for leaf in leaves:
        full.append(leaf)
    pruned = MerkleTree(prefix, full.compact_range(prefix))
    for leaf in leaves[prefix:]:
        pruned.append(leaf)
    for n in range(prefix, 51):
        assert pruned.root(n) == full.root(n)
    for m in range(prefix, 50):
        assert pruned.inclusion_proof(m) == full.inclusion_proof(m)
        assert pruned.consistency_proof(m) == full.consistency_proof(m)
    if prefix > 1:
        with pytest.raises(ProofError, match="not available"):
            pruned.inclusion_proof(0)


def test_argument_checks():
    t = _tree(3)
    with pytest.raises(InvalidArgument, match="^leaf:"):
        t.append(b"x")
    with pytest.raises(InvalidArgument, match="^size:"):
        t.root(4)
    with pytest.raises(InvalidArgument, match="^index:"):
        t.inclusion_proof(3, 3)
    with pytest.raises(InvalidArgument, match="^old:"):
        t.consistency_proof(3, 2)
    with pytest.raises(InvalidArgument, match="^prefix_nodes:"):
        MerkleTree(3, [b"\x00" * 32])
