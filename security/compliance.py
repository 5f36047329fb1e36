"""Compliance evidence: the controls we implement, mapped to NIST SP 800-53 families (AC, AU,
IA, SC, SI), each with a status computed now from the live system.

Use cases::

    report = build_report(data_dir, signer, certs_dir="pki")
    report["summary"]             # {"pass": 9, "fail": 0, "partial": 1, "not_checked": 1}
    json.dump(report, fh); render_html(report)    # uqo.security.compliance_html

A control is ``pass``/``fail`` only from a check made here (file contents, permissions, the
audit verification, key attributes read from the token, a policy self-test); ``partial`` says
what is missing; ``not_checked`` when the evidence is not available (no certificate directory
given). Nothing is claimed from configuration we did not read.
"""

from __future__ import annotations

import json
import os
import stat
import time

from .auditfile import KEYS_FILE, LOG_FILE, read_lines, split_line
from .auditverify import verify_log
from .compliance_checks import certificate_evidence, policy_self_test
from .events import DAY_S, EVENT_OUTCOMES
from .passwords import phc_params
from .settings import SETTINGS_FILE, SecuritySettings, settings_from_json
from .users import UserStore


def _control(cid: str, title: str, status: str, evidence: dict) -> dict:
    return {"id": cid, "family": cid.split("-")[0], "title": title, "status": status,
            "evidence": evidence}


def _mode(path: str) -> str | None:
    return oct(stat.S_IMODE(os.stat(path).st_mode)) if os.path.exists(path) else None


def _locked(data_dir: str, settings) -> list[str]:
    from .limits import AttemptGate

    path = os.path.join(data_dir, "lockouts.json")
    if not os.path.exists(path):
        return []
    gate = AttemptGate(settings.auth.max_failures, settings.auth.lockout_s, path)
    return gate.locked_names(time.time())


def _access_controls(users: UserStore, settings, data_dir: str) -> list[dict]:
    roles: dict[str, int] = {}
    for u in users.all():
        roles[u.role.value] = roles.get(u.role.value, 0) + 1
    auth = settings.auth
    lockout_ok = auth.max_failures <= 10 and auth.lockout_s >= 60
    locked = _locked(data_dir, settings)
    cases = policy_self_test()
    failed = [c for c in cases if not c["as_expected"]]
    return [
        _control("AC-2", "Account management", "pass" if len(users) else "partial",
                 {"accounts": len(users), "by_role": roles}),
        _control("AC-3", "Access enforcement (roles, Bell-LaPadula, compartments)",
                 "fail" if failed else "pass",
                 {"policy_self_test_cases": len(cases), "failed": failed}),
        _control("AC-7", "Unsuccessful logon attempts", "pass" if lockout_ok else "fail",
                 {"max_failures": auth.max_failures, "lockout_s": auth.lockout_s,
                  "per": "name tried x source network (known and unknown names alike)",
                  "failure_floor_s": auth.failure_floor_s,
                  "source_burst": auth.source_burst, "locked_now": locked}),
    ]


def _audit_controls(data_dir: str, signer, settings) -> list[dict]:
    audit_dir = os.path.join(data_dir, "audit")
    keys = {k.key_id: k for k in signer.public_keys()}
    report = verify_log(audit_dir, keys)
    findings = [f.message for f in report.findings[:20]]
    from .auditfile import CHECKPOINT_FILE, read_checkpoints

    cps = [cp for _, cp in read_checkpoints(os.path.join(audit_dir, CHECKPOINT_FILE))
           if not isinstance(cp, Exception)]
    signed_ok = report.ok and report.verified_checkpoints > 0
    years = settings.retention_s / (365.25 * 86400)
    return [
        _control("AU-9", "Protection of audit information (Merkle tree, fsync)",
                 "pass" if report.ok else "fail",
                 {"records": report.records, "first_seq": report.first_seq,
                  "findings": findings}),
        _control("AU-10", "Non-repudiation (signed checkpoints)",
                 "pass" if signed_ok else "fail",
                 {"checkpoints": report.checkpoints,
                  "verified_checkpoints": report.verified_checkpoints,
                  "unsigned_tail": report.unsigned_tail, "signer_key_id": signer.key_id,
                  "ml_dsa_countersigned": sum(bool(cp.pq_signature) for cp in cps),
                  "published_keys_file": os.path.exists(os.path.join(audit_dir, KEYS_FILE))}),
        _control("AU-11", "Audit record retention", "pass" if years >= 7 else "partial",
                 {"retention_years": round(years, 2), "target_years": 7,
                  "pruning": "only behind a signed checkpoint, after full verification"}),
    ], report


def _identification_controls(users: UserStore, settings, certs_dir) -> list[dict]:
    humans = [u for u in users.all() if u.role in settings.auth.mfa_roles]
    no_mfa = [u.user_id for u in humans if u.totp_secret is None]
    weak = []
    for u in users.all():
        p = phc_params(u.password_hash)
        if p["memory_kib"] < 19 * 1024 or p["iterations"] < 2:
            weak.append({"user": u.user_id, **p})
    certs = certificate_evidence(certs_dir)
    return [
        _control("IA-2", "Identification and authentication, MFA for people",
                 "fail" if no_mfa else "pass",
                 {"people": len(humans), "without_totp": no_mfa,
                  "totp_replay_protection": True}),
        _control("IA-3", "Device identification (agent client certificates)",
                 certs["agents_status"], certs["agents"]),
        _control("IA-5", "Authenticator management (Argon2id hashes)",
                 "fail" if weak else "pass",
                 {"hashes_below_owasp_minimum": weak,
                  "default_params": vars(settings.argon),
                  "min_password_length": settings.auth.min_password_length}),
    ], certs


def _protection_controls(data_dir: str, signer, certs: dict) -> list[dict]:
    desc = signer.describe()
    if desc.get("non_extractable"):
        key_status = "pass"
    else:
        key_status = "partial" if desc.get("encrypted_at_rest") else "fail"
    files = {name: _mode(os.path.join(data_dir, name))
             for name in ("users.json", "keystore.json", "keystore.pass", "revoked.json",
                          "signer.json", "pqkey.json", "lockouts.json")}
    loose = {n: m for n, m in files.items() if m is not None and m != "0o600"}
    return [
        _control("SC-8", "Transmission confidentiality (TLS 1.3 only, mutual TLS)",
                 certs["server_status"], certs["server"]),
        _control("SC-12", "Cryptographic key management", key_status, desc),
        _control("SC-13", "Cryptographic protection",
                 "pass", {"signatures": desc.get("algorithm"), "passwords": "Argon2id",
                          "audit_hash": "SHA-256 (RFC 6962)", "totp": "RFC 6238 HMAC-SHA1"}),
        _control("SC-28", "Protection of information at rest (file modes)",
                 "fail" if loose else "pass", {"modes": files}),
    ]


def _events_24h(data_dir: str) -> int:
    """Refusals recorded in the last 24 h, read from the log file itself."""
    since, events = time.time() - DAY_S, 0
    path = os.path.join(data_dir, "audit", LOG_FILE)
    if os.path.exists(path):
        for _, line, _ in read_lines(path):
            try:
                rec = json.loads(split_line(line)[1])
            except ValueError:
                continue  # the anchor line, or damage that AU-9 reports
            events += rec.get("ts", 0) >= since and rec.get("outcome") in EVENT_OUTCOMES
    return events


def _integrity_controls(audit_report, data_dir: str, signer) -> list[dict]:
    backend = signer.describe().get("backend")
    keys = ("keystore keys matched their recorded public keys when opened"
            if backend == "software keystore" else "public keys read from the token")
    return [
        _control("SI-4", "System monitoring (security events in 24 h)", "pass",
                 {"security_events_24h": _events_24h(data_dir)}),
        _control("SI-7", "Information integrity verification",
                 "pass" if audit_report.ok else "fail",
                 {"audit_log_intact": audit_report.ok, "signing_keys": keys}),
    ]


def _settings(data_dir: str) -> tuple[SecuritySettings, str]:
    path = os.path.join(data_dir, SETTINGS_FILE)
    if not os.path.exists(path):
        return SecuritySettings(), "defaults (no settings.json: the framework never ran here)"
    with open(path, encoding="utf-8") as fh:
        return settings_from_json(json.load(fh)), "settings.json (written by the framework)"


def build_report(data_dir, signer, certs_dir=None) -> dict:
    """The evidence report (JSON-serialisable) for the data directory ``data_dir``."""
    data_dir = os.fspath(data_dir)
    settings, source = _settings(data_dir)
    users = UserStore(os.path.join(data_dir, "users.json"))
    audit, audit_report = _audit_controls(data_dir, signer, settings)
    ident, certs = _identification_controls(users, settings, certs_dir)
    controls = (_access_controls(users, settings, data_dir) + audit + ident +
                _protection_controls(data_dir, signer, certs) +
                _integrity_controls(audit_report, data_dir, signer))
    summary: dict[str, int] = {}
    for c in controls:
        summary[c["status"]] = summary.get(c["status"], 0) + 1
    return {"generated_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "standard": "NIST SP 800-53 Rev. 5 (families AC, AU, IA, SC, SI)",
            "settings_source": source, "summary": summary, "controls": controls}
