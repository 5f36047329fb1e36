"""Administration over HTTP (admin role only, by the routes' access rules): users, session
revocation, keys, compliance evidence.

Use cases (the HTTP side; docs/control.md has the table)::

    POST /v1/users {"user_id", "role", "clearance", "password"?}   -> TOTP secret (and a
                                                                    generated password), once
    POST /v1/users/{id}/disable | enable | unlock | revoke
    PUT  /v1/users/{id}/clearance {"clearance": 1, "compartments": ["INTEL"]}
    POST /v1/auth/revoke {"token_id"}          GET /v1/keys     POST /v1/keys/rotate
    GET  /v1/compliance

Every change that ends sessions is logged first as a ``RevokeSessions`` command (so every
replica refuses the user's tokens, across restarts) and then applied to this node's user store
(``bump=False``: the epoch is the log's). An administrator cannot disable, remove, revoke or
re-clear its own account (the one way back in would be the command line on a stopped server):
409 ``self_change``; nor grant a clearance above its own: 403 ``grant``, audited.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from uqo.control.errors import ControlError
from uqo.control.state import commands as cmds

from . import schemas as s
from .accounts import replicate_account
from .appkeys import ORCH, SECURITY
from .auth import credential
from .codec import read_body, respond
from .sessions import account_command


def _fw(request: web.Request):
    fw = request.app.get(SECURITY)
    if fw is None:
        raise ControlError("auth_disabled", "authentication is not enabled on this server "
                           "(pass-through)", 404, None)
    return fw


def _user_id(request: web.Request, fw, *, not_self: str | None = None) -> str:
    user_id = request.match_info["user_id"]
    if fw.users.get(user_id) is None:
        raise ControlError.not_found("user", user_id, "user_id")
    if not_self and user_id == credential(request).user_id:
        raise ControlError.conflict("self_change", f"an administrator cannot {not_self} its "
                                    f"own account", "user_id")
    return user_id


async def _within_own_clearance(request: web.Request, fw, level: int) -> None:
    """Nobody grants a clearance above its own: a 403 (rule ``grant``), audited."""
    from uqo.security.levels import SecurityLevel
    from uqo.security.policy import Decision

    cred = credential(request)
    if level <= cred.clearance:
        return
    decision = Decision(False, f"denied (grant): {cred.user_id!r} holds clearance "
                               f"{cred.clearance.name} and cannot grant "
                               f"{SecurityLevel(level).name}", "grant")
    await fw.audit_decision(decision, cred.user_id, "users", "manage_users",
                            {"source": request.remote})
    raise ControlError("forbidden", decision.reason, 403, "clearance", reason="grant")


def _security_error(exc) -> ControlError:
    return ControlError("invalid_value", str(exc), 400, getattr(exc, "field", None))


async def _replicate(request: web.Request, fw, user_id: str) -> None:
    """Log the user's account as this node now has it (ends its sessions everywhere)."""
    await replicate_account(request, fw, user_id)
    await request.app[ORCH].revoke(account_command(fw, user_id))


# ---- users ------------------------------------------------------------------------------
async def list_users(request: web.Request) -> web.Response:
    return respond(request, {"items": _fw(request).accounts.list()})


async def get_user(request: web.Request) -> web.Response:
    fw = _fw(request)
    return respond(request, fw.accounts.describe(_user_id(request, fw)))


async def add_user(request: web.Request) -> web.Response:
    from uqo.security import SecurityError

    fw, body = _fw(request), await read_body(request, s.UserCreate)
    if fw.users.get(body.user_id) is not None:
        raise ControlError.conflict("user_exists", f"user {body.user_id!r} already exists",
                                    "user_id")
    await _within_own_clearance(request, fw, body.clearance)
    loop, args = asyncio.get_running_loop(), _enrol_args(body)
    try:                     # Argon2id takes ~0.2 s: off the event loop
        user, enrolment = await loop.run_in_executor(None, fw.accounts.build, body.user_id,
                                                     args)
    except SecurityError as exc:
        raise _security_error(exc) from None
    if fw.users.get(user.user_id) is not None:            # added while we hashed
        raise ControlError.conflict("user_exists", f"user {user.user_id!r} already exists",
                                    "user_id")
    fw.accounts.enrol(user, actor=credential(request).user_id, bump=False)
    await _replicate(request, fw, user.user_id)
    generated = None if body.password else args["password"]
    return respond(request, {**fw.accounts.describe(user.user_id),
                             "provisioning_uri": enrolment.provisioning_uri,
                             "totp_secret": enrolment.totp_secret,
                             "password": generated}, 201)


def _enrol_args(body: s.UserCreate) -> dict:
    import secrets

    return {"role": body.role, "clearance": body.clearance, "compartments": body.compartments,
            "password": body.password or secrets.token_urlsafe(24)}


async def remove_user(request: web.Request) -> web.Response:
    fw = _fw(request)
    user_id = _user_id(request, fw, not_self="remove")
    fw.remove_user(user_id, actor=credential(request).user_id, bump=False)
    await _replicate(request, fw, user_id)
    return respond(request, {"user_id": user_id, "removed": True})


def _switch(disabled: bool):
    async def handler(request: web.Request) -> web.Response:
        fw = _fw(request)
        await read_body(request, s.Empty)
        user_id = _user_id(request, fw, not_self="disable" if disabled else None)
        fw.set_disabled(user_id, disabled, actor=credential(request).user_id, bump=False)
        await _replicate(request, fw, user_id)
        return respond(request, fw.accounts.describe(user_id))
    return handler


disable_user, enable_user = _switch(True), _switch(False)


async def unlock_user(request: web.Request) -> web.Response:
    fw = _fw(request)
    await read_body(request, s.Empty)
    user_id = _user_id(request, fw)
    cleared = fw.unlock_user(user_id, actor=credential(request).user_id)
    return respond(request, {**fw.accounts.describe(user_id), "locks_cleared": cleared})


async def revoke_user(request: web.Request) -> web.Response:
    fw = _fw(request)
    await read_body(request, s.Empty)
    user_id = _user_id(request, fw, not_self="revoke the sessions of")
    fw.accounts.revoke_sessions(user_id, actor=credential(request).user_id, bump=False)
    await _replicate(request, fw, user_id)
    return respond(request, fw.accounts.describe(user_id))


async def set_clearance(request: web.Request) -> web.Response:
    from uqo.security import SecurityError

    fw, body = _fw(request), await read_body(request, s.ClearanceChange)
    user_id = _user_id(request, fw, not_self="change the clearance of")
    await _within_own_clearance(request, fw, body.clearance)
    try:
        fw.accounts.set_clearance(user_id, body.clearance, body.compartments,
                                  actor=credential(request).user_id, bump=False)
    except SecurityError as exc:
        raise _security_error(exc) from None
    await _replicate(request, fw, user_id)
    return respond(request, fw.accounts.describe(user_id))


# ---- sessions, keys, compliance -----------------------------------------------------------
async def revoke_token(request: web.Request) -> web.Response:
    fw, body = _fw(request), await read_body(request, s.TokenRevocation)
    expires = fw.clock() + fw.settings.auth.token_ttl_s       # no token outlives this
    await request.app[ORCH].revoke(cmds.RevokeToken(at=fw.clock(), token_id=body.token_id,
                                                    expires_at=expires))
    await fw.trail.record_async("auth.revoke", credential(request).user_id, "success",
                                {"token_id": body.token_id})
    return respond(request, {"revoked": [body.token_id]})


def _keys(fw) -> dict:
    counter = fw.audit.countersigner
    return {"signer": fw.signer.describe(),
            "keys": [k.to_json() for k in fw.signer.public_keys()],
            "countersigner": None if counter is None else {**counter.describe(),
                                                           **counter.public().to_json()}}


async def get_keys(request: web.Request) -> web.Response:
    fw = _fw(request)
    return respond(request, await asyncio.get_running_loop().run_in_executor(None, _keys, fw))


async def rotate_key(request: web.Request) -> web.Response:
    fw = _fw(request)
    await read_body(request, s.Empty)
    actor = credential(request).user_id
    info = await asyncio.get_running_loop().run_in_executor(None, fw.rotate_key, actor)
    return respond(request, {"key_id": info.key_id, "algorithm": info.algorithm,
                             "public_key_pem": info.public_key_pem})


async def compliance(request: web.Request) -> web.Response:
    from uqo.security.compliance import build_report

    fw = _fw(request)
    certs = request.app.get(CERTS_DIR)
    report = await asyncio.get_running_loop().run_in_executor(
        None, build_report, fw.data_dir, fw.signer, certs)
    return respond(request, report)


CERTS_DIR = web.AppKey("certs_dir", str)     # a PKI directory for the compliance evidence
