"""The HTTP API (aiohttp): one route table (``routes.ROUTES``, each route with its
authorisation rule), the JSON/MessagePack codec, middlewares and the OpenAPI document."""

from .app import build_app

__all__ = ["build_app"]
