"""Write-ahead log segments on disk: ``LogStorage`` with fsync, torn-tail repair and compaction.

Use cases::

    wal = WalStorage(data_dir)                     # opens or creates <data_dir>/wal, snap
    wal.append([Entry(1, 1, b"..."), Entry(1, 2, b"...")])   # one write + one fdatasync
    wal.entries(1, 3); wal.term(2); wal.last_index()
    wal.save_snapshot(Snapshot(SnapshotMeta(2, 1), state)); wal.compact(2)

Files under ``<data_dir>/wal``: segments ``<first index, 20 digits>.seg``, each a run of records
``header (24 bytes: crc32, length, term, index; little endian) + payload``, where the CRC covers
term, index and payload. A new segment starts once the current one passes ``segment_bytes``.

Crash semantics: ``append`` returns only after ``fdatasync`` (and a directory fsync when it made a
new segment file). On open, a torn or corrupt record at the end of the *last* segment (a write
cut by a crash; never acknowledged) is cut off; damage anywhere else raises ``WalCorrupt``,
because those entries were acknowledged and silently dropping them would lose data.

The record format is hand-written (``struct`` + ``zlib.crc32``): no maintained Python library
offers an fsync'd, truncatable, segment log with this contract, and the format is 24 bytes.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from array import array
from bisect import bisect_right
from collections.abc import Sequence

from uqo.fsutil import fsync_dir, write_all

from .base import Entry, HardState, LogStorage, Snapshot, SnapshotMeta
from .snapstore import SnapshotStore

_HEADER = struct.Struct("<IIQQ")
_LOG = logging.getLogger(__name__)


class WalCorrupt(Exception):
    """An acknowledged part of the log cannot be read back."""


class _Segment:
    """One segment file: entries ``first .. first + len(offsets) - 1``."""

    def __init__(self, path: str, first: int):
        self.path, self.first = path, first
        self.offsets, self.terms = array("q"), array("q")
        self.size = 0

    @property
    def last(self) -> int:
        return self.first + len(self.offsets) - 1


class WalStorage(LogStorage):
    """Single-directory durable log storage. ``fsync=False`` is for benchmarks that want to
    see the cost of durability, never for production."""

    def __init__(self, data_dir: str, segment_bytes: int = 64 << 20, fsync: bool = True):
        if not isinstance(segment_bytes, int) or segment_bytes < 4096:
            raise ValueError(f"segment_bytes must be an int >= 4096, got {segment_bytes!r}")
        self.dir = os.path.join(data_dir, "wal")
        os.makedirs(self.dir, mode=0o700, exist_ok=True)   # the command log: private
        self.fsync, self.segment_bytes = fsync, segment_bytes
        self.snapshots = SnapshotStore(os.path.join(data_dir, "snap"))
        self._hard = self.snapshots.load_hard_state()
        self._snap_meta = self.snapshots.latest_meta()
        self._segments: list[_Segment] = []
        self._fd: int | None = None
        self.bytes_written = self.syncs = 0
        self._open_segments()

    # ---- open and repair ----------------------------------------------------------------
    def _open_segments(self) -> None:
        names = sorted(n for n in os.listdir(self.dir) if n.endswith(".seg"))
        for i, name in enumerate(names):
            seg = _Segment(os.path.join(self.dir, name), int(name[:-4]))
            self._scan(seg, is_last=(i == len(names) - 1))
            if self._segments and seg.first != self._segments[-1].last + 1:
                raise WalCorrupt(f"gap before segment {seg.path}: previous ends at "
                                 f"{self._segments[-1].last}, this starts at {seg.first}")
            self._segments.append(seg)
        if self._segments and self._segments[0].first > self._snap_meta.index + 1:
            raise WalCorrupt(f"log starts at {self._segments[0].first} but the snapshot "
                             f"covers only up to {self._snap_meta.index}")
        if self._segments:
            self._fd = os.open(self._segments[-1].path, os.O_WRONLY | os.O_APPEND)

    def _scan(self, seg: _Segment, is_last: bool) -> None:
        with open(seg.path, "rb") as f:
            data = f.read()
        pos = 0
        while pos < len(data):
            entry = _parse(data, pos, seg.first + len(seg.offsets))
            if entry is None:
                break
            seg.offsets.append(pos)
            seg.terms.append(entry.term)
            pos += _HEADER.size + len(entry.data)
        if pos < len(data):
            if not is_last:
                raise WalCorrupt(f"damaged record at byte {pos} of {seg.path} (not the tail)")
            _LOG.warning("cutting a torn tail of %d bytes off %s", len(data) - pos, seg.path)
            with open(seg.path, "r+b") as f:
                f.truncate(pos)
                os.fsync(f.fileno())
        seg.size = pos

    # ---- LogStorage ---------------------------------------------------------------------
    def initial_state(self) -> tuple[HardState, SnapshotMeta]:
        return self._hard, self._snap_meta

    def first_index(self) -> int:
        first = self._segments[0].first if self._segments else self._snap_meta.index + 1
        return max(first, self._snap_meta.index + 1)

    def last_index(self) -> int:
        if self._segments and len(self._segments[-1].offsets):
            return max(self._segments[-1].last, self._snap_meta.index)
        return self._snap_meta.index

    def term(self, index: int) -> int:
        if index == self._snap_meta.index:
            return self._snap_meta.term
        seg = self._segment_of(index)
        return seg.terms[index - seg.first]

    def entries(self, lo: int, hi: int) -> list[Entry]:
        if lo < self.first_index() or hi > self.last_index() + 1 or lo > hi:
            raise IndexError(f"entries [{lo}, {hi}) outside the held range "
                             f"[{self.first_index()}, {self.last_index() + 1})")
        out: list[Entry] = []
        while lo < hi:
            seg = self._segment_of(lo)
            end = min(hi, seg.last + 1)
            out += self._read(seg, lo, end)
            lo = end
        return out

    def append(self, entries: Sequence[Entry]) -> None:
        if not entries:
            return
        first = entries[0].index
        if first <= self.last_index():
            self._truncate_from(first)
        if first != self.last_index() + 1:
            raise ValueError(f"append at index {first} leaves a gap after "
                             f"{self.last_index()}")
        buf = bytearray()
        seg = self._writable(first)
        for k, e in enumerate(entries):
            if e.index != first + k:
                raise ValueError(f"entries not consecutive at position {k}: index {e.index}")
            seg.offsets.append(seg.size + len(buf))
            seg.terms.append(e.term)
            buf += _record(e)
        write_all(self._fd, buf)
        seg.size += len(buf)
        self.bytes_written += len(buf)
        self._sync()

    def set_hard_state(self, state: HardState) -> None:
        self.snapshots.save_hard_state(state)
        self._hard = state

    def save_snapshot(self, snapshot: Snapshot) -> None:
        self.snapshots.save(snapshot)
        self._snap_meta = snapshot.meta

    def load_snapshot(self) -> Snapshot | None:
        return self.snapshots.load()

    def compact(self, index: int) -> None:
        if index > self._snap_meta.index:
            raise ValueError(f"cannot compact to {index}: the latest snapshot covers only "
                             f"{self._snap_meta.index}")
        while len(self._segments) > 1 and self._segments[0].last <= index:
            os.remove(self._segments.pop(0).path)
        fsync_dir(self.dir)

    def close(self) -> None:
        if self._fd is not None:
            self._sync()
            os.close(self._fd)
            self._fd = None

    # ---- helpers ------------------------------------------------------------------------
    def _sync(self) -> None:
        if self.fsync:
            os.fdatasync(self._fd)
        self.syncs += 1

    def _writable(self, first: int) -> _Segment:
        """The segment to append ``first`` to: the last one, or a new one once it is full."""
        seg = self._segments[-1] if self._segments else None
        if seg is not None and len(seg.offsets) and seg.size < self.segment_bytes:
            return seg
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if seg is not None and not len(seg.offsets):     # emptied by truncation: reuse it
            new_path = self._seg_path(first)
            os.rename(seg.path, new_path)
            seg.path, seg.first = new_path, first
        else:
            seg = _Segment(self._seg_path(first), first)
            self._segments.append(seg)
        self._fd = os.open(seg.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        fsync_dir(self.dir)
        return seg

    def _seg_path(self, first: int) -> str:
        return os.path.join(self.dir, f"{first:020d}.seg")

    def _segment_of(self, index: int) -> _Segment:
        firsts = [s.first for s in self._segments]
        k = bisect_right(firsts, index) - 1
        if k < 0 or index > self._segments[k].last:
            raise IndexError(f"index {index} is not held (first {self.first_index()}, "
                             f"last {self.last_index()})")
        return self._segments[k]

    def _read(self, seg: _Segment, lo: int, hi: int) -> list[Entry]:
        start = seg.offsets[lo - seg.first]
        stop = seg.offsets[hi - seg.first] if hi <= seg.last else seg.size
        with open(seg.path, "rb") as f:
            f.seek(start)
            data = f.read(stop - start)
        out, pos = [], 0
        for index in range(lo, hi):
            e = _parse(data, pos, index)
            if e is None:
                raise WalCorrupt(f"entry {index} in {seg.path} fails its checksum")
            out.append(e)
            pos += _HEADER.size + len(e.data)
        return out

    def _truncate_from(self, index: int) -> None:
        """Drop held entries ``>= index`` (a new leader overwrote them)."""
        if index <= self._snap_meta.index:
            raise ValueError(f"cannot overwrite index {index}: covered by the snapshot at "
                             f"{self._snap_meta.index}")
        seg = self._segment_of(index)
        while self._segments[-1] is not seg:
            os.remove(self._segments.pop().path)
        keep = index - seg.first
        seg.size = seg.offsets[keep]
        del seg.offsets[keep:], seg.terms[keep:]
        if self._fd is not None:
            os.close(self._fd)
        with open(seg.path, "r+b") as f:
            f.truncate(seg.size)
            os.fsync(f.fileno())
        self._fd = os.open(seg.path, os.O_WRONLY | os.O_APPEND)
        fsync_dir(self.dir)


def _record(e: Entry) -> bytes:
    head = struct.pack("<QQ", e.term, e.index)
    crc = zlib.crc32(e.data, zlib.crc32(head))
    return _HEADER.pack(crc, len(e.data), e.term, e.index) + e.data


def _parse(data: bytes, pos: int, expect_index: int) -> Entry | None:
    """The record at ``pos`` if whole, intact and numbered ``expect_index``; else None."""
    if pos + _HEADER.size > len(data):
        return None
    crc, length, term, index = _HEADER.unpack_from(data, pos)
    body = pos + _HEADER.size
    if body + length > len(data) or index != expect_index:
        return None
    payload = bytes(data[body:body + length])
    if zlib.crc32(payload, zlib.crc32(struct.pack("<QQ", term, index))) != crc:
        return None
    return Entry(term, index, payload)
