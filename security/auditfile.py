"""On-disk layout of the audit log (``<data_dir>/audit/``), shared by the log and its verifier.

``log.jsonl``: one record per line, ``<leaf hash hex> <canonical JSON>``, where the leaf hash is
RFC 6962's ``SHA256(0x00 || json bytes)`` and the JSON is ``{"seq", "ts", "kind", "actor",
"outcome", "detail"}`` with sorted keys. After retention pruning the first line is
``anchor {"size": P, "nodes": [...]}``: the hashes of the complete subtrees over the pruned
records ``[0, P)``, so the tree (and every later signed checkpoint) can still be recomputed.

``checkpoints.jsonl``: one signed checkpoint per line (``uqo.security.checkpoint``).
``keys.json``: the public keys that have signed checkpoints (pin your own with
``uqo audit verify --public-key`` for verification independent of this directory).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass

from uqo.fsutil import atomic_write, fsync_dir

from .checkpoint import Checkpoint
from .errors import AuditError
from .merkle import HASH_LEN, leaf_hash
from .signing import PublicKeyInfo

LOG_FILE, CHECKPOINT_FILE, KEYS_FILE = "log.jsonl", "checkpoints.jsonl", "keys.json"
ANCHOR_PREFIX = b"anchor "


@dataclass(frozen=True)
class Anchor:
    size: int
    nodes: list[bytes]

    def line(self) -> bytes:
        body = {"size": self.size, "nodes": [n.hex() for n in self.nodes]}
        return ANCHOR_PREFIX + json.dumps(body, sort_keys=True).encode() + b"\n"

    @classmethod
    def parse(cls, line: bytes) -> Anchor:
        try:
            body = json.loads(line[len(ANCHOR_PREFIX):])
            nodes = [bytes.fromhex(n) for n in body["nodes"]]
            anchor = cls(int(body["size"]), nodes)
        except (ValueError, KeyError, TypeError) as exc:
            raise AuditError(f"malformed anchor line: {exc}") from None
        if anchor.size < 1 or any(len(n) != HASH_LEN for n in nodes):
            raise AuditError("malformed anchor line: bad size or node length")
        return anchor


def canonical(record: dict) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def encode_record(record: dict) -> tuple[bytes, bytes]:
    """``(leaf hash, line)`` for a record dict."""
    data = canonical(record)
    leaf = leaf_hash(data)
    return leaf, leaf.hex().encode() + b" " + data + b"\n"


def split_line(line: bytes) -> tuple[bytes, bytes]:
    """``(stored leaf hash, json bytes)`` of a record line (no newline); ValueError if malformed."""
    head, sep, data = line.partition(b" ")
    if not sep or len(head) != 2 * HASH_LEN:
        raise ValueError("no leaf hash")
    leaf = bytes.fromhex(head.decode("ascii"))
    if leaf.hex().encode() != head:  # one spelling only: lower-case hex
        raise ValueError("leaf hash is not lower-case hex")
    return leaf, data


def read_lines(path: str):
    """Yield ``(offset, line without newline, complete)`` for every line of ``path``."""
    offset = 0
    with open(path, "rb") as fh:
        for raw in fh:
            complete = raw.endswith(b"\n")
            yield offset, raw[:-1] if complete else raw, complete
            offset += len(raw)


def read_checkpoints(path: str) -> list[tuple[int, Checkpoint | AuditError]]:
    """``(line number, checkpoint or the error that line raised)`` for every line."""
    out = []
    if os.path.exists(path):
        for i, (_, line, _) in enumerate(read_lines(path), start=1):
            try:
                out.append((i, Checkpoint.from_json(line)))
            except AuditError as exc:
                out.append((i, exc))
    return out


def read_keys(path: str) -> dict[str, PublicKeyInfo]:
    if not os.path.exists(path):
        return {}
    try:
        with open(path, encoding="utf-8") as fh:
            keys = [PublicKeyInfo(**k) for k in json.load(fh)["keys"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AuditError(f"cannot read {path}: {exc}") from None
    return {k.key_id: k for k in keys}


def write_keys(path: str, keys: dict[str, PublicKeyInfo]) -> None:
    body = {"keys": [k.to_json() for k in keys.values()]}
    atomic_write(path, json.dumps(body, indent=1).encode() + b"\n")


def replace_tail(path: str, head: bytes, start: int) -> None:
    """Durably replace ``path`` by ``head`` + its bytes from ``start`` (retention pruning: the
    anchor line, then the records kept). A crash leaves the old file or the new, never a mix."""
    tmp = path + ".tmp"
    with open(path, "rb") as src, open(tmp, "wb") as dst:
        os.chmod(tmp, 0o600)
        dst.write(head)
        src.seek(start)
        shutil.copyfileobj(src, dst, 1 << 20)
        dst.flush()
        os.fsync(dst.fileno())
    os.replace(tmp, path)
    fsync_dir(os.path.dirname(os.path.abspath(path)))
