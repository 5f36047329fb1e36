"""``uqo users add|list|disable|enable|unlock|revoke``: accounts of a stopped server.

They work on the server's ``<data>/security`` directory with the key the server uses
(``signer.json``: the PKCS#11 token, its PIN from ``UQO_HSM_PIN`` or the PIN file).
``disable``, ``enable`` and ``revoke`` end the user's sessions at once; the server logs the
change into its replicated state when it next starts (so every replica refuses the tokens).
On a running server use the admin routes (``/v1/users/...``, docs/control.md)."""

from __future__ import annotations

import sys

from .security import _fail, _open_signer, _signer_args


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
    for name, text in (("disable", ("disable an account: it cannot log in, its tokens are "
                                   "refused")),
                       ("enable", "enable a disabled account (its old tokens stay refused)"),
                       ("unlock", "clear an account's lockouts (from every network)"),
                       ("revoke", "end every session of an account (it may log in again)")):
        p = users.add_parser(name, help=text)
        p.add_argument("user")
        _signer_args(p)
        p.set_defaults(func=_users_change, change=name)


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


def _in_framework(args, action):
    """``action(fw)`` on the data directory's security framework, opened with the signer the
    flags name and closed after: ``(result, None)``, or ``(None, exit code)`` with the error
    printed (a signer that cannot open as is; a refused change with "nothing changed")."""
    from uqo.security import SecurityError, SecurityFramework

    try:
        signer = _open_signer(args)
    except SecurityError as exc:
        return None, _fail(str(exc))
    try:
        fw = SecurityFramework(args.data_dir, signer)
        try:
            return action(fw), None
        finally:
            fw.close()
    except SecurityError as exc:
        return None, _fail(f"{exc}; nothing changed")
    finally:
        signer.close()


def _users_add(args) -> int:
    password = _password(args)

    def add(fw):
        enrolment = fw.add_user(args.user, role=args.role, clearance=args.clearance,
                                compartments=args.compartment, password=password,
                                allowed_sources=args.allow_source, actor="cli")
        return enrolment, fw.users.get(args.user)

    done, rc = _in_framework(args, add)
    if done is None:
        return rc
    enrolment, user = done
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
    import time

    from uqo.security.limits import AttemptGate
    from uqo.security.users import UserStore

    locks = args.data_dir / "lockouts.json"
    gate = AttemptGate(5, 900, str(locks)) if locks.exists() else None
    for u in UserStore(args.data_dir / "users.json").all():
        locked = gate.locked(u.user_id, time.time()) if gate else []
        print(f"{u.user_id:<24} {u.role.value:<9} {u.clearance.name:<13} "
              f"{','.join(sorted(u.compartments)) or '-':<16} mfa={'yes' if u.totp_secret else 'no'}"
              f"{' DISABLED' if u.disabled else ''}"
              f"{' LOCKED from ' + ','.join(locked) if locked else ''}")
    return 0


def _users_change(args) -> int:
    if not (args.data_dir / "users.json").exists():
        return _fail(f"no accounts in --data-dir {args.data_dir} (give the server's "
                     f"<data>/security directory)")
    done, rc = _in_framework(args, lambda fw: _apply_change(fw, args.change, args.user))
    if done is None:
        return rc
    print(f"{args.user}: {done}")
    return 0


def _apply_change(fw, change: str, user: str) -> str:
    if change == "unlock":
        return f"{fw.unlock_user(user, actor='cli')} lockout(s) cleared"
    if change == "revoke":
        fw.accounts.revoke_sessions(user, actor="cli")
        return "every session revoked"
    fw.set_disabled(user, change == "disable", actor="cli")
    return f"{change}d; its sessions revoked"
