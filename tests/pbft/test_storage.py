"""A replica's disk: records survive restarts, a torn tail is cut, damage before it refuses to
start, compaction replaces the file atomically, snapshots are kept and pruned."""

from __future__ import annotations

import os

import pytest
from uqo.control.pbft.messages import Prepare, Signed, encode_body
from uqo.control.pbft.state import RMsg, RStable, RView
from uqo.control.pbft.storage import RECORDS, PbftStorage, RecordsCorrupt


def _records(k: int) -> list:
    return [RMsg(Signed(encode_body(Prepare(0, i, b"d" * 32, 1)), b"s" * 64))
            for i in range(1, k + 1)]


def test_records_survive_reopen_and_compaction(tmp_path):
    disk = PbftStorage(tmp_path)
    disk.append(_records(3))
    disk.append([RView(1, False)])
    disk.close()
    again = PbftStorage(tmp_path)
    assert again.load_records() == [*_records(3), RView(1, False)]
    again.replace([RView(2, True), RStable(4, b"x" * 32, ())])
    again.append(_records(1))
    assert PbftStorage(tmp_path).load_records() == [RView(2, True), RStable(4, b"x" * 32, ()),
                                                    *_records(1)]
    assert not os.path.exists(os.path.join(tmp_path, RECORDS + ".tmp"))


@pytest.mark.parametrize("cut", [1, 5, 9, 30])
def test_a_torn_tail_is_cut_and_appends_continue(tmp_path, cut):
    disk = PbftStorage(tmp_path)
    disk.append(_records(4))
    disk.close()
    path = os.path.join(tmp_path, RECORDS)
    size = os.path.getsize(path)
    with open(path, "r+b") as fh:
        fh.truncate(size - cut)                        # a write cut by a crash
    again = PbftStorage(tmp_path)
    assert again.load_records() == _records(3)
    again.append([RView(3, True)])
    assert PbftStorage(tmp_path).load_records() == [*_records(3), RView(3, True)]


def test_damage_before_the_end_refuses_to_start(tmp_path):
    disk = PbftStorage(tmp_path)
    disk.append(_records(4))
    disk.close()
    path = tmp_path / RECORDS
    data = bytearray(path.read_bytes())
    data[20] ^= 0xFF                                   # inside the first record
    path.write_bytes(bytes(data))
    with pytest.raises(RecordsCorrupt, match="before the end"):
        PbftStorage(tmp_path).load_records()


def test_snapshots_are_atomic_pruned_and_read_back(tmp_path):
    disk = PbftStorage(tmp_path, keep_snapshots=2)
    assert disk.load_snapshot() == (0, None, None)
    for seq in (64, 128, 192):
        disk.save_snapshot(seq, b"app%d" % seq, b"table")
    assert disk.load_snapshot() == (192, b"app192", b"table")
    assert disk.read_snapshot(128) == (b"app128", b"table")
    assert disk.read_snapshot(64) is None                           # pruned
    with open(os.path.join(tmp_path, f"snap-{192:020d}.bin"), "wb") as fh:
        fh.write(b"\x00garbage")
    assert disk.load_snapshot() == (128, b"app128", b"table")       # falls back
