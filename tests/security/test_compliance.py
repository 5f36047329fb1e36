import json
import os

from uqo.security.compliance import build_report
from uqo.security.compliance_html import render_html
from uqo.security.framework import SecurityFramework
from uqo.security.levels import Role, SecurityLevel
from uqo.security.users import User, UserStore

from .conftest import PASSWORD


def _status(report):
    return {c["id"]: c["status"] for c in report["controls"]}


def _data(tmp_path, signer, clock):
    fw = SecurityFramework.for_tests(tmp_path / "d", signer, clock=clock)
    fw.add_user("analyst-001", role="analyst", clearance="SECRET", password=PASSWORD)
    fw.add_user("agent-1", role="agent", clearance="SECRET")
    fw.close()
    return tmp_path / "d"


def test_a_healthy_deployment(tmp_path, soft_signer, clock, pki):
    d = _data(tmp_path, soft_signer, clock)
    report = build_report(d, soft_signer, pki)
    status = _status(report)
    assert {c["family"] for c in report["controls"]} == {"AC", "AU", "IA", "SC", "SI"}
    assert status["AU-9"] == status["AU-10"] == status["IA-2"] == status["SC-8"] == "pass"
    assert status["IA-5"] == "fail"  # the test framework hashes with light Argon2id
    assert status["SC-12"] == "partial"  # software keystore, not an HSM
    assert status["AU-11"] == "pass" and report["settings_source"].startswith("settings.json")
    ia5 = next(c for c in report["controls"] if c["id"] == "IA-5")
    assert {w["user"] for w in ia5["evidence"]["hashes_below_owasp_minimum"]} == {
        "analyst-001", "agent-1"}
    json.dumps(report)


def test_failures_are_reported_not_hidden(tmp_path, soft_signer, clock):
    d = _data(tmp_path, soft_signer, clock)
    log = d / "audit" / "log.jsonl"
    log.write_bytes(log.read_bytes().replace(b"analyst-001", b"analyst-002"))
    store = UserStore(d / "users.json")
    store.add(User("no-mfa", Role.ADMIN, SecurityLevel.SECRET, password_hash=store.get(
        "agent-1").password_hash))
    os.chmod(d / "users.json", 0o644)
    status = _status(build_report(d, soft_signer))
    assert status["AU-9"] == status["SI-7"] == status["IA-2"] == status["SC-28"] == "fail"
    assert status["SC-8"] == status["IA-3"] == "not_checked"


def test_hsm_keys_are_evidenced_from_the_token(tmp_path, hsm_signer, clock):
    d = _data(tmp_path, hsm_signer, clock)
    report = build_report(d, hsm_signer)
    sc12 = next(c for c in report["controls"] if c["id"] == "SC-12")
    assert sc12["status"] == "pass"
    assert sc12["evidence"]["private_key_attributes"]["extractable"] is False


def test_html_lists_every_control_escaped(tmp_path, soft_signer, clock):
    report = build_report(_data(tmp_path, soft_signer, clock), soft_signer)
    report["controls"][0]["evidence"] = {"note": "<script>x</script>"}
    html = render_html(report)
    assert html.startswith("<!doctype html>") and "<script>" not in html
    assert "&lt;script&gt;" in html
    for c in report["controls"]:
        assert f"<td>{c['id']}</td>" in html
