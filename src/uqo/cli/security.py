"""``uqo users add|list``, ``uqo audit verify``, ``uqo certs init``, ``uqo compliance report``,
``uqo bench security``. See docs/security.md."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _signer_args(p) -> None:
    p.add_argument("--data-dir", type=Path, default=Path("uqo-data"),
                   help="security data directory (default ./uqo-data)")
    p.add_argument("--hsm-module", help="PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so);"
                   " default: the software keystore in --data-dir")
    p.add_argument("--hsm-token", help="PKCS#11 token label")
    p.add_argument("--hsm-pin-env", default="UQO_HSM_PIN",
                   help="environment variable holding the token PIN (default UQO_HSM_PIN)")
    p.add_argument("--passphrase-env", default="UQO_KEYSTORE_PASSPHRASE",
                   help="environment variable holding the keystore passphrase; if unset, the "
                        "key file in --data-dir is used")


def add_commands(sub, bench) -> None:
    users = sub.add_parser("users", help="user accounts").add_subparsers(dest="users_cmd")
    p = users.add_parser("add", help="enrol a user; prints the TOTP provisioning URI")
    p.add_argument("user")
    p.add_argument("--role", required=True, help="admin | operator | analyst | agent")
    p.add_argument("--clearance", required=True,
                   help="UNCLASSIFIED | CONFIDENTIAL | SECRET | TOP_SECRET (or 0..3)")
    p.add_argument("--compartment", action="append", default=[], help="repeatable")
    p.add_argument("--allow-source", action="append", default=[], metavar="CIDR",
                   help="only log in from these networks (repeatable)")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from standard input (else prompt; agents without "
                        "one get a generated password)")
    p.add_argument("--no-qr", action="store_true", help="do not draw the QR code")
    _signer_args(p)
    p.set_defaults(func=_users_add)
    p = users.add_parser("list", help="list accounts")
    _signer_args(p)
    p.set_defaults(func=_users_list)
    p = sub.add_parser("audit", help="audit log").add_subparsers(dest="audit_cmd")
    v = p.add_parser("verify", help="prove the audit log intact (exit 0) or pinpoint edits")
    v.add_argument("--data-dir", type=Path, default=Path("uqo-data"))
    v.add_argument("--public-key", action="append", default=[], type=Path,
                   help="pinned PEM public key(s) to trust (default: audit/keys.json)")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=_audit_verify)
    c = sub.add_parser("certs", help="development PKI").add_subparsers(dest="certs_cmd")
    i = c.add_parser("init", help="issue a development CA, server, replica, agent certs")
    i.add_argument("--out", type=Path, required=True)
    i.add_argument("--host", action="append", default=[], help="server names/IPs "
                   "(default localhost, 127.0.0.1)")
    i.add_argument("--replicas", type=int, default=3)
    i.add_argument("--agent", action="append", default=[], help="agent ids (default agent-1)")
    i.add_argument("--days", type=int, default=90)
    i.add_argument("--force", action="store_true", help="replace existing files")
    i.set_defaults(func=_certs_init)
    r = sub.add_parser("compliance", help="compliance evidence").add_subparsers(dest="c_cmd")
    r = r.add_parser("report", help="NIST SP 800-53 evidence as JSON and HTML")
    _signer_args(r)
    r.add_argument("--certs", type=Path, help="a `uqo certs init` directory to check")
    r.add_argument("--out", type=Path, help="output directory (default --data-dir)")
    r.set_defaults(func=_compliance)
    b = bench.add_parser("security", help="HSM signatures/s, Argon2id time, audit appends/s")
    b.add_argument("--quick", action="store_true", help="short runs (CI)")
    b.add_argument("--out", type=Path, default=Path("bench/results"))
    b.set_defaults(func=_bench)


def _fail(message: str, code: int = 2) -> int:
    print(f"uqo: {message}", file=sys.stderr)
    return code


def _open_signer(args):
    from uqo.security.signerconfig import open_signer

    pin = os.environ.get(args.hsm_pin_env)
    passphrase = os.environ.get(args.passphrase_env)
    return open_signer(args.data_dir, hsm_module=args.hsm_module, hsm_token=args.hsm_token,
                       hsm_pin=pin, passphrase=passphrase.encode() if passphrase else None)


def _password(args) -> str | None:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if args.role.strip().lower() == "agent" or not sys.stdin.isatty():
        return None
    import getpass

    first = getpass.getpass(f"password for {args.user}: ")
    if first != getpass.getpass("again: "):
        raise SystemExit(_fail("passwords differ; nothing changed"))
    return first


def _users_add(args) -> int:
    from uqo.security import SecurityError, SecurityFramework

    password = _password(args)
    try:
        signer = _open_signer(args)
    except SecurityError as exc:
        return _fail(str(exc))
    try:
        fw = SecurityFramework(args.data_dir, signer)
        try:
            enrolment = fw.add_user(args.user, role=args.role, clearance=args.clearance,
                                    compartments=args.compartment, password=password,
                                    allowed_sources=args.allow_source, actor="cli")
        finally:
            fw.close()
    except SecurityError as exc:
        return _fail(f"{exc}; nothing changed")
    finally:
        signer.close()
    user = fw.users.get(args.user)
    print(f"added {user.user_id}: role {user.role.value}, clearance {user.clearance.name}, "
          f"compartments {','.join(sorted(user.compartments)) or '-'}")
    if enrolment.password:
        print(f"generated password (shown once): {enrolment.password}")
    if enrolment.provisioning_uri:
        print(f"TOTP provisioning URI: {enrolment.provisioning_uri}")
        if not args.no_qr and sys.stdout.isatty():
            import segno

            segno.make(enrolment.provisioning_uri).terminal(compact=True)
    return 0


def _users_list(args) -> int:
    from uqo.security.users import UserStore

    for u in UserStore(args.data_dir / "users.json").all():
        print(f"{u.user_id:<24} {u.role.value:<9} {u.clearance.name:<13} "
              f"{','.join(sorted(u.compartments)) or '-':<16} mfa={'yes' if u.totp_secret else 'no'}"
              f"{' LOCKED' if u.failures and u.locked_until else ''}")
    return 0


def _trusted_keys(args):
    from uqo.security.auditfile import KEYS_FILE, read_keys
    from uqo.security.signing import PublicKeyInfo

    if args.public_key:
        keys = [PublicKeyInfo.from_pem(p.read_bytes()) for p in args.public_key]
        return {k.key_id: k for k in keys}, "pinned --public-key"
    note = ("audit/keys.json (pin keys with --public-key for a check independent of this "
            "directory)")
    return read_keys(str(args.data_dir / "audit" / KEYS_FILE)), note


def _audit_verify(args) -> int:
    import json

    from uqo.security import SecurityError
    from uqo.security.auditverify import verify_log

    audit_dir = args.data_dir / "audit"
    if not audit_dir.is_dir():
        return _fail(f"no audit log in --data-dir {args.data_dir} ({audit_dir} is missing)")
    try:
        keys, source = _trusted_keys(args)
    except (OSError, SecurityError) as exc:
        return _fail(f"--public-key: {exc}")
    report = verify_log(str(audit_dir), keys)
    if args.json:
        print(json.dumps({**report.to_dict(), "trusted_keys": source}, indent=1))
    else:
        state = "INTACT" if report.ok else "TAMPERED"
        print(f"audit log {audit_dir}: {state}; {report.records} records from seq "
              f"{report.first_seq}, {report.verified_checkpoints}/{report.checkpoints} "
              f"checkpoints verified, {report.unsigned_tail} records not yet signed; "
              f"keys: {source}")
        for f in report.findings:
            print(f"  {f.kind:<11} {f.where}: {f.message}")
    return 0 if report.ok else 1


def _certs_init(args) -> int:
    from uqo.security import SecurityError
    from uqo.security.certs import init_pki

    try:
        files = init_pki(args.out, hosts=args.host or ["localhost", "127.0.0.1"],
                         replicas=args.replicas, agents=args.agent or ["agent-1"],
                         days=args.days, force=args.force)
    except SecurityError as exc:
        return _fail(f"{exc}; nothing written")
    print(f"wrote {len(files)} files to {args.out}: " + ", ".join(os.path.basename(f)
                                                                  for f in files))
    return 0


def _compliance(args) -> int:
    import json

    from uqo.fsutil import atomic_write
    from uqo.security import SecurityError
    from uqo.security.compliance import build_report
    from uqo.security.compliance_html import render_html

    if not args.data_dir.is_dir():
        return _fail(f"--data-dir {args.data_dir} does not exist")
    if args.certs is not None and not args.certs.is_dir():
        return _fail(f"--certs {args.certs} is not a directory")
    try:
        signer = _open_signer(args)
    except SecurityError as exc:
        return _fail(str(exc))
    try:
        report = build_report(args.data_dir, signer, args.certs)
    finally:
        signer.close()
    out = args.out or args.data_dir
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "compliance.json", json.dumps(report, indent=1, default=str).encode())
    atomic_write(out / "compliance.html", render_html(report).encode())
    for c in report["controls"]:
        print(f"{c['id']:<6} {c['status']:<12} {c['title']}")
    print(f"summary: {report['summary']}; wrote {out / 'compliance.json'} and "
          f"{out / 'compliance.html'}")
    return 1 if report["summary"].get("fail") else 0


def _bench(args) -> int:
    from uqo.bench.security import main

    return main(args.out, quick=args.quick)
