"""The typed keys of the aiohttp application's state (one module, so that the middlewares,
the handlers and the app builder share them without importing each other)."""

from __future__ import annotations

from aiohttp import web

ORCH = web.AppKey("orchestrator", object)          # leader.service.Orchestrator
OPENAPI = web.AppKey("openapi", dict)
SECURITY = web.AppKey("security", object)          # uqo.security.SecurityFramework, or absent
ROUTE_TABLE = web.AppKey("route_table", dict)      # operation id -> routes.Route
