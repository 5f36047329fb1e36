"""The ``uqo serve`` process: open security (first-start bootstrap), build the app, listen,
and shut down gracefully on SIGTERM/SIGINT."""

from .bootstrap import ADMIN_FILE, open_security
from .process import run_server, serve

__all__ = ["ADMIN_FILE", "open_security", "run_server", "serve"]
