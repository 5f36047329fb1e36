"""uqo: the Unified Quantum Orchestrator.

One import root for the whole product: ``uqo.engine`` (batched quantum states), ``uqo.kernels``
(fused hot paths), ``uqo.control`` (scheduler, state machine, API, SDK), ``uqo.security``.
Importing ``uqo`` is light: the public names below are loaded on first use.
"""

from __future__ import annotations

import importlib

from ._version import __version__

# name -> module that defines it; resolved lazily so `import uqo` imports no backend or server.
_LAZY: dict[str, str] = {
    "UnifiedOrchestrator": "uqo.control.sdk.client",
    "EmbeddedOrchestrator": "uqo.control.sdk.embedded",
    "TaskPriority": "uqo.control.sdk.enums",
    "SecurityFramework": "uqo.security.framework",
    "SecurityLevel": "uqo.security.levels",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'uqo' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + list(_LAZY))


__all__ = ["__version__", *_LAZY]  # noqa: PLE0604 - the lazily imported names, all str
