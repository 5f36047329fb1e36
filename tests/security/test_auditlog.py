import itertools
import json
import os
import stat

import pytest
from uqo.security.auditlog import AuditLog
from uqo.security.errors import AuditError, InvalidArgument
from uqo.security.merkle import leaf_hash, verify_consistency, verify_inclusion


def _open(tmp_path, signer, clock, every=5, retention_s=1000.0):
    return AuditLog(tmp_path, signer, checkpoint_every=every, retention_s=retention_s,
                    clock=clock)


def _fill(log, clock, n, start=0):
    for i in range(start, start + n):
        log.append("test.event", f"user-{i % 3}", "info", {"i": i})
        clock.advance(1)


def test_append_checkpoints_every_n_and_reads_back(tmp_path, soft_signer, clock):
    log = _open(tmp_path, soft_signer, clock)
    _fill(log, clock, 12)
    assert log.size == 12 and [c.size for c in log.checkpoints()] == [5, 10]
    rec = log.record(7)
    assert rec == {"seq": 7, "ts": clock.now - 5, "kind": "test.event", "actor": "user-1",
                   "outcome": "info", "detail": {"i": 7}}
    assert stat.S_IMODE(os.stat(tmp_path / "audit" / "log.jsonl").st_mode) == 0o600
    log.close()
    assert [c.size for c in _open(tmp_path, soft_signer, clock).checkpoints()] == [5, 10, 12]


def test_proofs_verify_against_signed_checkpoints(tmp_path, soft_signer, clock):
    log = _open(tmp_path, soft_signer, clock)
    _fill(log, clock, 23)
    cps = log.checkpoints()
    keys = log.trusted_keys()
    for cp in cps:
        cp.verify(keys)
        for seq in (0, cp.size // 2, cp.size - 1):
            verify_inclusion(seq, cp.size, leaf_hash(log.entry(seq)),
                             log.inclusion_proof(seq, cp.size), cp.root)
    for old, new in itertools.pairwise(cps):
        verify_consistency(old.size, new.size, old.root, new.root,
                           log.consistency_proof(old.size, new.size))
    log.close()


def test_reopen_continues_the_same_tree(tmp_path, soft_signer, clock):
    log = _open(tmp_path, soft_signer, clock)
    _fill(log, clock, 7)
    root7 = log.tree.root(7)
    log.close()
    log = _open(tmp_path, soft_signer, clock)
    _fill(log, clock, 3, start=7)
    assert log.size == 10 and log.tree.root(7) == root7
    assert log.verify().ok
    log.close()


def test_a_torn_last_line_is_cut_off(tmp_path, soft_signer, clock):
    log = _open(tmp_path, soft_signer, clock, every=100)
    _fill(log, clock, 4)
    log.checkpoint()
    log.close()
    with open(tmp_path / "audit" / "log.jsonl", "ab") as fh:
        fh.write(b'deadbeef {"seq": 4, "ts"')  # a crash mid-write, never acknowledged
    log = _open(tmp_path, soft_signer, clock, every=100)
    assert log.size == 4 and log.verify().ok
    log.close()


def test_one_writer_at_a_time(tmp_path, soft_signer, clock):
    log = _open(tmp_path, soft_signer, clock)
    with pytest.raises(AuditError, match="one writer at a time"):
        _open(tmp_path, soft_signer, clock)
    log.close()
    _open(tmp_path, soft_signer, clock).close()


def _lines(tmp_path):
    return (tmp_path / "audit" / "log.jsonl").read_bytes().splitlines(keepends=True)


def test_opening_refuses_a_tampered_head(tmp_path, soft_signer, clock):
    log = _open(tmp_path, soft_signer, clock)
    _fill(log, clock, 12)
    log.close()  # checkpoints at 5, 10, 12
    path = tmp_path / "audit" / "log.jsonl"
    original = path.read_bytes()
    path.write_bytes(b"".join(_lines(tmp_path)[:-1]))
    with pytest.raises(AuditError, match="records were removed"):
        _open(tmp_path, soft_signer, clock)
    path.write_bytes(original.replace(b'"i":11', b'"i":99'))
    with pytest.raises(AuditError, match="record 11 does not match|signed checkpoint"):
        _open(tmp_path, soft_signer, clock)


def test_tail_after_the_last_checkpoint_is_checked_on_open(tmp_path, soft_signer, clock):
    log = _open(tmp_path, soft_signer, clock, every=100)
    _fill(log, clock, 3)
    log.append("test.event", None, "info")  # unsigned tail: the process "crashes" here
    os.close(log._owner)  # simulate the crash releasing the lock without close()
    path = tmp_path / "audit" / "log.jsonl"
    path.write_bytes(path.read_bytes().replace(b'"i":2', b'"i":7'))
    with pytest.raises(AuditError, match="record 2 does not match its leaf hash"):
        _open(tmp_path, soft_signer, clock, every=100)


def test_prune_only_behind_a_signed_checkpoint(tmp_path, soft_signer, clock):
    log = _open(tmp_path, soft_signer, clock, every=5, retention_s=100.0)
    _fill(log, clock, 23)  # ts 0..22 (relative); checkpoints 5, 10, 15, 20
    assert log.prune() == 0  # nothing is older than 100 s yet
    clock.advance(100 - 23 + 12.5)  # records 0..12 are past retention
    assert log.prune() == 10  # up to checkpoint 10, not 13: 13 is not a signed size
    assert log.tree.prefix_size == 10
    assert log.record(log.size - 1)["kind"] == "audit.prune"
    with pytest.raises(InvalidArgument, match="no record 3"):
        log.record(3)
    report = log.verify()
    assert report.ok and report.first_seq == 10
    cp = log.checkpoint()
    verify_inclusion(12, cp.size, leaf_hash(log.entry(12)), log.inclusion_proof(12), cp.root)
    log.close()
    reopened = _open(tmp_path, soft_signer, clock, every=5, retention_s=100.0)
    assert reopened.tree.prefix_size == 10 and reopened.verify().ok
    reopened.close()


def test_prune_refuses_a_log_that_does_not_verify(tmp_path, soft_signer, clock):
    log = _open(tmp_path, soft_signer, clock, every=5, retention_s=10.0)
    _fill(log, clock, 12)
    path = tmp_path / "audit" / "log.jsonl"
    original = path.read_bytes()
    path.write_bytes(original.replace(b'"i":1}', b'"i":7}'))  # same length: offsets hold
    clock.advance(1000)
    with pytest.raises(AuditError, match="refusing to prune.*record 1"):
        log.prune()
    path.write_bytes(original.replace(b'"i":1}', b'"i":-1}'))  # shifts every later record
    with pytest.raises(AuditError, match="file changed underneath"):
        log.record(11)
    log.close()


def test_records_since(tmp_path, soft_signer, clock):
    log = _open(tmp_path, soft_signer, clock)
    start = clock.now
    _fill(log, clock, 10)
    assert [r["detail"]["i"] for r in log.records_since(start + 7)] == [7, 8, 9]
    assert list(log.records_since(clock.now + 1)) == []
    log.close()


@pytest.mark.parametrize("args, field", [
    (("Bad Kind", None, "info"), "kind"), (("k", None, "maybe"), "outcome"),
    (("k", 5, "info"), "actor"), (("k", None, "info", {"x": {1, 2}}), "detail"),
    (("k", None, "info", ["list"]), "detail"), (("k", None, "info", {"x": float("nan")}),
                                                 "detail")])
def test_bad_records_are_refused_and_nothing_is_written(tmp_path, soft_signer, clock, args,
                                                        field):
    log = _open(tmp_path, soft_signer, clock)
    with pytest.raises(InvalidArgument, match=f"^{field}:"):
        log.append(*args)
    assert log.size == 0 and (tmp_path / "audit" / "log.jsonl").read_bytes() == b""
    log.close()


def test_closed_log_refuses_writes_and_close_signs_the_tail(tmp_path, soft_signer, clock):
    log = _open(tmp_path, soft_signer, clock, every=100)
    _fill(log, clock, 3)
    log.close()
    log.close()  # idempotent
    with pytest.raises(AuditError, match="closed"):
        log.append("k", None, "info")
    lines = (tmp_path / "audit" / "checkpoints.jsonl").read_text().splitlines()
    assert [json.loads(x)["size"] for x in lines] == [3]
    with pytest.raises(InvalidArgument, match="^checkpoint_every:"):
        AuditLog(tmp_path / "other", soft_signer, checkpoint_every=0)
