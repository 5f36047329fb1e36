"""The ``uqo`` command line: ``main`` builds the parser from one module per area in this
package (``base``, ``control``, ``engine``, ...), each defining ``add_commands(sub, bench)``."""

from .main import main

__all__ = ["main"]
