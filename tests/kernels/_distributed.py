"""Run worker processes joined by ``jax.distributed`` on localhost (a free port, host CPU
devices via ``XLA_FLAGS``), failing fast: a worker that dies stops the wait at once, since its
peers would block in a collective until the timeout."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_all(procs, timeout: float) -> list:
    """Exit codes; stops waiting as soon as one worker fails (its peer would block in a
    collective) or at ``timeout`` (code None)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        codes = [p.poll() for p in procs]
        if all(c is not None for c in codes) or any(c not in (None, 0) for c in codes):
            return codes
        time.sleep(0.1)
    return [p.poll() for p in procs]


def run_workers(args, log_dir, processes: int = 2, devices: int = 2,
                timeout: float = 180.0) -> list[str]:
    """Run ``python *args(process_id, port)`` once per process, each with ``devices`` host CPU
    devices; returns their outputs (stdout and stderr). Asserts every worker exited 0, showing
    each one's exit code and the tail of its output otherwise; the rest are killed."""
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
               JAX_PLATFORMS="cpu")
    port = str(free_port())
    paths = [log_dir / f"worker{i}.log" for i in range(processes)]
    with contextlib.ExitStack() as stack:
        logs = [stack.enter_context(open(path, "w")) for path in paths]
        procs = [subprocess.Popen([sys.executable, *args(i, port)], env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
                 for i, log in enumerate(logs)]
        try:
            codes = wait_all(procs, timeout=timeout)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    out = [path.read_text() for path in paths]
    report = "\n".join(f"worker {i} exit {c} (None: killed while running):\n{t[-3000:]}"
                       for i, (c, t) in enumerate(zip(codes, out)))
    assert codes == [0] * processes, report
    return out
