"""ML-DSA-65 countersignatures of checkpoints, the wrapped seed, and the witness file that
catches a history rewritten and re-signed with the log's own key."""

import json
import shutil

import pytest
from uqo.security.auditfile import read_checkpoints
from uqo.security.auditlog import AuditLog
from uqo.security.auditverify import verify_log
from uqo.security.errors import KeyStoreError
from uqo.security.pqsign import PQ_KEY_FILE, open_countersigner
from uqo.security.signing import ED25519, ML_DSA_65, PublicKeyInfo
from uqo.security.softkeys import SoftwareSigner

from .conftest import Clock


def _keys(*infos):
    return {k.key_id: k for k in infos}


def test_the_seed_is_wrapped_and_reopens_to_the_same_key(tmp_path, soft_signer):
    counter = open_countersigner(tmp_path, soft_signer)
    body = json.loads((tmp_path / PQ_KEY_FILE).read_text())
    assert body["algorithm"] == ML_DSA_65 and "seed" not in body and body["wrapped_seed"]
    assert open_countersigner(tmp_path, soft_signer).key_id == counter.key_id
    other = SoftwareSigner.open(tmp_path / "other" / "k.json", b"another-passphrase", ED25519)
    with pytest.raises(KeyStoreError, match="cannot be unwrapped"):
        open_countersigner(tmp_path, other)
    body["key_id"] = "0" * 32                              # the seed is bound to its key id
    (tmp_path / PQ_KEY_FILE).write_text(json.dumps(body))
    with pytest.raises(KeyStoreError):
        open_countersigner(tmp_path, soft_signer)


def test_the_seed_unwraps_only_through_the_token(tmp_path, hsm_signer, soft_signer):
    counter = open_countersigner(tmp_path, hsm_signer)
    assert "PKCS#11 token" in counter.describe()["stored"]
    assert open_countersigner(tmp_path, hsm_signer).key_id == counter.key_id
    with pytest.raises(KeyStoreError):
        open_countersigner(tmp_path, soft_signer)


def _log(path, signer, clock, n=20, counter=None, witness=None, skip=()):
    log = AuditLog(path, signer, checkpoint_every=5, clock=clock, countersigner=counter,
                   witness=witness)
    for i in range(n):
        if i not in skip:
            log.append("auth.login", f"user-{i}", "success", {"i": i})
        clock.advance(1)
    log.close()
    return path / "audit"


def test_checkpoints_carry_a_countersignature_that_a_pinned_pq_key_requires(
        tmp_path, soft_signer, clock):
    counter = open_countersigner(tmp_path / "k", soft_signer)
    audit = _log(tmp_path, soft_signer, clock, counter=counter)
    classical, pq = soft_signer.current(), counter.public()
    assert verify_log(str(audit), _keys(classical, pq)).ok
    assert PublicKeyInfo.from_pem(pq.public_key_pem) == pq        # pin it from its PEM
    cps = [cp for _, cp in read_checkpoints(str(audit / "checkpoints.jsonl"))]
    assert all(cp.pq_key_id == pq.key_id and len(cp.pq_signature) == 3309 for cp in cps)
    # strip the countersignatures (a forger with the classical key only): refused when pinned
    lines = [{k: v for k, v in json.loads(cp.to_json()).items() if not k.startswith("pq_")}
             for cp in cps]
    (audit / "checkpoints.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert verify_log(str(audit), _keys(classical)).ok
    report = verify_log(str(audit), _keys(classical, pq))
    assert {f.kind for f in report.findings} == {"signature"}
    assert "no ML-DSA countersignature" in report.findings[0].message


def test_a_rewritten_and_resigned_history_is_caught_by_the_witness(tmp_path, soft_signer,
                                                                    clock):
    """The attack of issue 13: with the key, delete record 7 and re-sign every checkpoint;
    the directory alone verifies INTACT, the witnessed checkpoints do not match it."""
    witness = tmp_path / "elsewhere" / "witness.jsonl"
    witness.parent.mkdir()
    start = clock.now
    audit = _log(tmp_path / "real", soft_signer, clock, witness=str(witness))
    forged = _log(tmp_path / "forged", soft_signer, Clock(start), skip={7})  # same times
    for name in ("log.jsonl", "checkpoints.jsonl"):
        shutil.copy(forged / name, audit / name)
    keys = _keys(soft_signer.current())
    assert verify_log(str(audit), keys).ok                          # re-signed: looks intact
    witnessed = [cp for _, cp in read_checkpoints(str(witness))]
    assert [cp.size for cp in witnessed] == [5, 10, 15, 20]
    report = verify_log(str(audit), keys, witnessed)
    kinds = {(f.kind, f.where) for f in report.findings}
    assert ("rewritten", "witnessed checkpoint 10") in kinds and \
        ("removed", "witnessed checkpoint 20") in kinds             # 19 records remain
    assert report.witnessed == 1                                   # size 5 still matches
