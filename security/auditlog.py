"""The tamper-evident audit log: append-only records in an RFC 6962 Merkle tree, with signed
checkpoints, proofs, retention pruning behind a signed checkpoint, and fsync'd files.

Use cases::

    log = AuditLog(data_dir, signer, checkpoint_every=100)
    seq = log.append("auth.login", actor="analyst-001", outcome="success", detail={...})
    log.checkpoint()                         # sign the current tree head now
    proof = log.inclusion_proof(seq)         # audit path against log.tree.root()
    log.consistency_proof(old_size)          # the log only grew since old_size
    report = log.verify()                    # VerifyReport; .ok, .findings pinpoint edits
    log.prune()                              # drop records past retention, behind a checkpoint
    log.close()                              # signs any unsigned tail
    AuditLog(data_dir, signer, countersigner=counter, witness="/elsewhere/witness.jsonl")

With a ``countersigner`` every checkpoint also carries an ML-DSA-65 signature
(``uqo.security.pqsign``); with a ``witness`` path every checkpoint line is also appended
(fsync'd) to that file, which should live outside the data directory (another disk, a
mounted share, a log shipper's input): ``uqo audit verify --witness`` then detects a history
rewritten and re-signed by someone who holds the signing keys.

Durability: a record is acknowledged only after its line is written and fsync'd; a checkpoint
after its line is. Opening checks every record against its leaf hash and the newest
checkpoint's signature and root (one pass over the file), and refuses (``AuditError``) a log
that fails: a damaged log is evidence, to be moved aside and examined with ``uqo audit
verify``, never silently extended. A torn last line (a crash mid-write, never acknowledged) is
cut off. Thread-safe.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import threading
import time
from array import array

from uqo.fsutil import append_durable, ensure_private_dir, open_append

from .auditfile import (
    ANCHOR_PREFIX,
    CHECKPOINT_FILE,
    KEYS_FILE,
    LOG_FILE,
    Anchor,
    encode_record,
    read_checkpoints,
    read_keys,
    read_lines,
    replace_tail,
    split_line,
    write_keys,
)
from .auditverify import VerifyReport, verify_log
from .checkpoint import Checkpoint, check_origin, sign_checkpoint
from .errors import AuditError, InvalidArgument
from .merkle import MerkleTree, leaf_hash
from .settings import SEVEN_YEARS_S
from .signing import PublicKeyInfo, Signer

OUTCOMES = ("success", "failure", "granted", "denied", "info")
_KIND = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")


def _cut_torn_tail(path: str) -> None:
    """Drop a last line without its newline (a write cut short by a crash)."""
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return
    with open(path, "rb+") as fh:
        data = fh.read()
        if not data.endswith(b"\n"):
            fh.truncate(data.rfind(b"\n") + 1)
            os.fsync(fh.fileno())


def _lock_dir(directory: str) -> int:
    """Hold ``<dir>/lock`` exclusively: one writer per log, or the tree forks."""
    fd = os.open(os.path.join(directory, "lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise AuditError(f"the audit log in {directory} is open in another process or "
                         f"object (one writer at a time)") from None
    return fd


class AuditLog:
    def __init__(self, data_dir, signer: Signer, *, checkpoint_every: int = 100,
                 retention_s: float = SEVEN_YEARS_S, origin: str = "uqo-audit", clock=time.time,
                 countersigner=None, witness: str | None = None):
        if not isinstance(checkpoint_every, int) or checkpoint_every < 1:
            raise InvalidArgument("checkpoint_every", f"must be an int >= 1, got "
                                                      f"{checkpoint_every!r}")
        self.dir = ensure_private_dir(os.path.join(os.fspath(data_dir), "audit"))
        self.signer, self.origin, self.clock = signer, check_origin(origin), clock
        self.checkpoint_every, self.retention_s = checkpoint_every, retention_s
        self.countersigner, self.witness = countersigner, witness
        self._path = os.path.join(self.dir, LOG_FILE)
        self._cp_path = os.path.join(self.dir, CHECKPOINT_FILE)
        self._keys_path = os.path.join(self.dir, KEYS_FILE)
        self._lock = threading.RLock()
        self._fd = self._cp_fd = self._witness_fd = -1
        self._owner = _lock_dir(self.dir)
        try:
            for path in (self._path, self._cp_path):
                _cut_torn_tail(path)
            self._load()
            self._check_head()
        except BaseException:
            os.close(self._owner)
            raise
        self._fd, self._cp_fd = open_append(self._path), open_append(self._cp_path)
        self._witness_fd = open_append(witness) if witness else -1

    # -- loading -------------------------------------------------------------------------------
    def _load(self) -> None:
        self.tree, self._offsets, self._last_ts = MerkleTree(), array("q"), 0.0
        if os.path.exists(self._path):
            for i, (offset, line, _) in enumerate(read_lines(self._path)):
                if i == 0 and line.startswith(ANCHOR_PREFIX):
                    anchor = Anchor.parse(line)
                    self.tree = MerkleTree(anchor.size, anchor.nodes)
                    continue
                try:
                    leaf, data = split_line(line)
                except ValueError:
                    raise AuditError(f"{self._path}: line {i + 1} is damaged; run `uqo audit "
                                     f"verify`") from None
                if leaf_hash(data) != leaf:
                    raise AuditError(f"record {self.tree.size} does not match its leaf hash; "
                                     f"run `uqo audit verify`")
                self.tree.append(leaf)
                self._offsets.append(offset)
        if len(self._offsets):
            self._last_ts = self.record(self.tree.size - 1)["ts"]
        self._checkpoints: list[Checkpoint] = []
        for line_no, cp in read_checkpoints(self._cp_path):
            if isinstance(cp, AuditError):
                raise AuditError(f"{self._cp_path}: line {line_no}: {cp}")
            self._checkpoints.append(cp)
        self._keys = read_keys(self._keys_path)

    def _check_head(self) -> None:
        """The newest checkpoint is validly signed and matches the tree (every record was
        checked against its leaf hash while loading)."""
        last = self._checkpoints[-1] if self._checkpoints else None
        if last is not None:
            last.verify(self.trusted_keys())
            if last.size > self.tree.size:
                raise AuditError(f"the log holds {self.tree.size} records but its latest "
                                 f"signed checkpoint covers {last.size}: records were removed")
            if last.size >= self.tree.prefix_size and self.tree.root(last.size) != last.root:
                raise AuditError(f"records do not match the signed checkpoint at size "
                                 f"{last.size}; run `uqo audit verify`")

    def trusted_keys(self) -> dict[str, PublicKeyInfo]:
        keys = {**self._keys, **{k.key_id: k for k in self.signer.public_keys()}}
        if self.countersigner is not None:
            keys[self.countersigner.key_id] = self.countersigner.public()
        return keys

    # -- writing -------------------------------------------------------------------------------
    @property
    def size(self) -> int:
        return self.tree.size

    def append(self, kind: str, actor: str | None, outcome: str, detail: dict | None = None)\
            -> int:
        """Durably add one record; returns its sequence number. Signs a checkpoint whenever
        ``checkpoint_every`` records have accumulated since the last one."""
        record = self._validate(kind, actor, outcome, detail)
        with self._lock:
            self._require_open()
            record["seq"] = self.tree.size
            record["ts"] = self._last_ts = max(round(self.clock(), 6), self._last_ts)
            leaf, line = encode_record(record)
            append_durable(self._fd, line)
            self._offsets.append(os.lseek(self._fd, 0, os.SEEK_END) - len(line))
            self.tree.append(leaf)
            if self.tree.size - self.checkpointed_size() >= self.checkpoint_every:
                self.checkpoint()
            return record["seq"]

    @staticmethod
    def _validate(kind, actor, outcome, detail) -> dict:
        if not isinstance(kind, str) or not _KIND.match(kind):
            raise InvalidArgument("kind", f"{kind!r} is not a valid record kind")
        if outcome not in OUTCOMES:
            raise InvalidArgument("outcome", f"{outcome!r} is not one of {', '.join(OUTCOMES)}")
        if actor is not None and (not isinstance(actor, str) or len(actor) > 256):
            raise InvalidArgument("actor", f"must be a string of at most 256 characters or "
                                           f"None, got {actor!r}")
        detail = {} if detail is None else detail
        try:
            json.dumps(detail, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidArgument("detail", f"not JSON-serialisable: {exc}") from None
        if not isinstance(detail, dict):
            raise InvalidArgument("detail", f"must be a dict, got {type(detail).__name__}")
        return {"kind": kind, "actor": actor, "outcome": outcome, "detail": detail}

    def checkpointed_size(self) -> int:
        return self._checkpoints[-1].size if self._checkpoints else 0

    def checkpoint(self) -> Checkpoint:
        """Sign the current tree head (or return the newest checkpoint if nothing is new)."""
        with self._lock:
            self._require_open()
            if self._checkpoints and self._checkpoints[-1].size == self.tree.size:
                return self._checkpoints[-1]
            cp = sign_checkpoint(self.signer, self.origin, self.tree.size, self.tree.root(),
                                 int(self.clock()), self.countersigner)
            self._publish(cp)
            line = cp.to_json().encode() + b"\n"
            append_durable(self._cp_fd, line)
            if self._witness_fd >= 0:
                append_durable(self._witness_fd, line)
            self._checkpoints.append(cp)
            return cp

    def _publish(self, cp: Checkpoint) -> None:
        """Publish a key in keys.json before anything it signed."""
        new = {}
        if cp.key_id not in self._keys:
            new[cp.key_id] = self.signer.current()
        if cp.pq_key_id and cp.pq_key_id not in self._keys:
            new[cp.pq_key_id] = self.countersigner.public()
        if new:
            self._keys.update(new)
            write_keys(self._keys_path, self._keys)

    def checkpoints(self) -> list[Checkpoint]:
        with self._lock:
            return list(self._checkpoints)

    # -- reading and proofs --------------------------------------------------------------------
    def entry(self, seq: int) -> bytes:
        """The exact bytes of record ``seq`` that its leaf hash covers."""
        i = seq - self.tree.prefix_size
        if not isinstance(seq, int) or not 0 <= i < len(self._offsets):
            raise InvalidArgument("seq", f"no record {seq!r} (held: {self.tree.prefix_size}.."
                                         f"{self.tree.size - 1})")
        with open(self._path, "rb") as fh:
            fh.seek(self._offsets[i])
            line = fh.readline().rstrip(b"\n")
        try:
            return split_line(line)[1]
        except ValueError:
            raise AuditError(f"record {seq} is not where it was written: the file changed "
                             f"underneath; run `uqo audit verify`") from None

    def record(self, seq: int) -> dict:
        return json.loads(self.entry(seq))

    def records_since(self, ts: float):
        """Records with ``ts >= ts``, oldest first (timestamps never decrease in the log)."""
        for seq in range(self._count_before(ts), self.tree.size):
            yield self.record(seq)

    def inclusion_proof(self, seq: int, size: int | None = None) -> list[bytes]:
        with self._lock:
            return self.tree.inclusion_proof(seq, size)

    def consistency_proof(self, old: int, new: int | None = None) -> list[bytes]:
        with self._lock:
            return self.tree.consistency_proof(old, new)

    def verify(self, keys: dict[str, PublicKeyInfo] | None = None, witnessed=()) -> VerifyReport:
        """Full verification of the files on disk (see ``uqo.security.auditverify``)."""
        with self._lock:
            return verify_log(self.dir, keys if keys is not None else self.trusted_keys(),
                              witnessed)

    # -- retention -----------------------------------------------------------------------------
    def prune(self, now: float | None = None) -> int:
        """Remove the records older than the retention period, up to the largest signed
        checkpoint they fill; returns how many were removed. Refuses (``AuditError``) when the
        log does not verify. The removal itself is audited."""
        with self._lock:
            self._require_open()
            cutoff = (self.clock() if now is None else now) - self.retention_s
            expired = self._count_before(cutoff)
            sizes = [cp.size for cp in self._checkpoints
                     if self.tree.prefix_size < cp.size <= expired]
            if not sizes:
                return 0
            report = self.verify()
            if not report.ok:
                raise AuditError(f"refusing to prune: the log does not verify "
                                 f"({report.findings[0].message})")
            before, new_prefix = self.tree.prefix_size, max(sizes)
            self._rewrite_from(new_prefix)
            self.append("audit.prune", None, "info", {"removed": new_prefix - before,
                                                       "older_than": cutoff,
                                                       "checkpoint": new_prefix})
            return new_prefix - before

    def _count_before(self, cutoff: float) -> int:
        """The first sequence number whose record is at or after ``cutoff``."""
        lo, hi = self.tree.prefix_size, self.tree.size
        while lo < hi:
            mid = (lo + hi) // 2
            if self.record(mid)["ts"] < cutoff:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def _rewrite_from(self, new_prefix: int) -> None:
        anchor = Anchor(new_prefix, self.tree.compact_range(new_prefix))
        start = self._offsets[new_prefix - self.tree.prefix_size] if new_prefix < self.size \
            else os.path.getsize(self._path)
        replace_tail(self._path, anchor.line(), start)
        os.close(self._fd)
        self._fd = -1
        self._load()
        self._fd = open_append(self._path)

    # -- lifecycle -----------------------------------------------------------------------------
    def _require_open(self) -> None:
        if self._fd < 0:
            raise AuditError("the audit log is closed")

    def close(self) -> None:
        """Sign any unsigned tail, then close the files; idempotent."""
        with self._lock:
            if self._fd < 0:
                return
            try:
                if self.tree.size > self.checkpointed_size():
                    self.checkpoint()
            finally:
                for fd in (self._fd, self._cp_fd, self._owner, self._witness_fd):
                    if fd >= 0:
                        os.close(fd)
                self._fd = self._cp_fd = self._owner = self._witness_fd = -1
