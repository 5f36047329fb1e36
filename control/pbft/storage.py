"""A PBFT replica's disk: the core's records and the application snapshots at checkpoints.

Use cases::

    disk = PbftStorage(data_dir)
    records = disk.load_records()                  # what the core persisted (torn tail cut)
    disk.append(ready.persist)                     # one write + fdatasync
    disk.replace(ready.persist)                    # Ready.reset: atomic rewrite
    disk.save_snapshot(seq, app_bytes, table)      # atomic; older ones pruned
    seq, app_bytes, table = disk.load_snapshot()   # latest, or (0, None, None)

``records.log`` holds frames ``length (4 bytes LE) + crc32 (4 bytes LE) + record`` (a record is
``uqo.control.pbft.state.encode_record``). ``append`` returns after ``fdatasync``; a torn or
corrupt frame at the end (a write cut by a crash, never acknowledged: the driver sends only
after ``append`` returned) is cut off on open, and damage before the end raises
``RecordsCorrupt``. ``replace`` writes a new file, fsyncs it and renames it over the old one,
so a crash leaves the old records or the new, never a mix. Snapshots are
``snap-<seq, 20 digits>.bin`` (MessagePack ``[seq, app_bytes, client_table]``), written
atomically; the two latest are kept (one may be the stable checkpoint peers fetch).

Hand-written framing (``struct`` + ``zlib.crc32``) for the same reason as ``uqo.control.wal``:
no maintained library offers an fsync'd append log with torn-tail repair; the format is 8
bytes per record.
"""

from __future__ import annotations

import os
import struct
import zlib

import msgspec

from uqo.fsutil import atomic_write, ensure_private_dir, fsync_dir, write_all

from .state import Record, decode_record, encode_record

_FRAME = struct.Struct("<II")
RECORDS = "records.log"


class RecordsCorrupt(Exception):
    """Acknowledged records cannot be read back."""


class PbftStorage:
    def __init__(self, data_dir, fsync: bool = True, keep_snapshots: int = 2):
        self.dir = ensure_private_dir(data_dir)
        self.path = os.path.join(self.dir, RECORDS)
        self.fsync, self.keep = fsync, keep_snapshots
        self._fd: int | None = None
        self.bytes_written = 0

    # ---- records -----------------------------------------------------------------------
    def load_records(self) -> list[Record]:
        if not os.path.exists(self.path):
            return []
        with open(self.path, "rb") as fh:
            data = fh.read()
        records, pos = [], 0
        while pos < len(data):
            if pos + _FRAME.size > len(data):
                break
            length, crc = _FRAME.unpack_from(data, pos)
            body = data[pos + _FRAME.size:pos + _FRAME.size + length]
            if len(body) < length or zlib.crc32(body) != crc:
                if pos + _FRAME.size + length < len(data):
                    raise RecordsCorrupt(f"{self.path}: bad record at byte {pos} before the end")
                break
            try:
                records.append(decode_record(body))
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                raise RecordsCorrupt(f"{self.path}: undecodable record at byte {pos}: {exc}") \
                    from None
            pos += _FRAME.size + length
        if pos < len(data):                   # cut the torn tail so appends follow whole frames
            with open(self.path, "r+b") as fh:
                fh.truncate(pos)
                os.fsync(fh.fileno())
        return records

    @staticmethod
    def _frames(records) -> bytes:
        out = bytearray()
        for rec in records:
            body = encode_record(rec)
            out += _FRAME.pack(len(body), zlib.crc32(body)) + body
        return bytes(out)

    def append(self, records, sync: bool = True) -> None:
        """Append ``records``; with ``sync`` (and ``fsync`` on) they, and every record
        appended before them, are on disk when this returns."""
        if not records:
            return
        if self._fd is None:
            created = not os.path.exists(self.path)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            if created:
                fsync_dir(self.dir)
        data = self._frames(records)
        write_all(self._fd, data)
        if self.fsync and sync:
            os.fdatasync(self._fd)
        self.bytes_written += len(data)

    def replace(self, records) -> None:
        self.close()
        data = self._frames(records)
        atomic_write(self.path, data)
        self.bytes_written += len(data)

    # ---- snapshots ---------------------------------------------------------------------
    def _snapshots(self) -> list[int]:
        return sorted(int(name[5:25]) for name in os.listdir(self.dir)
                      if name.startswith("snap-") and name.endswith(".bin") and len(name) == 29)

    def _snap_path(self, seq: int) -> str:
        return os.path.join(self.dir, f"snap-{seq:020d}.bin")

    def save_snapshot(self, seq: int, app: bytes, table: bytes) -> None:
        atomic_write(self._snap_path(seq), msgspec.msgpack.encode([seq, app, table]))
        for old in self._snapshots()[:-self.keep]:
            os.unlink(self._snap_path(old))

    def read_snapshot(self, seq: int) -> tuple[bytes, bytes] | None:
        """(app bytes, client table) of the snapshot at ``seq``, if held."""
        try:
            with open(self._snap_path(seq), "rb") as fh:
                got, app, table = msgspec.msgpack.decode(fh.read(),
                                                         type=tuple[int, bytes, bytes])
        except (OSError, msgspec.DecodeError, msgspec.ValidationError):
            return None
        return (app, table) if got == seq else None

    def load_snapshot(self) -> tuple[int, bytes | None, bytes | None]:
        for seq in reversed(self._snapshots()):
            held = self.read_snapshot(seq)
            if held is not None:
                return seq, held[0], held[1]
        return 0, None, None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
