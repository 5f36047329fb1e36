"""Verification of an audit log directory from its files and trusted public keys alone.

Use cases::

    report = verify_log("uqo-data/audit", keys)      # keys: key_id -> PublicKeyInfo
    report.ok                                        # True only for an intact log
    for f in report.findings: print(f.kind, f.where, f.message)

What each tampering looks like:

* a record's JSON edited, leaf hash left alone -> ``changed``, naming the record;
* edited and its leaf hash recomputed -> ``mismatch``: the first signed checkpoint that no
  longer matches, naming the range of records between it and the last one that does;
* lines swapped -> ``reordered`` (a record after a later one); lines removed from the middle ->
  ``removed`` (the missing sequence numbers); from the end -> ``removed`` (a signed checkpoint
  covers more records than remain); duplicated -> ``duplicated``;
* a damaged line -> ``unreadable``; a forged or unknown-key checkpoint -> ``signature``.

Records after the newest checkpoint are covered by no signature yet; the report counts them
(``unsigned_tail``) without calling that a failure. Truncating the log together with its
newest checkpoints, or rewriting it and re-signing every checkpoint with the log's own (stolen)
key, cannot be seen from one directory: give ``witnessed`` checkpoints kept elsewhere (the
witness file, a monitoring system, a replica) and each is compared with the log as it is now:

* the log's tree at a witnessed size has another root -> ``rewritten`` (records before that
  size were changed, removed or inserted, whatever the signatures say);
* the log is shorter than a witnessed size -> ``removed``.

When the trusted keys include an ML-DSA-65 key, every checkpoint must carry a valid ML-DSA
countersignature (``signature`` otherwise).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field

from .auditfile import (
    ANCHOR_PREFIX,
    CHECKPOINT_FILE,
    LOG_FILE,
    Anchor,
    read_checkpoints,
    read_lines,
    split_line,
)
from .errors import AuditError, InvalidArgument, SignatureInvalid
from .merkle import MerkleTree, leaf_hash
from .signing import ML_DSA_65


@dataclass(frozen=True)
class Finding:
    kind: str
    where: str
    message: str


@dataclass
class VerifyReport:
    records: int = 0
    first_seq: int = 0
    checkpoints: int = 0
    verified_checkpoints: int = 0
    unsigned_tail: int = 0
    witnessed: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def add(self, kind: str, where: str, message: str) -> None:
        self.findings.append(Finding(kind, where, message))

    def to_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}


def _read_records(path: str, report: VerifyReport):
    """``(anchor or None, [(line number, seq, stored leaf)])``; content checks as it goes."""
    anchor, rows = None, []
    if not os.path.exists(path):
        return anchor, rows
    for i, (_, line, complete) in enumerate(read_lines(path), start=1):
        if i == 1 and line.startswith(ANCHOR_PREFIX):
            try:
                anchor = Anchor.parse(line)
            except AuditError as exc:
                report.add("unreadable", "line 1", str(exc))
            continue
        try:
            leaf, data = split_line(line)
            seq = json.loads(data)["seq"]
            if not isinstance(seq, int):
                raise TypeError("seq is not an integer")
        except (ValueError, KeyError, TypeError) as exc:
            report.add("unreadable", f"line {i}", f"line {i} is not a record ({exc})")
            continue
        if not complete:
            report.add("unreadable", f"line {i}", f"line {i} (record {seq}) is cut short")
        if leaf_hash(data) != leaf:
            report.add("changed", f"record {seq}", f"record {seq} (line {i}) was changed: its "
                                                   f"content does not match its leaf hash")
        rows.append((i, seq, leaf))
    return anchor, rows


def _check_order(rows, first: int, report: VerifyReport) -> None:
    seen, prev = set(), None
    for line_no, seq, _ in rows:
        if seq in seen:
            report.add("duplicated", f"record {seq}", f"record {seq} appears again at line "
                                                       f"{line_no}")
        elif prev is not None and seq < prev:
            report.add("reordered", f"record {seq}", f"record {seq} (line {line_no}) comes "
                                                      f"after record {prev}: records reordered")
        seen.add(seq)
        prev = seq if prev is None else max(prev, seq)
    if rows:
        missing = sorted(set(range(first, max(seen) + 1)) - seen)
        if missing:
            report.add("removed", _span(missing), f"{_span(missing)} missing: removed")


def _span(seqs: list[int]) -> str:
    if len(seqs) == 1:
        return f"record {seqs[0]}"
    if seqs[-1] - seqs[0] + 1 == len(seqs):
        return f"records {seqs[0]}..{seqs[-1]}"
    return f"records {', '.join(map(str, seqs[:10]))}{' ...' if len(seqs) > 10 else ''}"


def _signed(line_no: int, cp, keys, report: VerifyReport) -> bool:
    if isinstance(cp, AuditError):
        report.add("unreadable", f"checkpoint line {line_no}", str(cp))
        return False
    try:
        cp.verify(keys, require_pq=any(k.algorithm == ML_DSA_65 for k in keys.values()))
    except SignatureInvalid as exc:
        report.add("signature", f"checkpoint {cp.size}", f"checkpoint at size {cp.size} "
                                                         f"(line {line_no}): {exc}")
        return False
    return True


def _root_mismatch(cp, tree: MerkleTree, good_size: int, first: bool,
                   report: VerifyReport) -> None:
    if cp.size == tree.prefix_size:
        report.add("mismatch", "anchor", f"the anchor (the hashes of the {cp.size} pruned "
                                         f"records) does not match the signed checkpoint")
    elif first:  # later checkpoints include the same change: the first one pinpoints it
        report.add("mismatch", f"records {good_size}..{cp.size - 1}",
                   f"records {good_size}..{cp.size - 1} differ from the signed tree head at "
                   f"size {cp.size} (changed with their leaf hashes, or the anchor altered)")


def _check_checkpoints(cps, tree: MerkleTree, keys, report: VerifyReport) -> None:
    good_size, failed, prev = tree.prefix_size, 0, -1
    for line_no, cp in cps:
        if not _signed(line_no, cp, keys, report):
            continue
        if cp.size < prev:
            report.add("reordered", f"checkpoint {cp.size}", f"checkpoint {cp.size} comes "
                                                             f"after checkpoint {prev}")
        prev = max(prev, cp.size)
        if cp.size > tree.size:
            report.add("removed", f"records {tree.size}..{cp.size - 1}",
                       f"the signed checkpoint at size {cp.size} covers records "
                       f"{tree.size}..{cp.size - 1}, which are missing: removed")
        elif cp.size >= tree.prefix_size and tree.root(cp.size) != cp.root:
            failed += 1
            _root_mismatch(cp, tree, good_size, failed == 1, report)
        else:  # verified (below the prefix: by signature only, its records were pruned)
            report.verified_checkpoints += 1
            good_size = max(good_size, cp.size)
    if tree.prefix_size and not any(not isinstance(cp, AuditError) and
                                    cp.size == tree.prefix_size for _, cp in cps):
        report.add("mismatch", "anchor", f"the pruned prefix ({tree.prefix_size} records) is "
                                         f"not behind a signed checkpoint")


def _check_witnessed(witnessed, tree: MerkleTree, report: VerifyReport) -> None:
    for cp in witnessed:
        where = f"witnessed checkpoint {cp.size}"
        if cp.size > tree.size:
            report.add("removed", where, f"a checkpoint kept elsewhere covers {cp.size} records; "
                                         f"the log holds {tree.size}: records were removed")
        elif cp.size < tree.prefix_size:
            continue                     # its records were pruned; nothing left to compare
        elif tree.root(cp.size) != cp.root:
            report.add("rewritten", where, f"the log's first {cp.size} records no longer give "
                                           f"the root witnessed at that size: the history was "
                                           f"rewritten (and re-signed)")
        else:
            report.witnessed += 1


def verify_log(audit_dir: str, keys, witnessed=()) -> VerifyReport:
    """Check every record, the order, and every checkpoint of the log in ``audit_dir``;
    ``witnessed``: checkpoints kept outside it, each compared with the log (see above)."""
    report = VerifyReport()
    anchor, rows = _read_records(os.path.join(audit_dir, LOG_FILE), report)
    first = anchor.size if anchor else 0
    try:
        tree = MerkleTree(anchor.size, anchor.nodes) if anchor else MerkleTree()
    except InvalidArgument as exc:
        report.add("unreadable", "line 1", f"anchor: {exc}")
        tree, first = MerkleTree(), 0
    for _, _, leaf in rows:
        tree.append(leaf)
    _check_order(rows, first, report)
    cps = read_checkpoints(os.path.join(audit_dir, CHECKPOINT_FILE))
    _check_checkpoints(cps, tree, keys, report)
    _check_witnessed(witnessed, tree, report)
    sizes = [cp.size for _, cp in cps if not isinstance(cp, AuditError)]
    report.records, report.first_seq, report.checkpoints = len(rows), first, len(cps)
    report.unsigned_tail = max(0, tree.size - max(sizes, default=0))
    return report
