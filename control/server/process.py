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
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
import sys

from aiohttp import web
from uqo.control.config import ServerConfig
from uqo.control.tracing import start_tracing, stop_tracing


async def run_server(cfg: ServerConfig, stop: asyncio.Event, grace_s: float = 10.0) -> None:
    from uqo.control.api.app import STARTING, build_app
    from uqo.control.leader.service import Orchestrator

    loop = asyncio.get_running_loop()
    security = None
    if cfg.auth:
        from .bootstrap import open_security

        security, admin_file = await loop.run_in_executor(None, open_security, cfg.data_dir)
        if admin_file:
            print(f"uqo serve: first start: administrator 'admin' enrolled; credential "
                  f"written to {admin_file} (mode 0600)", flush=True)
    else:
        print("uqo serve: WARNING: auth = false: authentication is a pass-through; anyone "
              "who can reach the port can act", flush=True)
    orch = Orchestrator(cfg)
    app = build_app(orch, security, background_start=True)
    runner = web.AppRunner(app, shutdown_timeout=grace_s, handle_signals=False,
                           access_log=None)
    await runner.setup()                  # returns at once: the orchestrator starts meanwhile
    failed = False
    try:
        site = web.TCPSite(runner, cfg.host, cfg.port, reuse_address=True)
        await site.start()
        host, port = runner.addresses[0][:2]
        print(f"uqo serve: listening on http://{host}:{port} (/health/live answers; starting: "
              "recovering the log, building the engine)", flush=True)
        failed = not await _until_started(app[STARTING], stop)
        if not failed and not stop.is_set():
            # Everything alive now (libraries, the recovered state) lives as long as the
            # process: keep it out of the cyclic GC's full collections (~100 ms each here).
            gc.freeze()
            orch.serving(f"http://{host}:{port}")     # a replica campaigns from now on
            log = orch.log.status()
            where = (f"; replica {log['replica_id']} of etcd cluster {log['cluster_id']}, "
                     f"{log['role']}" if log.get("mode") == "etcd" else "")
            print(f"uqo serve: ready on http://{host}:{port} (recovered "
                  f"{log['replayed_on_start']} entries after snapshot {log['snapshot_index']} "
                  f"in {log['recovery_s']:.3f} s{where})", flush=True)
            await stop.wait()
        print("uqo serve: shutting down", flush=True)
    finally:
        await runner.cleanup()                   # in-flight requests, then orchestrator stop
        if security is not None:
            security.close()
    if failed:
        raise StartFailed
    print("uqo serve: stopped; log synced", flush=True)


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

    instance = cfg.replica_id or f"{socket.gethostname()}:{cfg.port}"
    tracing = start_tracing(cfg.otlp_endpoint, "uqo", instance, os.environ, cfg.otlp_protocol)
    try:
        asyncio.run(main())
    except OSError as exc:
        print(f"uqo serve: cannot listen on {cfg.host}:{cfg.port}: {exc}", file=sys.stderr)
        return 1
    except StartFailed:
        return 1
    finally:
        stop_tracing(tracing)
    return 0
