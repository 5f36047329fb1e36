"""Snapshots and the Raft hard state on disk, each replaced atomically.

Files under the store's directory: ``<index, 20 digits>-<term, 20 digits>.snap`` holding
``b"UQOSNAP1" + crc32 (4 bytes, little endian) + state bytes``, and ``hardstate`` holding a
MessagePack ``[term, vote, commit]``. The newest ``keep`` snapshots are kept.
"""

from __future__ import annotations

import os
import struct
import zlib

import msgspec

from uqo.fsutil import atomic_write, fsync_dir

from .base import HardState, Snapshot, SnapshotMeta

_MAGIC = b"UQOSNAP1"


class SnapshotCorrupt(Exception):
    """A snapshot file fails its checksum."""


class SnapshotStore:
    def __init__(self, path: str, keep: int = 2):
        if not isinstance(keep, int) or keep < 1:
            raise ValueError(f"keep must be an int >= 1, got {keep!r}")
        self.dir, self.keep = path, keep
        os.makedirs(path, mode=0o700, exist_ok=True)

    def _names(self) -> list[str]:
        return sorted(n for n in os.listdir(self.dir) if n.endswith(".snap"))

    def latest_meta(self) -> SnapshotMeta:
        names = self._names()
        if not names:
            return SnapshotMeta()
        index, term = names[-1][:-5].split("-")
        return SnapshotMeta(int(index), int(term))

    def save(self, snapshot: Snapshot) -> None:
        meta = snapshot.meta
        name = f"{meta.index:020d}-{meta.term:020d}.snap"
        crc = struct.pack("<I", zlib.crc32(snapshot.data))
        atomic_write(os.path.join(self.dir, name), _MAGIC + crc + snapshot.data)
        for old in self._names()[:-self.keep]:
            os.remove(os.path.join(self.dir, old))
        fsync_dir(self.dir)

    def load(self) -> Snapshot | None:
        names = self._names()
        if not names:
            return None
        path = os.path.join(self.dir, names[-1])
        with open(path, "rb") as f:
            raw = f.read()
        if len(raw) < len(_MAGIC) + 4 or not raw.startswith(_MAGIC):
            raise SnapshotCorrupt(f"snapshot {path} has no snapshot header")
        (crc,) = struct.unpack_from("<I", raw, len(_MAGIC))
        data = raw[len(_MAGIC) + 4:]
        if zlib.crc32(data) != crc:
            raise SnapshotCorrupt(f"snapshot {path} fails its checksum")
        return Snapshot(self.latest_meta(), data)

    def load_hard_state(self) -> HardState:
        path = os.path.join(self.dir, "hardstate")
        if not os.path.exists(path):
            return HardState()
        with open(path, "rb") as f:
            term, vote, commit = msgspec.msgpack.decode(f.read())
        return HardState(term, vote, commit)

    def save_hard_state(self, state: HardState) -> None:
        atomic_write(os.path.join(self.dir, "hardstate"),
                     msgspec.msgpack.encode([state.term, state.vote, state.commit]))
