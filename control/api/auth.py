"""Authentication of the HTTP API on ``uqo.security``: the middlewares, login and logout.

Every route but the public ones (``routes.PUBLIC_PATHS``) needs ``Authorization: Bearer
<token>`` (or an enrolled agent's client certificate over mutual TLS):
``uqo.security.http.auth_middleware`` checks it and refuses with 401 in our error shape; then
``access.authorization`` decides the request (403 on refusal). Tokens come from
``POST /v1/auth/login`` (public: it is how one gets a token); ``POST /v1/auth/logout`` revokes
the caller's own token through the log, so every replica refuses it from then on.

A refused login answers ``invalid_credentials`` whether the user is unknown, the password
wrong, or the TOTP code wrong, malformed or replayed (``uqo.security.errors.outward``): telling
them apart would confirm the password, or that the account exists. The precise reason is in the
audit log.
"""

from __future__ import annotations

from aiohttp import web
from uqo.control.errors import ControlError
from uqo.control.state import commands as cmds

from . import schemas as s
from .access import authorization
from .accounts import before_login
from .appkeys import ORCH, SECURITY
from .codec import read_body, respond


def security_middlewares(fw, public_paths) -> list:
    """Authentication, then authorisation (outermost first)."""
    from uqo.security.http import auth_middleware

    return [auth_middleware(fw, public_paths=public_paths), authorization(fw)]


def credential(request: web.Request):
    """The authenticated caller's ``Credential`` (None under the pass-through)."""
    from uqo.security.http import CREDENTIAL

    return request.get(CREDENTIAL)


def caller(request: web.Request) -> str | None:
    """The authenticated caller's user id (None under the pass-through)."""
    cred = credential(request)
    return None if cred is None else cred.user_id


def _security(request: web.Request):
    fw = request.app.get(SECURITY)
    if fw is None:
        raise ControlError("auth_disabled", "authentication is not enabled on this server "
                           "(pass-through)", 404, None)
    return fw


async def login(request: web.Request) -> web.Response:
    from uqo.security import SecurityError
    from uqo.security.errors import outward

    fw = _security(request)
    body = await read_body(request, s.Login)
    credentials = {"password": body.password}
    if body.mfa_token is not None:
        credentials["mfa_token"] = body.mfa_token
    context = {} if body.clearance_required is None else {
        "clearance_required": body.clearance_required}
    await before_login(request)
    try:
        cred = await fw.login(body.user_id, credentials, request.remote or "127.0.0.1",
                              context)
    except SecurityError as exc:
        code, message = outward(exc)
        status = 400 if code == "invalid_argument" else 401
        raise ControlError(code, message, status, getattr(exc, "field", None)) from None
    return respond(request, {"token": cred.token, "user_id": cred.user_id,
                             "role": cred.role.value, "level": int(cred.level),
                             "expires_at": cred.expires_at})


async def logout(request: web.Request) -> web.Response:
    """Revoke the caller's own token (replicated: a ``RevokeToken`` command)."""
    fw, cred = _security(request), credential(request)
    await read_body(request, s.Empty)
    await request.app[ORCH].revoke(cmds.RevokeToken(at=fw.clock(), token_id=cred.token_id,
                                                    expires_at=cred.expires_at))
    await fw.trail.record_async("auth.logout", cred.user_id, "success",
                                {"token_id": cred.token_id})
    return respond(request, {"user_id": cred.user_id, "revoked": [cred.token_id]})
