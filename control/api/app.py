"""The aiohttp application: routes, middlewares, and the orchestrator's lifecycle.

Use cases::

    app = build_app(Orchestrator(cfg))       # the orchestrator starts with the app
    app = build_app(Orchestrator(cfg), security=fw, background_start=True)   # uqo serve
    web.run_app(app, host=cfg.host, port=cfg.port)

The orchestrator is opened in ``cleanup_ctx`` (so it is closed only if it opened); on shutdown
long-polls are released first, aiohttp then waits for in-flight requests, and the cleanup stops
the background loops and closes the log (everything acknowledged is already fsync'd). With a
security framework, session revocation is taken from the orchestrator's replicated state
(``sessions.py``), and changes made to the data directory while the server was stopped are
logged into it once the log has recovered (requests other than the public ones wait for the
start: 503 ``starting``).
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from . import accounts, handlers, idempotency, middleware, replica
from .admin import CERTS_DIR
from .appkeys import OPENAPI, ORCH, ROUTE_TABLE, SECURITY
from .auth import security_middlewares
from .codec import MAX_BODY
from .keys import key_publisher_ctx
from .openapi import build_openapi
from .routes import PUBLIC_PATHS, ROUTE_BY_NAME, ROUTES
from .sessions import StateSessions, take_over_local_changes
from .tracing import server_spans

_LOG = logging.getLogger(__name__)


def build_app(orch, security=None, background_start: bool = False,
              certs_dir: str | None = None) -> web.Application:
    """``security``: a ``uqo.security.SecurityFramework``; every route but the public ones
    then needs a token. None installs the pass-through (development only).

    ``background_start``: the app's startup returns at once and the orchestrator starts
    (recovery, engine build, kernel compilation) in the background, so the server can listen
    and answer ``/health/live`` at once; until it has started, every route but the public
    ones answers 503 ``starting`` with ``Retry-After``. ``app[STARTING]`` is that task."""
    auth = ([middleware.passthrough_auth()] if security is None
            else security_middlewares(security, PUBLIC_PATHS))
    orch.security = security
    app = web.Application(client_max_size=orch.cfg.max_body_bytes,
                          middlewares=[server_spans, middleware.errors,
                                       middleware.timing(orch.metrics),
                                       middleware.until_started(orch, PUBLIC_PATHS),
                                       replica.middleware(handlers.ORCH), *auth,
                                       idempotency.middleware])
    app[ORCH] = orch
    app[idempotency.IN_FLIGHT] = set()
    app[MAX_BODY] = orch.cfg.max_body_bytes
    if security is not None:
        app[SECURITY] = security
        security.use_sessions(StateSessions(orch, security.local_sessions))
        accounts.install(app, security, orch.cfg)
        orch.metrics.watch_security(security.trail)
        app.cleanup_ctx.append(_audit_verifier)
    if certs_dir is not None:
        app[CERTS_DIR] = certs_dir
    app[OPENAPI] = build_openapi()
    app[ROUTE_TABLE] = ROUTE_BY_NAME
    for route in ROUTES:
        app.router.add_route(route.method, route.path, route.handler, name=route.name)
    app.cleanup_ctx.append(replica.forward_session_ctx)
    app.cleanup_ctx.append(_background_ctx if background_start else _orchestrator_ctx)
    app.cleanup_ctx.append(key_publisher_ctx)     # after the orchestrator: stops before it
    app.on_shutdown.append(_release_long_polls)
    return app


async def _start(app: web.Application) -> None:
    """Start the orchestrator; then log into its state the session changes made to the data
    directory while the server was stopped."""
    await app[ORCH].start()
    if SECURITY in app:
        await take_over_local_changes(app[ORCH], app[SECURITY])


async def _orchestrator_ctx(app: web.Application):
    await _start(app)
    yield
    await app[ORCH].stop()


STARTING = web.AppKey("starting", asyncio.Task)


async def _background_ctx(app: web.Application):
    orch = app[ORCH]
    app[STARTING] = task = asyncio.create_task(_start(app), name="uqo-start")
    yield
    if not task.done():
        task.cancel()
    await asyncio.wait({task})          # its outcome was reported by whoever awaited it
    await orch.stop()


async def _audit_verifier(app: web.Application):
    """Verify the audit log at start and every ``audit_verify_interval_s`` (in a thread: it
    reads the whole log), for ``uqo_audit_verify_ok`` and its alert."""
    trail = app[SECURITY].trail
    interval = app[ORCH].cfg.audit_verify_interval_s

    async def verify_forever():
        loop = asyncio.get_running_loop()
        while True:
            try:
                await loop.run_in_executor(None, trail.verify)
            except Exception:  # noqa: BLE001 - unreadable log: reported as a failed verification
                _LOG.exception("audit verification could not run")
                trail.last_verify = (False, -1, trail.clock())
            await asyncio.sleep(interval)

    task = asyncio.create_task(verify_forever(), name="uqo-audit-verify")
    yield
    task.cancel()
    await asyncio.wait({task})


async def _release_long_polls(app: web.Application) -> None:
    app[ORCH].begin_shutdown()
