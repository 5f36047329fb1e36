"""Start ``uqo serve`` as a child process and wait until it is ready (benchmarks, fault tests).

Use cases::

    with ServerProcess(data_dir, settings={"capacity": 4096}) as srv:
        srv.url                     # http://127.0.0.1:PORT (port=0: a free one, the default)
        srv.terminate()             # SIGTERM: graceful; srv.kill() is SIGKILL (kill -9)
    srv.ready_s                     # seconds from spawn to the "ready on" line

Settings travel as ``UQO_*`` environment variables, exactly as an operator would set them.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from typing import Self

_READY = re.compile(r"ready on (http://\S+)")


class ServerProcess:
    def __init__(self, data_dir: str, settings: dict | None = None, timeout_s: float = 60.0,
                 host: str = "127.0.0.1", port: int = 0):
        self.data_dir, self.settings, self.timeout_s = data_dir, dict(settings or {}), timeout_s
        self.host, self.port = host, port
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.ready_s = 0.0
        self.lines: list[str] = []

    def start(self) -> Self:
        env = {**os.environ, **{f"UQO_{k.upper()}": str(v) for k, v in self.settings.items()}}
        cmd = [sys.executable, "-m", "uqo", "serve", "--host", self.host, "--port", str(self.port),
               "--data-dir", self.data_dir]
        t0 = time.perf_counter()
        self._ready = threading.Event()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=env)
        threading.Thread(target=self._drain, daemon=True).start()
        deadline = time.monotonic() + self.timeout_s
        while not self._ready.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("uqo serve did not become ready:\n"
                                   + "\n".join(self.lines[-30:]))
        self.ready_s = time.perf_counter() - t0
        return self

    def _drain(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())
            match = _READY.search(line)
            if match and not self._ready.is_set():
                self.url = match.group(1)
                self._ready.set()

    def token(self) -> str:
        """A bearer token for the bootstrap administrator (logged in once, then cached: a
        TOTP code is accepted only once)."""
        if not getattr(self, "_token", None):
            import json
            import urllib.request

            from uqo.control.sdk.credentials import login_body, read_credential_file
            from uqo.control.server.bootstrap import ADMIN_FILE

            body = login_body(read_credential_file(os.path.join(self.data_dir, ADMIN_FILE)))
            req = urllib.request.Request(f"{self.url}/v1/auth/login",
                                         data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=30) as resp:
                self._token = json.loads(resp.read())["token"]
        return self._token

    def auth_headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token()}"}

    def terminate(self, timeout_s: float = 30.0) -> int:
        """SIGTERM and wait: the graceful path. Returns the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout_s)

    def kill(self) -> None:
        """SIGKILL (``kill -9``): no chance to flush or clean up."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.terminate(15)
            except subprocess.TimeoutExpired:
                self.kill()
