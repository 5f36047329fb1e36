"""Authentication and role checks of the HTTP API, on ``uqo.security``.

Every route but the public ones (``routes.PUBLIC_PATHS``) needs ``Authorization: Bearer <token>`` (or an enrolled
agent's client certificate over mutual TLS): ``uqo.security.http.auth_middleware`` checks it
and refuses with 401/403 in our error shape. ``authorization`` then asks the framework's policy
(``uqo.security.policy.decide``) whether the caller's role may take the action the route
declares (``routes.ROUTES``); an agent
acts only as itself (agent routes name the agent in the path). Tokens come from
``POST /v1/auth/login`` (public: it is how one gets a token).

Auditing: a refusal goes through ``SecurityFramework.authorize_access``, so it is decided again,
audited and counted in ``security_events_24h``. A grant is *not* written to the audit log one
request at a time: the framework appends each record with its own fsync, which measured ~700
requests/s with every grant audited; what a granted request changed is in the command log,
with the caller as ``submitted_by``.
"""

from __future__ import annotations

from aiohttp import web
from uqo.control.errors import ControlError

from . import schemas as s
from .codec import read_body, respond

SECURITY = web.AppKey("security", object)
ROUTE_TABLE = web.AppKey("route_table", dict)     # operation id -> routes.Route


def route_rules(request: web.Request, cred):
    """``(resource, action, context)`` for the framework's policy, from the matched route's
    declared access; None for a public route or a request that matched no route (404/405)."""
    route = request.app[ROUTE_TABLE].get(request.match_info.route.name)
    if route is None or route.access.public:
        return None
    context = {}
    if "agent_id" in request.match_info:
        context["agent_id"] = request.match_info["agent_id"]
    return route.access.resource, route.access.action, context


def security_middlewares(fw, public_paths) -> list:
    """Authentication, then authorisation (outermost first)."""
    from uqo.security.http import auth_middleware

    return [auth_middleware(fw, public_paths=public_paths), _authorization(fw)]


def _authorization(fw):
    from uqo.security.http import CREDENTIAL
    from uqo.security.policy import decide

    @web.middleware
    async def middleware(request: web.Request, handler):
        cred = request.get(CREDENTIAL)
        rule = route_rules(request, cred) if cred is not None else None
        if rule is not None and not decide(cred, *rule).allowed:
            _, reason = await fw.authorize_access(cred, *rule)   # decided again, audited
            raise ControlError("forbidden", reason, 403, None)
        return await handler(request)

    return middleware


def caller(request: web.Request) -> str | None:
    """The authenticated caller's user id (None under the pass-through)."""
    from uqo.security.http import CREDENTIAL

    cred = request.get(CREDENTIAL)
    return None if cred is None else cred.user_id


async def login(request: web.Request) -> web.Response:
    from uqo.security import SecurityError

    fw = request.app.get(SECURITY)
    if fw is None:
        raise ControlError("auth_disabled", "authentication is not enabled on this server "
                           "(pass-through)", 404, None)
    body = await read_body(request, s.Login)
    credentials = {"password": body.password}
    if body.mfa_token is not None:
        credentials["mfa_token"] = body.mfa_token
    context = {} if body.clearance_required is None else {
        "clearance_required": body.clearance_required}
    try:
        cred = await fw.login(body.user_id, credentials, request.remote or "127.0.0.1",
                              context)
    except SecurityError as exc:
        code = getattr(exc, "code", "unauthenticated")
        status = 400 if code == "invalid_argument" else 401
        raise ControlError(code, str(exc), status, getattr(exc, "field", None)) from None
    return respond(request, {"token": cred.token, "user_id": cred.user_id,
                             "role": cred.role.value, "level": int(cred.level),
                             "expires_at": cred.expires_at})
