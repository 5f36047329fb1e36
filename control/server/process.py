"""Run the HTTP server until SIGTERM/SIGINT, then shut down gracefully.

Start-up: the server listens first and answers ``/health/live`` at once, while the
orchestrator recovers the log and builds the engine (kernel compilation on a cold cache) in
the background; other routes answer 503 ``starting`` until then. Prints ``uqo serve: listening
on ...`` at once and ``uqo serve: ready on http://HOST:PORT`` once started; a start that fails
(a damaged log, say) prints the reason and exits 1.

Shutdown order: stop being ready and release long-polls, stop accepting connections, wait for
in-flight requests (up to ``grace_s``), stop background work, snapshot and close the log
(everything acknowledged was fsync'd before it was acknowledged; close syncs and releases),
then flush the spans still buffered when tracing is on (``otlp_endpoint``; docs/tracing.md).
TLS is on by default beyond loopback (``tls.py``: the URLs printed are then ``https``); the
signing key is on a PKCS#11 token when one is installed (``uqo.security.hsm``); the data
directory and what it holds are private (0700).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
import stat
import sys

from aiohttp import web
from uqo.control.config import ConfigError, ServerConfig
from uqo.control.tracing import start_tracing, stop_tracing


def private_data_dir(data_dir: str) -> list[str]:
    """Make the data directory and the directories in it 0700; returns those it tightened."""
    os.makedirs(data_dir, mode=0o700, exist_ok=True)
    tightened = []
    for path in [data_dir] + [os.path.join(data_dir, n) for n in os.listdir(data_dir)]:
        private = not os.path.isdir(path) or os.path.islink(path) or \
            not stat.S_IMODE(os.stat(path).st_mode) & 0o077
        if not private:
            os.chmod(path, 0o700)
            tightened.append(path)
    return tightened


def _open_security(cfg: ServerConfig):
    from .bootstrap import open_security

    security, admin_file, key_note = open_security(cfg.data_dir, cfg, os.environ)
    print(f"uqo serve: signing key: {key_note}", flush=True)
    if admin_file:
        print(f"uqo serve: first start: administrator 'admin' enrolled; credential written to "
              f"{admin_file} (mode 0600; deleted after the first login as admin)", flush=True)
    return security


async def run_server(cfg: ServerConfig, stop: asyncio.Event, grace_s: float = 10.0) -> None:
    from uqo.control.api.app import STARTING, build_app
    from uqo.control.leader.service import Orchestrator

    from .tls import plan_tls

    loop = asyncio.get_running_loop()
    for path in private_data_dir(cfg.data_dir):
        print(f"uqo serve: {path} was readable by others; now 0700", flush=True)
    tls = await loop.run_in_executor(None, plan_tls, cfg)
    if tls.warning:
        print(f"uqo serve: {tls.warning}", flush=True)
    security = None
    if cfg.auth:
        security = await loop.run_in_executor(None, _open_security, cfg)
    else:
        print("uqo serve: WARNING: auth = false: authentication is a pass-through; anyone "
              "who can reach the port can act", flush=True)
    orch = Orchestrator(cfg)
    app = build_app(orch, security, background_start=True)   # certificate evidence for the
    #                                     compliance report: `uqo compliance report --certs`
    if tls.forward is not None:
        from uqo.control.api.replica import FORWARD_SSL
        app[FORWARD_SSL] = tls.forward
    runner = web.AppRunner(app, shutdown_timeout=grace_s, handle_signals=False,
                           access_log=None)
    await runner.setup()                  # returns at once: the orchestrator starts meanwhile
    failed = False
    try:
        site = web.TCPSite(runner, cfg.host, cfg.port, reuse_address=True,
                           ssl_context=tls.context)
        await site.start()
        host, port = runner.addresses[0][:2]
        url = f"{tls.scheme}://{_url_host(host)}:{port}"
        if tls.ca:
            print(f"uqo serve: TLS 1.3 with the local CA {tls.ca} (clients: --ca)", flush=True)
        print(f"uqo serve: listening on {url} (/health/live answers; starting: recovering the "
              "log, building the engine)", flush=True)
        failed = not await _until_started(app[STARTING], stop)
        if not failed and not stop.is_set():
            # Everything alive now (libraries, the recovered state) lives as long as the
            # process: keep it out of the cyclic GC's full collections (~100 ms each here).
            gc.freeze()
            orch.serving(url)                         # a replica campaigns from now on
            log = orch.log.status()
            where = (f"; replica {log['replica_id']} of etcd cluster {log['cluster_id']}, "
                     f"{log['role']}" if log.get("mode") == "etcd" else "")
            print(f"uqo serve: ready on {url} (recovered {log['replayed_on_start']} entries "
                  f"after snapshot {log['snapshot_index']} in {log['recovery_s']:.3f} s{where})",
                  flush=True)
            await stop.wait()
        print("uqo serve: shutting down", flush=True)
    finally:
        await runner.cleanup()                   # in-flight requests, then orchestrator stop
        if security is not None:
            security.close()
    if failed:
        raise StartFailed
    print("uqo serve: stopped; log synced", flush=True)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class StartFailed(Exception):
    """The orchestrator could not start (the reason was printed)."""


async def _until_started(starting: asyncio.Task, stop: asyncio.Event) -> bool:
    """Wait until the background start finishes (True) or fails (False, reason printed), or
    until a stop is asked for (True: shut down normally)."""
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if not starting.done():
        return True
    exc = starting.exception()
    if exc is not None:
        print(f"uqo serve: could not start: {exc}", file=sys.stderr, flush=True)
        return False
    return True


def serve(cfg: ServerConfig) -> int:
    # The event loop shares the GIL with the scheduler and WAL threads; a shorter switch
    # interval (default 5 ms) lets it take requests back sooner while a decide or tick runs.
    sys.setswitchinterval(0.0005)
    logging.basicConfig(level=cfg.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_server(cfg, stop)

    from uqo.security import SecurityError

    instance = cfg.replica_id or f"{socket.gethostname()}:{cfg.port}"
    tracing = start_tracing(cfg.otlp_endpoint, "uqo", instance, os.environ, cfg.otlp_protocol)
    try:
        asyncio.run(main())
    except (ConfigError, SecurityError) as exc:
        print(f"uqo serve: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"uqo serve: cannot listen on {cfg.host}:{cfg.port}: {exc}", file=sys.stderr)
        return 1
    except StartFailed:
        return 1
    finally:
        stop_tracing(tracing)
    return 0
