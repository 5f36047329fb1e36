"""WalStorage: append/read round trips, torn tails, damage, truncation, compaction."""

import os

import pytest
from uqo.control.log import Entry, HardState, Snapshot, SnapshotMeta
from uqo.control.log.wal import WalCorrupt, WalStorage


def _entries(lo, hi, term=1):
    return [Entry(term, i, f"cmd-{i}".encode()) for i in range(lo, hi)]


def test_append_then_reopen_reads_the_same_entries(tmp_path):
    wal = WalStorage(str(tmp_path))
    wal.append(_entries(1, 6))
    wal.append(_entries(6, 9, term=2))
    wal.close()
    again = WalStorage(str(tmp_path))
    assert (again.first_index(), again.last_index()) == (1, 8)
    assert again.entries(1, 9) == _entries(1, 6) + _entries(6, 9, term=2)
    assert again.term(5) == 1 and again.term(6) == 2


def test_segments_roll_and_reads_cross_them(tmp_path):
    wal = WalStorage(str(tmp_path), segment_bytes=4096)
    for lo in range(1, 401, 50):
        wal.append([Entry(1, i, bytes(40)) for i in range(lo, lo + 50)])
    assert len(os.listdir(tmp_path / "wal")) > 1
    wal.close()
    again = WalStorage(str(tmp_path), segment_bytes=4096)
    assert [e.index for e in again.entries(1, 401)] == list(range(1, 401))


def test_torn_tail_is_cut_and_appends_continue(tmp_path):
    wal = WalStorage(str(tmp_path))
    wal.append(_entries(1, 4))
    wal.close()
    seg = tmp_path / "wal" / os.listdir(tmp_path / "wal")[0]
    with open(seg, "ab") as f:
        f.write(b"\x01\x02\x03 half a record")
    again = WalStorage(str(tmp_path))
    assert again.last_index() == 3
    again.append(_entries(4, 5))
    again.close()
    assert WalStorage(str(tmp_path)).entries(1, 5) == _entries(1, 5)


def test_damage_before_the_tail_raises(tmp_path):
    wal = WalStorage(str(tmp_path), segment_bytes=4096)
    for lo in range(1, 201, 50):
        wal.append([Entry(1, i, bytes(40)) for i in range(lo, lo + 50)])
    wal.close()
    first = min(os.listdir(tmp_path / "wal"))
    path = tmp_path / "wal" / first
    data = bytearray(path.read_bytes())
    data[30] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(WalCorrupt, match="not the tail"):
        WalStorage(str(tmp_path), segment_bytes=4096)


def test_append_overwrites_a_conflicting_suffix(tmp_path):
    wal = WalStorage(str(tmp_path))
    wal.append(_entries(1, 6))
    wal.append(_entries(4, 5, term=3))
    assert wal.last_index() == 4 and wal.term(4) == 3
    with pytest.raises(ValueError, match="gap"):
        wal.append(_entries(7, 8))


def test_snapshot_compaction_and_reopen(tmp_path):
    wal = WalStorage(str(tmp_path), segment_bytes=4096)
    for lo in range(1, 301, 50):
        wal.append([Entry(1, i, bytes(40)) for i in range(lo, lo + 50)])
    with pytest.raises(ValueError, match="snapshot covers only"):
        wal.compact(200)
    wal.save_snapshot(Snapshot(SnapshotMeta(200, 1), b"state@200"))
    wal.compact(200)
    assert wal.first_index() == 201
    with pytest.raises(IndexError):
        wal.entries(150, 160)
    wal.set_hard_state(HardState(4, "n1", 300))
    wal.close()
    again = WalStorage(str(tmp_path), segment_bytes=4096)
    assert again.initial_state() == (HardState(4, "n1", 300), SnapshotMeta(200, 1))
    assert again.load_snapshot().data == b"state@200"
    assert [e.index for e in again.entries(201, 301)] == list(range(201, 301))


def test_bad_arguments_name_themselves(tmp_path):
    with pytest.raises(ValueError, match="segment_bytes"):
        WalStorage(str(tmp_path), segment_bytes=10)
