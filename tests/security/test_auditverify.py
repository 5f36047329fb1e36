"""Tamper with real log files in every way and expect the verifier to find and name it."""

import json
import random

import pytest
from uqo.security.auditfile import encode_record
from uqo.security.auditlog import AuditLog
from uqo.security.auditverify import verify_log
from uqo.security.checkpoint import Checkpoint
from uqo.security.softkeys import SoftwareSigner


@pytest.fixture
def logdir(tmp_path, soft_signer, clock):
    """A closed log of 20 records with checkpoints at 5, 10, 15, 20."""
    log = AuditLog(tmp_path, soft_signer, checkpoint_every=5, clock=clock)
    for i in range(20):
        log.append("auth.login", f"user-{i}", "success", {"i": i})
        clock.advance(1)
    log.close()
    return tmp_path / "audit"


def _keys(signer):
    return {k.key_id: k for k in signer.public_keys()}


def _lines(d):
    return (d / "log.jsonl").read_bytes().splitlines(keepends=True)


def _write(d, lines):
    (d / "log.jsonl").write_bytes(b"".join(lines))


def _kinds(report):
    return [(f.kind, f.where) for f in report.findings]


def test_an_intact_log_verifies(logdir, soft_signer):
    report = verify_log(str(logdir), _keys(soft_signer))
    assert report.ok and report.records == 20 and report.verified_checkpoints == 4
    assert report.unsigned_tail == 0 and report.to_dict()["ok"] is True


def test_changed_content_is_pinpointed_to_the_record(logdir, soft_signer):
    lines = _lines(logdir)
    lines[7] = lines[7].replace(b'"user-7"', b'"user-X"')
    _write(logdir, lines)
    assert _kinds(verify_log(str(logdir), _keys(soft_signer))) == [("changed", "record 7")]


def test_changed_content_with_a_recomputed_leaf_is_pinpointed_to_a_checkpoint_range(
        logdir, soft_signer):
    lines = _lines(logdir)
    record = json.loads(lines[7].partition(b" ")[2])
    record["actor"] = "someone-else"
    lines[7] = encode_record(record)[1]
    _write(logdir, lines)
    report = verify_log(str(logdir), _keys(soft_signer))
    assert _kinds(report) == [("mismatch", "records 5..9")]
    assert "signed tree head at size 10" in report.findings[0].message


def test_swapped_records_are_reported_as_reordered(logdir, soft_signer):
    lines = _lines(logdir)
    lines[3], lines[4] = lines[4], lines[3]
    _write(logdir, lines)
    kinds = _kinds(verify_log(str(logdir), _keys(soft_signer)))
    assert ("reordered", "record 3") in kinds
    assert ("mismatch", "records 0..4") in kinds


def test_a_removed_record_is_named(logdir, soft_signer):
    lines = _lines(logdir)
    del lines[12]
    _write(logdir, lines)
    kinds = _kinds(verify_log(str(logdir), _keys(soft_signer)))
    assert kinds[0] == ("removed", "record 12")


def test_records_removed_from_the_end_are_caught_by_the_checkpoint(logdir, soft_signer):
    _write(logdir, _lines(logdir)[:17])
    assert _kinds(verify_log(str(logdir), _keys(soft_signer))) == [
        ("removed", "records 17..19")]


def test_duplicated_and_damaged_lines(logdir, soft_signer):
    lines = _lines(logdir)
    _write(logdir, lines[:6] + [lines[5]] + lines[6:])
    assert ("duplicated", "record 5") in _kinds(verify_log(str(logdir), _keys(soft_signer)))
    _write(logdir, lines[:6] + [b"not a record\n"] + lines[6:])
    assert ("unreadable", "line 7") in _kinds(verify_log(str(logdir), _keys(soft_signer)))


def test_forged_and_foreign_checkpoints(logdir, soft_signer, tmp_path):
    path = logdir / "checkpoints.jsonl"
    lines = path.read_text().splitlines()
    cp = Checkpoint.from_json(lines[1])
    forged = Checkpoint(**{**cp.__dict__, "size": 9})
    path.write_text("\n".join([lines[0], forged.to_json(), *lines[2:]]) + "\n")
    assert ("signature", "checkpoint 9") in _kinds(verify_log(str(logdir), _keys(soft_signer)))
    other = SoftwareSigner.open(tmp_path / "other.json", b"other-passphrase")
    kinds = _kinds(verify_log(str(logdir), _keys(other)))
    assert len(kinds) == 4 and all(k == "signature" for k, _ in kinds)


def test_an_altered_anchor_after_pruning(tmp_path, soft_signer, clock):
    log = AuditLog(tmp_path, soft_signer, checkpoint_every=5, retention_s=10.0, clock=clock)
    for i in range(12):
        log.append("k", None, "info", {"i": i})
        clock.advance(1)
    clock.advance(100)
    assert log.prune() == 10
    log.close()
    d = tmp_path / "audit"
    assert verify_log(str(d), _keys(soft_signer)).ok
    lines = _lines(d)
    anchor = json.loads(lines[0][len(b"anchor "):])
    anchor["nodes"][0] = "00" * 32
    lines[0] = b"anchor " + json.dumps(anchor).encode() + b"\n"
    _write(d, lines)
    assert _kinds(verify_log(str(d), _keys(soft_signer)))[0] == ("mismatch", "anchor")


def test_unsigned_tail_is_counted_not_failed(tmp_path, soft_signer, clock):
    log = AuditLog(tmp_path, soft_signer, checkpoint_every=5, clock=clock)
    for i in range(7):
        log.append("k", None, "info")
    report = log.verify()
    assert report.ok and report.unsigned_tail == 2
    log.close()


def test_any_single_byte_change_is_detected(logdir, soft_signer):
    """Seeded random edits anywhere in the record file: never reported intact."""
    original = (logdir / "log.jsonl").read_bytes()
    rng = random.Random(6962)
    for _ in range(300):
        pos = rng.randrange(len(original))
        new = bytes([original[pos] ^ rng.randrange(1, 256)])
        (logdir / "log.jsonl").write_bytes(original[:pos] + new + original[pos + 1:])
        assert not verify_log(str(logdir), _keys(soft_signer)).ok, f"byte {pos} unnoticed"


def test_a_cut_short_last_line_and_damaged_checkpoints(logdir, soft_signer):
    lines = _lines(logdir)
    _write(logdir, lines[:-1] + [lines[-1].rstrip(b"\n")])
    assert ("unreadable", "line 20") in _kinds(verify_log(str(logdir), _keys(soft_signer)))
    _write(logdir, lines)
    path = logdir / "checkpoints.jsonl"
    cps = path.read_text().splitlines()
    path.write_text("\n".join([cps[0], "garbage", cps[2], cps[1], cps[3]]) + "\n")
    kinds = _kinds(verify_log(str(logdir), _keys(soft_signer)))
    assert ("unreadable", "checkpoint line 2") in kinds
    assert ("reordered", "checkpoint 10") in kinds


@pytest.fixture
def pruned(tmp_path, soft_signer, clock):
    log = AuditLog(tmp_path, soft_signer, checkpoint_every=5, retention_s=10.0, clock=clock)
    for i in range(12):
        log.append("k", None, "info", {"i": i})
        clock.advance(1)
    clock.advance(100)
    assert log.prune() == 10
    log.close()
    return tmp_path / "audit"


def test_pruned_logs_verify_old_checkpoints_by_signature(pruned, soft_signer):
    report = verify_log(str(pruned), _keys(soft_signer))
    assert report.ok and report.first_seq == 10 and report.verified_checkpoints == 3


def test_a_damaged_anchor(pruned, soft_signer):
    lines = _lines(pruned)
    for bad in (b"anchor {not json\n", b'anchor {"size": 10, "nodes": ["' + b"00" * 32 + b'"]}\n'):
        _write(pruned, [bad] + lines[1:])
        kinds = _kinds(verify_log(str(pruned), _keys(soft_signer)))
        assert kinds[0] == ("unreadable", "line 1") and ("removed", "records 0..9") in kinds


def test_an_anchor_must_sit_on_a_signed_checkpoint(pruned, soft_signer):
    path = pruned / "checkpoints.jsonl"
    kept = [x for x in path.read_text().splitlines() if json.loads(x)["size"] != 10]
    path.write_text("\n".join(kept) + "\n")
    assert ("mismatch", "anchor") in _kinds(verify_log(str(pruned), _keys(soft_signer)))
