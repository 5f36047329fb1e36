"""``uqo bench startup``: how long a first ``uqo serve`` takes to answer, cold and warm.

Each run spawns ``uqo serve`` on embedded defaults (default capacity, auth on, fsync on) in a
fresh data directory and polls ``/health/live`` and ``/health/ready`` every 20 ms; it records
the seconds from spawn to the first 200 of each. *Cold* runs point ``NUMBA_CACHE_DIR`` at an
empty directory, so every kernel compiles as on a fresh clone before ``make setup``'s warm-up
(the user's own cache is never touched); *warm* runs use the normal cache. Medians over
``--repeat`` runs per mode; JSON with the machine facts under bench/results/.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from .machine import machine_info

TARGET_LIVE_S = 5.0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=0.5) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def one_start(cold: bool, timeout_s: float = 600.0) -> dict:
    port = _free_port()
    with tempfile.TemporaryDirectory() as data, tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ)
        if cold:
            env["NUMBA_CACHE_DIR"] = cache
        t0 = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "uqo", "serve", "--port", str(port),
                                 "--data-dir", data], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        live = ready = None
        try:
            while ready is None and time.monotonic() - t0 < timeout_s:
                if proc.poll() is not None:
                    raise RuntimeError(f"uqo serve exited with {proc.returncode}")
                now = time.monotonic() - t0
                if live is None and _ok(f"http://127.0.0.1:{port}/health/live"):
                    live = now
                if live is not None and _ok(f"http://127.0.0.1:{port}/health/ready"):
                    ready = time.monotonic() - t0
                time.sleep(0.02)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    return {"cold": cold, "live_s": live, "ready_s": ready}


def main(repeat: int, out: Path) -> int:
    runs = []
    print(f"{'mode':<6} {'run':>3} {'live s':>8} {'ready s':>8}")
    for cold in (True, False):
        for i in range(repeat):
            run = one_start(cold)
            runs.append(run)
            print(f"{'cold' if cold else 'warm':<6} {i + 1:>3} {run['live_s']:>8.2f} "
                  f"{run['ready_s']:>8.2f}", flush=True)
    summary = {}
    for mode, cold in (("cold", True), ("warm", False)):
        mine = [r for r in runs if r["cold"] == cold]
        summary[mode] = {"live_s_median": statistics.median(r["live_s"] for r in mine),
                         "ready_s_median": statistics.median(r["ready_s"] for r in mine),
                         "runs": len(mine)}
    doc = {"benchmark": "startup", "machine": machine_info(), "target_live_s": TARGET_LIVE_S,
           "summary": summary, "runs": runs,
           "ratio_live_to_target_cold": summary["cold"]["live_s_median"] / TARGET_LIVE_S}
    print(f"median cold: live {summary['cold']['live_s_median']:.2f} s, ready "
          f"{summary['cold']['ready_s_median']:.2f} s; warm: live "
          f"{summary['warm']['live_s_median']:.2f} s, ready "
          f"{summary['warm']['ready_s_median']:.2f} s (target: live <= {TARGET_LIVE_S} s)")
    out.mkdir(parents=True, exist_ok=True)
    path = out / "startup.json"
    path.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {path}")
    return 0
