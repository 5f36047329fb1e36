"""Start ``uqo serve`` as a child process and wait until it is ready (benchmarks, fault tests).

Use cases::

    with ServerProcess(data_dir, settings={"capacity": 4096}) as srv:
        srv.url                     # http://127.0.0.1:PORT (port=0: a free one, the default)
        srv.terminate()             # SIGTERM: graceful; srv.kill() is SIGKILL (kill -9)
    srv.ready_s                     # seconds from spawn to the "ready on" line

Settings travel as ``UQO_*`` environment variables, exactly as an operator would set them.
The signing key goes to a SoftHSM2 token store of the child's own (``<data_dir>-hsm/``, outside
the data directory) unless the settings say otherwise. ``token()`` logs in as the bootstrap
administrator (the credential file is read once, then the server deletes it); ``https`` URLs
are trusted through the server's local CA (``ssl_context()``).
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

_READY = re.compile(r"ready on (https?://\S+)")


class ServerProcess:
    def __init__(self, data_dir: str, settings: dict | None = None, timeout_s: float = 60.0,
                 host: str = "127.0.0.1", port: int = 0, args: tuple = ()):
        self.data_dir, self.settings, self.timeout_s = data_dir, dict(settings or {}), timeout_s
        self.host, self.port, self.args = host, port, tuple(args)
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.ready_s = 0.0
        self.lines: list[str] = []
        self.admin: dict | None = None          # the bootstrap credential, once read
        self._tokens: dict[int, str] = {}
        self._last_step = -1

    def _env(self) -> dict:
        hsm = os.path.abspath(self.data_dir).rstrip("/") + "-hsm"
        own = {"hsm_store": os.path.join(hsm, "store"), "hsm_pin_file": os.path.join(hsm, "pin")}
        settings = {**own, **self.settings}
        env = {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"}
        return {**env, **{f"UQO_{k.upper()}": str(v) for k, v in settings.items()}}

    def start(self) -> Self:
        env = self._env()
        cmd = [sys.executable, "-m", "uqo", "serve", "--host", self.host, "--port", str(self.port),
               "--data-dir", self.data_dir, *self.args]
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

    def ssl_context(self):
        """Trust for this server's ``https`` URL (its local CA), or None for ``http``."""
        if not self.url.startswith("https"):
            return None
        from uqo.control.server.tls import client_tls

        return client_tls(self.data_dir)

    def token(self, level: int = 0) -> str:
        """A bearer token for the bootstrap administrator, in a session at ``level`` (0:
        UNCLASSIFIED, from which it may submit tasks of any classification up to its
        clearance but read only unclassified ones; 3 reads everything). Cached per level. A
        TOTP code is accepted once, so each new level uses the next 30 s step (two at once;
        a third waits)."""
        if level not in self._tokens:
            from uqo.control.sdk.credentials import read_credential_file
            from uqo.control.server.bootstrap import ADMIN_FILE

            if self.admin is None:
                self.admin = read_credential_file(os.path.join(self.data_dir, ADMIN_FILE))
            self._tokens[level] = self.login(self.admin, level)
        return self._tokens[level]

    def login(self, record: dict, level: int | None = None) -> str:
        """Log in with a credential record (``user_id``, ``password``, ``totp_secret``);
        returns the token."""
        import json
        import urllib.request

        from uqo.control.sdk.credentials import totp_now

        body = {"user_id": record["user_id"], "password": record["password"]}
        if level is not None:
            body["clearance_required"] = level
        if record.get("totp_secret"):
            step = max(int(time.time()) // 30, self._last_step + 1)
            while step > int(time.time()) // 30 + 1:      # beyond the accepted window: wait
                time.sleep(1.0)
            self._last_step = step
            body["mfa_token"] = totp_now(record["totp_secret"], step * 30)
        req = urllib.request.Request(f"{self.url}/v1/auth/login",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30, context=self.ssl_context()) as resp:
            return json.loads(resp.read())["token"]

    def auth_headers(self, level: int = 0) -> dict:
        return {"Authorization": f"Bearer {self.token(level)}"}

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
