"""Run one PBFT replica as a process (tests, benchmarks, trying a cluster out by hand).

Use cases::

    python -m uqo.control.pbft.runner pbft-dev/cluster.json replica-2
    python -m uqo.control.pbft.runner pbft-dev/cluster.json replica-4 --byzantine equivocate

The replica runs a ``PbftLog`` over ``CommandApplier(StateMachine())`` wrapped in a
``ChainApplier`` (a hash chain over every applied entry, part of the replicated state, so two
replicas agree on the whole applied log iff their chains agree). Besides the replica routes
its server (mutual TLS, the cluster's CA) answers, for the test or benchmark driving it:

* ``POST /ctl/v1/propose``: a MessagePack list of command payloads; answers a MessagePack list
  of ``[ok, detail]`` after they were committed and applied here;
* ``GET /ctl/v1/status``: JSON ``PbftLog.status()`` plus ``chain`` and ``entries``;
* ``POST /ctl/v1/latencies``: the seconds each ``PbftLog.propose`` took here since the last
  call (JSON list; the list is then emptied): the log's own latency, without the HTTP hop.

It prints ``ready <name>`` once serving and stops cleanly on SIGTERM or SIGINT. This is not the
product's API (``uqo serve --consensus pbft`` is, once wired): it exists to drive real
processes in tests and ``bench/pbft.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import os
import signal
import sys
import time
from collections import deque

import msgspec
from aiohttp import web

from ..errors import ControlError
from ..log import Entry, Snapshot
from ..state.applier import CommandApplier
from ..state.machine import StateMachine
from .cluster import build_log, load_cluster, open_replica_signer
from .eventloop import loop_factory
from .eventloop import run as run_loop
from .faults import BEHAVIOURS, byzantine_filter

_CHAIN0 = b"\x00" * 32


class ChainApplier:
    """An ``Applier`` that also keeps a hash chain over every entry it applied."""

    def __init__(self, inner):
        self.inner = inner
        self.entries, self.chain = 0, _CHAIN0

    def apply(self, entry: Entry):
        self.entries += 1
        self.chain = hashlib.sha256(self.chain + entry.index.to_bytes(8, "big")
                                    + entry.data).digest()
        return self.inner.apply(entry)

    def snapshot(self) -> Snapshot:
        snap = self.inner.snapshot()
        body = msgspec.msgpack.encode([self.entries, self.chain, snap.data])
        return Snapshot(snap.meta, body)

    def restore(self, snapshot: Snapshot) -> None:
        self.entries, self.chain, data = msgspec.msgpack.decode(
            snapshot.data, type=tuple[int, bytes, bytes])
        self.inner.restore(Snapshot(snapshot.meta, data))


def control_routes(log, applier: ChainApplier):
    latencies: deque[float] = deque(maxlen=1_000_000)

    async def propose(request: web.Request) -> web.Response:
        try:
            payloads = msgspec.msgpack.decode(await request.read(), type=list[bytes])
        except (msgspec.DecodeError, msgspec.ValidationError):
            return web.json_response({"error": {"code": "bad_body", "field": "body",
                                                "message": "a MessagePack list of bytes"}},
                                     status=400)
        t0 = time.perf_counter()
        try:
            results = await log.propose(payloads)
        except ControlError as exc:
            return web.json_response(exc.body(), status=exc.status)
        latencies.append(time.perf_counter() - t0)
        out = [[not isinstance(r, ControlError),
                r.code if isinstance(r, ControlError) else ""] for r in results]
        return web.Response(body=msgspec.msgpack.encode(out),
                            content_type="application/msgpack")

    async def status(request: web.Request) -> web.Response:
        return web.json_response({**log.status(), "chain": applier.chain.hex(),
                                  "entries": applier.entries})

    async def taken(request: web.Request) -> web.Response:
        out = list(latencies)
        latencies.clear()
        return web.json_response(out)

    def add(app: web.Application) -> None:
        app.router.add_post("/ctl/v1/propose", propose)
        app.router.add_get("/ctl/v1/status", status)
        app.router.add_post("/ctl/v1/latencies", taken)
    return add


async def serve(cluster_path: str, name: str, byzantine: str | None) -> None:
    spec = load_cluster(cluster_path)
    signer = open_replica_signer(spec, name)
    applier = ChainApplier(CommandApplier(StateMachine()))
    holder = {}
    send_filter = None
    if byzantine is not None:
        send_filter = byzantine_filter(byzantine, signer, spec.names.index(name), len(spec.names))
    log = build_log(spec, name, signer, send_filter=send_filter,
                    extra_routes=lambda app: control_routes(holder["log"], applier)(app))
    holder["log"] = log
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await log.open(applier)
    print(f"ready {name}", flush=True)
    await stop.wait()
    await log.close()
    signer.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="run one PBFT replica")
    ap.add_argument("cluster", help="cluster.json written by make_cluster")
    ap.add_argument("name", help="this replica's name, e.g. replica-1")
    ap.add_argument("--byzantine", choices=BEHAVIOURS, default=None,
                    help="fault injection: make this replica misbehave (tests, benchmarks)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    spec = load_cluster(args.cluster)
    if args.name not in spec.replicas:
        print(f"error: {args.name!r} is not a replica of {args.cluster} "
              f"({', '.join(spec.names)})", file=sys.stderr)
        return 2
    try:
        loop_name, _ = loop_factory()
    except (ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    logging.getLogger("uqo.pbft.runner").info("%s on the %s event loop", args.name, loop_name)
    _profiled(args.name, lambda: run_loop(serve(args.cluster, args.name, args.byzantine),
                                          loop_name))
    return 0


def _profiled(name: str, body) -> None:
    """Run ``body()``; with ``UQO_PBFT_PROFILE=DIR`` under cProfile, the stats written to
    ``DIR/<name>.prof`` when the replica stops (SIGTERM): where a replica's CPU goes."""
    out = os.environ.get("UQO_PBFT_PROFILE")
    if not out:
        body()
        return
    import cProfile
    prof = cProfile.Profile()
    try:
        prof.runcall(body)
    finally:
        os.makedirs(out, exist_ok=True)
        prof.dump_stats(os.path.join(out, f"{name}.prof"))


if __name__ == "__main__":
    raise SystemExit(main())
