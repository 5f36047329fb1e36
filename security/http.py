"""aiohttp middleware: every route but the public ones needs a valid credential.

Use cases::

    app = web.Application(middlewares=[auth_middleware(fw)])
    async def handler(request):
        cred = request[CREDENTIAL]            # uqo.security.Credential of the caller

    # optional per-route authorisation (403 on refusal):
    def rules(request, cred):                 # -> (resource, action, context) or None
        if request.path.startswith("/v1/tasks") and request.method == "POST":
            return "tasks", "submit", {"classification": cred.level}
    auth_middleware(fw, authorize=rules)

A caller is authenticated by ``Authorization: Bearer <session token>``, or, over mutual TLS,
by a client certificate whose identity is ``uqo://agent/<id>`` for an enrolled agent. When
both are present they must name the same principal (an agent acts only as itself). Refusals
are JSON ``{"error": {"code", "message", "field"}}``: 401 (with ``WWW-Authenticate``) when
no valid credential was shown, 403 when it was valid but not allowed.
"""

from __future__ import annotations

from aiohttp import web

from .errors import AccessDenied, AuthenticationError
from .tls import peer_identity
from .tokens import Credential

CREDENTIAL = web.RequestKey("uqo_credential", Credential)
PUBLIC_PATHS = ("/health/live", "/health/ready", "/metrics")


def _error(status: int, code: str, message: str, field: str | None) -> web.Response:
    headers = {"WWW-Authenticate": 'Bearer realm="uqo"'} if status == 401 else None
    return web.json_response({"error": {"code": code, "message": message, "field": field}},
                             status=status, headers=headers)


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("Authorization header must be 'Bearer <token>'")
    return token.strip()


def authenticate_request(fw, request: web.Request) -> Credential:
    """The caller's credential, or ``AuthenticationError`` / ``AccessDenied``. A replica's
    certificate is the transport of a request another replica forwarded: the caller is the
    bearer token it carries (a replica certificate alone authenticates nobody)."""
    token, peer = _bearer(request), peer_identity(request)
    if peer is not None and peer.kind == "replica":
        if token is None:
            raise AuthenticationError("a replica forwards a caller's bearer token; it has "
                                      "none of its own")
        return fw.verify_token(token)
    if peer is not None and peer.kind != "agent":
        raise AccessDenied(f"{peer.kind} certificates are not accepted on the API",
                           "certificate")
    if token is not None:
        cred = fw.verify_token(token)
        if peer is not None and peer.name != cred.user_id:
            raise AccessDenied(f"client certificate of agent {peer.name!r} does not match the "
                               f"token of {cred.user_id!r}", "agent-self")
        return cred
    if peer is not None:
        return fw.credential_for_agent_certificate(peer.name)
    raise AuthenticationError("a bearer token or an agent client certificate is required")


def auth_middleware(fw, public_paths=PUBLIC_PATHS, authorize=None):
    """The middleware; ``authorize(request, cred)`` may return ``(resource, action, context)``
    to have ``fw.authorize_access`` decide the request (its refusals answer 403)."""
    public = frozenset(public_paths)

    @web.middleware
    async def middleware(request: web.Request, handler):
        if request.path in public:
            return await handler(request)
        try:
            cred = authenticate_request(fw, request)
            spec = authorize(request, cred) if authorize else None
            if spec is not None:
                await fw.require_access(cred, *spec)
        except AuthenticationError as exc:
            return _error(401, exc.code, str(exc), "Authorization")
        except AccessDenied as exc:
            return _error(403, "forbidden", exc.reason, None)
        request[CREDENTIAL] = cred
        return await handler(request)

    return middleware
