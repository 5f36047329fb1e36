"""Array backends: numpy (the reference), JAX (jit) and CuPy, behind one small object.

Use cases::

    be = get_backend()              # UQO_BACKEND or "auto"
    be = get_backend("numpy")       # explicit
    x = be.asarray(host_array)      # onto the backend's device
    host = be.to_numpy(x)           # back to numpy

Engine math never names a library: it takes ``xp = array_namespace(x)`` from its arguments
(array-api-compat), so the same code runs on every backend. This module is the only place that
knows the libraries by name, and *detecting* one never imports it: ``available_backends`` uses
``importlib.util.find_spec`` for presence and imports a library only when asked whether it has a
working device (``probe=True``) or when it is actually selected.

``auto`` picks, in order: CuPy with a working CUDA device; JAX with a GPU device; else the faster
CPU backend by our own benchmark (``CPU_PREFERENCE``, measured with ``uqo bench engine``; see
docs/engine.md for the table).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

BACKENDS = ("numpy", "jax", "cupy")
CHOICES = ("auto",) + BACKENDS
# Faster CPU backend first, by `uqo bench engine` on the 2-core CI machine (docs/engine.md).
CPU_PREFERENCE = ("numpy", "jax")


class BackendUnavailable(RuntimeError):
    """The requested array backend cannot run here; the message says why."""


@dataclass(frozen=True)
class Backend:
    """One array backend: its namespace, device transfer and jit."""

    name: str
    xp: Any
    device: str
    _jit: Callable[[Callable], Callable] = field(repr=False, default=lambda f: f)

    def asarray(self, x, dtype=None):
        return self.xp.asarray(x, dtype=dtype)

    def to_numpy(self, x) -> np.ndarray:
        return to_numpy(x)

    def jit(self, fn: Callable, **kwargs) -> Callable:
        """Compile ``fn`` where the backend can (JAX); identity elsewhere."""
        return self._jit(fn, **kwargs) if kwargs else self._jit(fn)

    def synchronize(self) -> None:
        if self.name == "cupy":
            importlib.import_module("cupy").cuda.get_current_stream().synchronize()


def to_numpy(x) -> np.ndarray:
    """Any backend's array (or a scalar) as a numpy array on the host."""
    if isinstance(x, np.ndarray):
        return x
    mod = type(x).__module__
    if mod.startswith("cupy"):
        return x.get()
    return np.asarray(x)


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def _probe_cupy() -> tuple[bool, str]:
    if not _installed("cupy"):
        return False, "cupy is not installed (pip install 'uqo[gpu]')"
    try:
        cupy = importlib.import_module("cupy")
        if not cupy.is_available():
            return False, "cupy is installed but no CUDA device is available"
        n = cupy.cuda.runtime.getDeviceCount()
        name = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
        return True, f"{n} CUDA device(s): {name}"
    except Exception as exc:  # noqa: BLE001 - any driver error: report it, detection goes on
        return False, f"cupy failed to start: {type(exc).__name__}: {exc}"


def _import_jax():
    # jax logs at INFO that it found no TPU plugin each time it starts; that is not news here.
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)
    return importlib.import_module("jax")


def _probe_jax() -> tuple[bool, str]:
    if not _installed("jax"):
        return False, "jax is not installed (pip install jax)"
    try:
        jax = _import_jax()
        devs = jax.devices()
        return True, f"jax {jax.__version__} on {devs[0].platform} ({len(devs)} device(s))"
    except Exception as exc:  # noqa: BLE001 - same: a broken jax install is reported
        return False, f"jax failed to start: {type(exc).__name__}: {exc}"


def _probe_numpy() -> tuple[bool, str]:
    return True, f"numpy {np.__version__} on cpu"


_PROBES = {"numpy": _probe_numpy, "jax": _probe_jax, "cupy": _probe_cupy}


def available_backends(probe: bool = False) -> dict[str, tuple[bool, str]]:
    """``{name: (usable, reason)}`` for every backend.

    Without ``probe`` only presence is checked (no import). With ``probe`` each installed library
    is imported and asked for a working device.
    """
    if probe:
        return {name: _PROBES[name]() for name in BACKENDS}
    out = {"numpy": _probe_numpy()}
    for name, hint in (("jax", "pip install jax"), ("cupy", "pip install 'uqo[gpu]'")):
        ok = _installed(name)
        out[name] = (ok, "installed (not probed)" if ok else f"{name} is not installed ({hint})")
    return out


def _jax_has_gpu() -> bool:
    if not _installed("jax"):
        return False
    try:
        return any(d.platform == "gpu" for d in _import_jax().devices())
    except Exception:  # noqa: BLE001 - no usable jax means no jax GPU
        return False


def resolve_name(name: str | None = None) -> str:
    """The concrete backend ``name`` (or ``UQO_BACKEND``, or ``auto``) stands for here."""
    name = (name or os.environ.get("UQO_BACKEND") or "auto").strip().lower()
    if name not in CHOICES:
        raise ValueError(f"backend {name!r} is not one of {', '.join(CHOICES)}")
    if name != "auto":
        ok, why = _PROBES[name]()
        if not ok:
            raise BackendUnavailable(f"backend {name!r} is not available: {why}")
        return name
    if _PROBES["cupy"]()[0]:
        return "cupy"
    if _jax_has_gpu():
        return "jax"
    for cand in CPU_PREFERENCE:
        if _PROBES[cand]()[0]:
            return cand
    return "numpy"


def get_backend(name: str | None = None) -> Backend:
    """The backend object for ``name`` (``numpy``, ``jax``, ``cupy``, ``auto`` or None)."""
    name = resolve_name(name)
    if name == "numpy":
        from array_api_compat import numpy as xp_np

        return Backend("numpy", xp_np, "cpu")
    if name == "jax":
        jax = _import_jax()
        jax.config.update("jax_enable_x64", True)  # complex128 on request; default stays complex64
        return Backend("jax", importlib.import_module("jax.numpy"),
                       jax.devices()[0].platform, jax.jit)
    cupy = importlib.import_module("cupy")
    from array_api_compat import cupy as xp_cp

    return Backend("cupy", xp_cp, f"cuda:{cupy.cuda.runtime.getDevice()}")
