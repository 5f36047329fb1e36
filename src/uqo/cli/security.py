"""``uqo audit verify``, ``uqo certs init|agent``, ``uqo compliance report``, ``uqo bench
security`` (``uqo users``: users.py). See docs/security.md.

``audit`` and ``compliance`` work on a stopped server's ``<data>/security`` directory (the
audit log has one writer at a time) with the key the server uses (``signer.json``: the PKCS#11
token, its PIN from ``UQO_HSM_PIN`` or the PIN file)."""

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
    p = sub.add_parser("audit", help="audit log").add_subparsers(dest="audit_cmd")
    v = p.add_parser("verify", help="prove the audit log intact (exit 0) or pinpoint edits")
    v.add_argument("--data-dir", type=Path, default=Path("uqo-data"))
    v.add_argument("--public-key", action="append", default=[], type=Path,
                   help="pinned PEM public key(s) to trust (default: audit/keys.json)")
    v.add_argument("--witness", action="append", default=[], type=Path,
                   help="checkpoints kept elsewhere (a witness file, an earlier "
                        "checkpoints.jsonl): each is compared with the log, so a history "
                        "rewritten and re-signed with the log's own key is caught")
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
    g = c.add_parser("agent", help="issue an agent (or replica) certificate from a server's "
                     "local CA (<data>/tls), for mutual TLS")
    g.add_argument("name", help="the agent id (its certificate says uqo://agent/<name>)")
    g.add_argument("--data-dir", type=Path, default=Path("uqo-data"),
                   help="the server's data directory (default ./uqo-data)")
    g.add_argument("--out", type=Path, required=True, help="where to write <name>.pem/.key")
    g.add_argument("--kind", choices=("agent", "replica"), default="agent")
    g.add_argument("--host", action="append", default=[], help="names/addresses (replicas)")
    g.add_argument("--days", type=int, default=90)
    g.set_defaults(func=_certs_agent)
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
    from uqo.security.hsm import open_recorded, read_record
    from uqo.security.signerconfig import open_signer

    if args.hsm_module is None and read_record(str(args.data_dir)) is not None:
        return open_recorded(str(args.data_dir), os.environ)      # the server's own key
    pin = os.environ.get(args.hsm_pin_env)
    passphrase = os.environ.get(args.passphrase_env)
    return open_signer(args.data_dir, hsm_module=args.hsm_module, hsm_token=args.hsm_token,
                       hsm_pin=pin, passphrase=passphrase.encode() if passphrase else None)


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
    try:
        witnessed = _witnessed(args.witness)
    except (OSError, SecurityError) as exc:
        return _fail(f"--witness: {exc}")
    report = verify_log(str(audit_dir), keys, witnessed)
    if args.json:
        print(json.dumps({**report.to_dict(), "trusted_keys": source}, indent=1))
    else:
        state = "INTACT" if report.ok else "TAMPERED"
        print(f"audit log {audit_dir}: {state}; {report.records} records from seq "
              f"{report.first_seq}, {report.verified_checkpoints}/{report.checkpoints} "
              f"checkpoints verified, {report.unsigned_tail} records not yet signed; "
              f"keys: {source}"
              + (f"; {report.witnessed}/{len(witnessed)} witnessed checkpoints match"
                 if witnessed else ""))
        for f in report.findings:
            print(f"  {f.kind:<11} {f.where}: {f.message}")
    return 0 if report.ok else 1


def _witnessed(paths) -> list:
    from uqo.security.auditfile import read_checkpoints
    from uqo.security.errors import AuditError

    out = []
    for path in paths:
        if not path.is_file():
            raise OSError(f"{path} does not exist")
        for line_no, cp in read_checkpoints(str(path)):
            if isinstance(cp, AuditError):
                raise AuditError(f"{path}: line {line_no}: {cp}")
            out.append(cp)
    return out


def _certs_agent(args) -> int:
    from uqo.security import SecurityError
    from uqo.security.certs import issue_leaf

    ca_dir = args.data_dir / "tls"
    if not (ca_dir / "ca.key").exists():
        return _fail(f"no local CA in {ca_dir} (start the server once with this --data-dir)")
    try:
        cert, key = issue_leaf(ca_dir, args.kind, args.name, args.host, args.days, args.out)
    except SecurityError as exc:
        return _fail(f"{exc}; nothing written")
    print(f"wrote {cert} and {key} ({args.kind} {args.name}, {args.days} days); trust "
          f"{ca_dir / 'ca.pem'} on the client (uqo agent --ca ... --cert {cert} --key {key})")
    return 0


def _certs_init(args) -> int:
    from uqo.security import SecurityError
    from uqo.security.certs import init_pki

    try:
        files = init_pki(args.out, hosts=args.host or ["localhost", "127.0.0.1"],
                         replicas=args.replicas, agents=args.agent or ["agent-1"],
                         days=args.days, force=args.force)
    except SecurityError as exc:
        return _fail(f"{exc}; nothing written")
    secret = os.path.join(args.out, "cluster-secret.key")     # for uqo serve --cluster-secret
    if not os.path.exists(secret):
        from uqo.security.clusterkey import write_cluster_secret

        files.append(write_cluster_secret(secret))
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
