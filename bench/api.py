"""``uqo bench api``: load the HTTP API of a real server from separate client processes.

Phases (server started fresh with ``uqo serve`` on 127.0.0.1, fsync on unless --no-fsync):

1. register ``--agents`` agents (capacity 16 each, so placement never runs out of room);
2. single submit, open loop at ``--rate`` tasks/s for ``--duration`` s, on a quiet server:
   client request latency percentiles, and the server's submit-to-assigned percentiles
   (``/v1/status``: from a task's acceptance to its durable assignment, over the last 10,000
   placements, i.e. this phase's steady state);
3. batch submit: ``--batch-tasks`` tasks in batches of ``--batch-size``, several in flight per
   client process; accepted tasks/s = tasks / wall time of the phase, and how long until the
   scheduler had placed them all;
4. with ``--history N``: fill the history to N tasks (the filler asks for a capability no agent
   has, so the scheduler rejects it at once and the fleet stays free), stop the server
   (SIGTERM), restart it and time from spawn until it answers ready (snapshot load + log tail
   replay + scheduler rebuild).

Writes ``bench/results/api-<time>.json`` with the machine, the parameters and the numbers.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import platform
import shutil
import tempfile
import time
import uuid

import numpy as np

_MSGPACK = {"Content-Type": "application/msgpack", "Accept": "application/msgpack"}


# ---- client processes -------------------------------------------------------------------
def _client(job: tuple) -> dict:
    kind, url, token, args = job
    headers = {**_MSGPACK, "Authorization": f"Bearer {token}"}
    return asyncio.run(_CLIENT_JOBS[kind](url, headers, *args))


async def _register(url: str, headers: dict, ids: list[str], inflight: int) -> dict:
    import aiohttp
    import msgspec

    async with aiohttp.ClientSession() as session:
        queue = list(ids)

        async def one_worker():
            while queue:
                agent_id = queue.pop()
                body = msgspec.msgpack.encode({"agent_id": agent_id, "capacity": 16,
                                               "capabilities": ["general"]})
                async with session.post(f"{url}/v1/agents", data=body, headers=headers) as r:
                    if r.status not in (200, 201):
                        raise RuntimeError(f"register {agent_id}: HTTP {r.status}")
        await asyncio.gather(*(one_worker() for _ in range(inflight)))
    return {"registered": len(ids)}


async def _batches(url: str, headers: dict, n_batches: int, size: int, inflight: int,
                   capability: str = "general") -> dict:
    import aiohttp
    import msgspec

    lat: list[float] = []
    async with aiohttp.ClientSession() as session:
        remaining = [n_batches]

        async def one_worker():
            while remaining[0] > 0:
                remaining[0] -= 1
                tasks = [{"task_id": uuid.uuid4().hex, "required_capabilities": [capability]}
                         for _ in range(size)]
                body = msgspec.msgpack.encode({"tasks": tasks})
                t0 = time.perf_counter()
                async with session.post(f"{url}/v1/tasks/batch", data=body,
                                        headers=headers) as r:
                    await r.read()
                    if r.status != 201:
                        raise RuntimeError(f"batch submit: HTTP {r.status}")
                lat.append(time.perf_counter() - t0)
        await asyncio.gather(*(one_worker() for _ in range(inflight)))
    return {"latencies": lat}


async def _singles(url: str, headers: dict, rate: float, duration: float) -> dict:
    """Open loop: request i leaves at t0 + i / rate whatever the answers do."""
    import aiohttp
    import msgspec

    lat: list[float] = []
    errors = [0]
    conn = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=conn) as session:
        async def one(i: int, t_start: float):
            delay = t_start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            body = msgspec.msgpack.encode({"task_id": uuid.uuid4().hex,
                                           "required_capabilities": ["general"]})
            t0 = time.perf_counter()
            async with session.post(f"{url}/v1/tasks", data=body, headers=headers) as r:
                await r.read()
                if r.status != 201:
                    errors[0] += 1
            lat.append(time.perf_counter() - t0)
        t_start = time.perf_counter()
        await asyncio.gather(*(one(i, t_start) for i in range(int(rate * duration))))
    return {"latencies": lat, "errors": errors[0]}


_CLIENT_JOBS = {"register": _register, "batches": _batches, "singles": _singles}


# ---- orchestration ----------------------------------------------------------------------
def _pct(xs) -> dict:
    if not len(xs):
        return {}
    p = np.percentile(np.asarray(xs), [50, 95, 99])
    return {"p50_ms": p[0] * 1e3, "p95_ms": p[1] * 1e3, "p99_ms": p[2] * 1e3,
            "median_ms": p[0] * 1e3, "n": len(xs)}


def _status(url: str, token: str) -> dict:
    import urllib.request
    req = urllib.request.Request(f"{url}/v1/status",
                                 headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def _machine() -> dict:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")),
                         "")
    except OSError:
        pass
    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "cpu_model": model,
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
                               / 2**30, 1)}


def _split(n: int, parts: int) -> list[int]:
    return [n // parts + (1 if i < n % parts else 0) for i in range(parts)]


def _wait_placed(url: str, token: str, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        st = _status(url, token)
        if st["scheduler"]["tasks"]["pending"] == 0 or time.monotonic() > deadline:
            return st
        time.sleep(0.5)


def run_bench(args) -> int:
    from uqo.control.client.procs import ServerProcess

    # The bench's agents are simulated and send no heartbeats; without a long silence limit
    # the engine would (rightly) mark them failed after heartbeat_timeout_s and stop placing,
    # and the belief would measure their silence against heartbeat_interval_s and find them
    # probably down (below the placement floor: their tasks would wait forever).
    settings = {"capacity": args.agents + 1024, "fsync": str(not args.no_fsync).lower(),
                "max_batch_tasks": max(args.batch_size, 10_000), "log_level": "warning",
                "heartbeat_timeout_s": 1e6, "heartbeat_interval_s": 1e6,
                "strategy": args.strategy}
    out: dict = {"machine": _machine(), "params": {k: v for k, v in vars(args).items()
                                                   if k != "func"}, "settings": settings}
    with tempfile.TemporaryDirectory(prefix="uqo-bench-") as data_dir, \
            mp.get_context("spawn").Pool(args.clients) as pool:
        srv = ServerProcess(data_dir, settings, timeout_s=120).start()
        try:
            token = srv.token()
            out["results"] = _phases(args, srv.url, token, pool)
            if args.history:
                out["restart"] = _restart(args, srv, token, pool, data_dir)
        finally:
            srv.kill()
            shutil.rmtree(srv.data_dir.rstrip("/") + "-hsm", ignore_errors=True)  # its token
    _report(out, args.out)
    return 0


def _phases(args, url: str, token: str, pool) -> dict:
    res: dict = {}
    ids = [f"bench-{i}" for i in range(args.agents)]
    t0 = time.perf_counter()
    pool.map(_client, [("register", url, token, (ids[i::args.clients], 32))
                       for i in range(args.clients)])
    res["register"] = {"agents": args.agents, "per_s": args.agents / (time.perf_counter() - t0)}
    res["single_submit"] = _single_phase(args, url, token, pool)
    n_batches = _split(max(1, args.batch_tasks // args.batch_size), args.clients)
    t0 = time.perf_counter()
    parts = pool.map(_client, [("batches", url, token, (n, args.batch_size, 4))
                               for n in n_batches])
    wall = time.perf_counter() - t0
    lat = [x for p in parts for x in p["latencies"]]
    st = _wait_placed(url, token, 300)
    res["batch_submit"] = {"tasks": sum(n_batches) * args.batch_size, "wall_s": wall,
                           "tasks_per_s": sum(n_batches) * args.batch_size / wall,
                           "request": _pct(lat),
                           "all_placed_after_s": time.perf_counter() - t0,
                           "pending_after_wait": st["scheduler"]["tasks"]["pending"]}
    res["server"] = {"consensus": st["consensus"], "quantum": st["quantum"],
                     "scheduler_stats": st["scheduler"]["stats"]}
    return res


def _single_phase(args, url: str, token: str, pool) -> dict:
    """Open-loop single submits first, on a quiet server: the server's submit-to-assigned
    window (last 10,000 placements) then holds this phase's steady state only."""
    rate = args.rate / args.clients
    t0 = time.perf_counter()
    parts = pool.map(_client, [("singles", url, token, (rate, args.duration))
                               for _ in range(args.clients)])
    wall = time.perf_counter() - t0
    lat = [x for p in parts for x in p["latencies"]]
    st = _wait_placed(url, token, 60)
    return {"target_rate": args.rate, "sent": len(lat), "wall_s": wall,
            "achieved_per_s": len(lat) / wall, "errors": sum(p["errors"] for p in parts),
            "request": _pct(lat),
            "submit_to_assigned_s": st["performance"]["submit_to_assigned_s"]}


def _restart(args, srv, token: str, pool, data_dir: str) -> dict:
    from uqo.control.client.procs import ServerProcess

    have = sum(_status(srv.url, token)["scheduler"]["tasks"].values())
    missing = max(0, args.history - have)
    size = 10_000
    if missing:   # history filler: a capability no agent has, so the scheduler rejects them
        pool.map(_client, [("batches", srv.url, token, (n, size, 2, "history-filler"))
                           for n in _split(-(-missing // size), args.clients)])
        _wait_placed(srv.url, token, 300)
    total = sum(_status(srv.url, token)["scheduler"]["tasks"].values())
    srv.terminate(120)
    again = ServerProcess(data_dir, srv.settings, timeout_s=120).start()
    try:
        log = _status(again.url, token)["consensus"]
    finally:
        again.kill()
    return {"tasks_in_history": total, "spawn_to_ready_s": again.ready_s,
            "recovery_s": log["recovery_s"], "replayed_entries": log["replayed_on_start"],
            "snapshot_index": log["snapshot_index"]}


def _report(out: dict, path: str | None) -> None:
    r = out["results"]
    rows = [("register agents/s", f"{r['register']['per_s']:.0f}"),
            ("batch submit tasks/s", f"{r['batch_submit']['tasks_per_s']:.0f}"),
            ("batch: all placed after s (pending left)",
             (f"{r['batch_submit']['all_placed_after_s']:.1f} "
              f"({r['batch_submit'].get('pending_after_wait', 0)})")),
            ("batch request p50/p95 ms", _pp(r["batch_submit"]["request"])),
            ("single submit achieved/s", f"{r['single_submit']['achieved_per_s']:.0f}"),
            ("single request p50/p95 ms", _pp(r["single_submit"]["request"])),
            ("submit->assigned p50/p95 ms", _pp_s(r["single_submit"]["submit_to_assigned_s"]))]
    if "restart" in out:
        rr = out["restart"]
        rows.append((f"restart ready s ({rr['tasks_in_history']} tasks)",
                     f"{rr['spawn_to_ready_s']:.2f} (recovery {rr['recovery_s']:.2f})"))
    for name, value in rows:
        print(f"{name:<42} {value}")
    if path is None:
        os.makedirs(os.path.join("bench", "results"), exist_ok=True)
        path = os.path.join("bench", "results", f"api-{time.strftime('%Y%m%d-%H%M%S')}.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1, default=float)
    print(f"wrote {path}")


def _pp(p: dict) -> str:
    return f"{p.get('p50_ms', float('nan')):.1f} / {p.get('p95_ms', float('nan')):.1f}"


def _pp_s(p: dict) -> str:
    if not p or p.get("p50") is None:
        return "n/a"
    return f"{p['p50'] * 1e3:.1f} / {p['p95'] * 1e3:.1f}"
