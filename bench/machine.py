"""Facts about the machine a benchmark ran on, for every JSON result."""

from __future__ import annotations

import os
import platform
import time
from importlib import metadata


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> dict:
    return {
        "hostname_hash": hash(platform.node()) & 0xFFFF,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "packages": {p: _version(p) for p in ("numpy", "jax", "jaxlib", "cupy-cuda13x", "uqo")},
        "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def copy_bandwidth(nbytes: int, repeats: int = 5) -> float:
    """Measured large-copy bandwidth on the host in bytes/s (bytes read + bytes written)."""
    import numpy as np

    src = np.ones(nbytes // 8, dtype=np.float64)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        np.copyto(dst, src)
        times.append(time.perf_counter() - t)
    return 2 * src.nbytes / sorted(times)[len(times) // 2]
