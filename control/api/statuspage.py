"""The status page at ``/ui``: static assets shipped in the package, and a status stream.

Use cases::

    GET /ui                      # the page (public: it holds no data, only the login form)
    GET /ui/app.js, /ui/style.css
    GET /v1/status/stream?interval=2      # text/event-stream, bearer token: one ``status``
                                          # event per interval, the caller's /v1/status
    GET /v1/security/events?limit=20      # the newest audited security events (admin,
                                          # operator); the page reads it on each status event

The page is plain files in ``static/`` (no build step, nothing fetched from elsewhere); every
number it shows comes from authenticated API calls made by its script with the bearer token
it keeps in memory. Each asset goes out with a Content-Security-Policy that allows scripts,
styles and connections to this origin only (no inline script or style), and refuses framing.

The stream re-checks the caller's token before every event, so a token revoked (logout,
admin revocation, clearance change) or expired ends the stream at the next event with an
``event: error`` carrying the API's error body. A stream is a held request like a long-poll:
it lasts at most the server's ``long_poll_max_s`` (and ends at shutdown); the page then opens
a new one. The browser's ``EventSource`` cannot send an Authorization header,
so the page reads the stream with ``fetch`` (see ``static/app.js``).
"""

from __future__ import annotations

import asyncio
import time
from importlib import resources

from aiohttp import web

from . import schemas as s
from .access import scope_of
from .appkeys import ORCH, SECURITY
from .codec import encode, read_query, respond

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
       "img-src 'self' data:; form-action 'none'; base-uri 'none'; frame-ancestors 'none'")
_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
            "Cache-Control": "no-cache"}
_ASSETS = {"index.html": "text/html", "app.js": "text/javascript", "style.css": "text/css"}
_SLICE_S = 0.25          # how often a waiting stream looks at shutdown


def _asset(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


def _static(name: str):
    media = _ASSETS[name]

    async def handler(request: web.Request) -> web.Response:
        body = _asset(name)     # read per request: small, and edits show without a restart
        return web.Response(body=body, content_type=media, charset="utf-8", headers=_HEADERS)

    handler.__name__ = f"ui_{name.replace('.', '_')}"
    return handler


page, script, style = _static("index.html"), _static("app.js"), _static("style.css")


async def security_events(request: web.Request) -> web.Response:
    """This replica's newest audited security events (refused logins, denials, rejected
    tokens and certificates), newest first; none without authentication (pass-through)."""
    limit = read_query(request, s.SecurityEventsQuery).limit
    fw = request.app.get(SECURITY)
    events = fw.recent_security_events(limit) if fw is not None else []
    return respond(request, {"events": events, "limit": limit})


def _still_valid(request: web.Request):
    """None if the caller's credential still holds, else the error body ending the stream."""
    fw = request.app.get(SECURITY)
    if fw is None:
        return None
    from uqo.security.errors import AccessDenied, AuthenticationError
    from uqo.security.http import authenticate_request

    try:
        authenticate_request(fw, request)
    except (AuthenticationError, AccessDenied) as exc:
        return {"error": {"code": getattr(exc, "code", "unauthenticated"), "message": str(exc),
                          "field": "Authorization"}}
    return None


async def status_stream(request: web.Request) -> web.StreamResponse:
    interval, orch = read_query(request, s.StatusStreamQuery).interval, request.app[ORCH]
    scope = scope_of(request)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-store",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    try:
        await _events(request, response, scope, orch, interval)
        await response.write_eof()
    except ConnectionResetError:        # the page went away: nothing to tell anyone
        pass
    return response


async def _events(request, response, scope, orch, interval: float) -> None:
    deadline = time.monotonic() + orch.cfg.long_poll_max_s
    while not orch.closing and time.monotonic() < deadline:
        refused = _still_valid(request)
        if refused is not None:
            await response.write(b"event: error\ndata: " + encode(refused, False) + b"\n\n")
            return
        data = encode(scope.status(orch), False)
        await response.write(b"event: status\ndata: " + data + b"\n\n")
        until = time.monotonic() + interval
        while not orch.closing and time.monotonic() < until:
            await asyncio.sleep(min(_SLICE_S, max(0.0, until - time.monotonic())))
