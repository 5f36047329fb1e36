"""The aiohttp application: routes, middlewares, and the orchestrator's lifecycle.

Use cases::

    app = build_app(Orchestrator(cfg))       # the orchestrator starts with the app
    web.run_app(app, host=cfg.host, port=cfg.port)

The orchestrator is opened in ``cleanup_ctx`` (so it is closed only if it opened); on shutdown
long-polls are released first, aiohttp then waits for in-flight requests, and the cleanup stops
the background loops and closes the log (everything acknowledged is already fsync'd).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from . import handlers, middleware, replica
from .auth import ROUTE_TABLE, SECURITY, security_middlewares
from .codec import MAX_BODY
from .openapi import build_openapi
from .routes import PUBLIC_PATHS, ROUTE_BY_NAME, ROUTES
from .tracing import server_spans


def build_app(orch, security=None, background_start: bool = False) -> web.Application:
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
                                       replica.middleware(handlers.ORCH), *auth])
    app[handlers.ORCH] = orch
    app[MAX_BODY] = orch.cfg.max_body_bytes
    if security is not None:
        app[SECURITY] = security
    app[handlers.OPENAPI] = build_openapi()
    app[ROUTE_TABLE] = ROUTE_BY_NAME
    for route in ROUTES:
        app.router.add_route(route.method, route.path, route.handler, name=route.name)
    app.cleanup_ctx.append(replica.forward_session_ctx)
    app.cleanup_ctx.append(_background_ctx if background_start else _orchestrator_ctx)
    app.on_shutdown.append(_release_long_polls)
    return app


async def _orchestrator_ctx(app: web.Application):
    orch = app[handlers.ORCH]
    await orch.start()
    yield
    await orch.stop()


STARTING = web.AppKey("starting", asyncio.Task)


async def _background_ctx(app: web.Application):
    orch = app[handlers.ORCH]
    app[STARTING] = task = asyncio.create_task(orch.start(), name="uqo-start")
    yield
    if not task.done():
        task.cancel()
    await asyncio.wait({task})          # its outcome was reported by whoever awaited it
    await orch.stop()


async def _release_long_polls(app: web.Application) -> None:
    app[handlers.ORCH].begin_shutdown()
