"""``uqo bench replication``: the replicated log on etcd against the single-node WAL, same run.

Phases (every server is a real ``uqo serve`` process on 127.0.0.1; authentication off so the
numbers are the log's, not the token check's; fsync on):

1. single-node WAL (the baseline): commit latency of one task at a time (sequential submits,
   p50/p99), batched submits (``--batch`` tasks per request) from 1 and from ``--clients``
   concurrent clients, and single submits from ``--clients`` clients (group commit);
2. the same against the leader of 3 replicas on a 3-member etcd cluster (``ReplicaCluster``);
3. failover gap: kill -9 of the leader, then time until a write through a surviving replica is
   acknowledged; ``--failovers`` times (the killed replica is restarted each time), median;
4. catch-up: a follower is killed, ``--catchup-tasks`` tasks are committed, and the follower is
   restarted: time from spawn until it has applied the leader's index (snapshot load from etcd
   plus replay of the log tail by watch).

Clients run in this process (asyncio + aiohttp, MessagePack) on the same cores as the servers
and etcd. Writes ``bench/results/replication-<time>.json`` with the machine and parameters.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
import uuid

import numpy as np

from .machine import machine_info

_MSGPACK = {"Content-Type": "application/msgpack", "Accept": "application/msgpack"}
SETTINGS = {"capacity": 4096, "backend": "numpy", "auth": "false", "log_level": "warning",
            "tick_interval_s": 0.5, "max_batch_tasks": 10_000}


def _pct(xs) -> dict:
    if not len(xs):
        return {}
    p = np.percentile(np.asarray(xs) * 1e3, [50, 90, 99])
    return {"p50_ms": p[0], "p90_ms": p[1], "p99_ms": p[2], "max_ms": max(xs) * 1e3,
            "n": len(xs)}


def _tasks(n: int) -> list[dict]:
    # a capability no agent has: the scheduler rejects them at once (no fleet needed)
    return [{"task_id": uuid.uuid4().hex, "required_capabilities": ["bench-none"]}
            for _ in range(n)]


async def _post(session, url: str, path: str, body) -> int:
    import msgspec

    async with session.post(url + path, data=msgspec.msgpack.encode(body),
                            headers=_MSGPACK) as r:
        raw = await r.read()
        if r.status >= 400:
            raise RuntimeError(f"POST {path}: HTTP {r.status}: {msgspec.msgpack.decode(raw)}")
        return r.status


async def _latency(url: str, n: int) -> dict:
    import aiohttp

    lat = []
    async with aiohttp.ClientSession() as s:
        for body in _tasks(n):
            t0 = time.perf_counter()
            status = await _post(s, url, "/v1/tasks", body)
            if status != 201:
                raise RuntimeError(f"submit: HTTP {status}")
            lat.append(time.perf_counter() - t0)
    return _pct(lat[n // 10:])              # the first tenth warms connections and caches


async def _throughput(url: str, clients: int, batch: int, duration_s: float) -> dict:
    """Tasks acknowledged per second: ``clients`` loops, each ``batch`` tasks per request
    (``batch`` 1: the single-task endpoint)."""
    import aiohttp

    done, lat = [0], []
    stop_at = time.perf_counter() + duration_s

    async def one(s):
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            if batch == 1:
                status = await _post(s, url, "/v1/tasks", _tasks(1)[0])
            else:
                status = await _post(s, url, "/v1/tasks/batch", {"tasks": _tasks(batch)})
            if status != 201:
                raise RuntimeError(f"submit: HTTP {status}")
            lat.append(time.perf_counter() - t0)
            done[0] += batch

    conn = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=conn) as s:
        t0 = time.perf_counter()
        await asyncio.gather(*(one(s) for _ in range(clients)))
        wall = time.perf_counter() - t0
    return {"tasks_per_s": done[0] / wall, "tasks": done[0], "wall_s": wall,
            "request": _pct(lat)}


async def _measure(url: str, args) -> dict:
    return {
        "commit_latency": await _latency(url, args.latency_n),
        "batched_1_client": await _throughput(url, 1, args.batch, args.duration),
        f"batched_{args.clients}_clients": await _throughput(url, args.clients, args.batch,
                                                              args.duration),
        f"single_{args.clients}_clients": await _throughput(url, args.clients, 1,
                                                             args.duration),
    }


def _status(url: str) -> dict:
    import urllib.request

    with urllib.request.urlopen(f"{url}/v1/status", timeout=30) as r:
        return json.loads(r.read())


def _write_until_acked(urls: list[str], timeout_s: float = 30.0) -> float:
    """Seconds until a submit through any of ``urls`` is acknowledged."""
    import urllib.error
    import urllib.request

    t0 = time.perf_counter()
    k = 0
    while time.perf_counter() - t0 < timeout_s:
        body = json.dumps({"task_id": uuid.uuid4().hex}).encode()
        req = urllib.request.Request(urls[k % len(urls)] + "/v1/tasks", data=body,
                                     headers={"Content-Type": "application/json"})
        k += 1
        try:
            with urllib.request.urlopen(req, timeout=2) as r:
                if r.status == 201:
                    return time.perf_counter() - t0
        except (urllib.error.URLError, OSError):
            time.sleep(0.01)
    raise TimeoutError(f"no write acknowledged within {timeout_s} s")


def _failover(rc, n: int) -> dict:
    gaps = []
    for _ in range(n):
        leader = rc.leader()
        others = [rc.urls[i] for i in range(rc.n) if i != leader]
        rc.kill(leader)
        gaps.append(_write_until_acked(others))
        rc.restart(leader)
    return {"gaps_s": gaps, "median_s": float(np.median(gaps)),
            "p90_s": float(np.percentile(gaps, 90)), "max_s": max(gaps), "n": n}


def _catchup(rc, n_tasks: int, batch: int) -> dict:
    leader = rc.leader()
    follower = next(i for i in range(rc.n) if i != leader)
    rc.kill(follower)
    url = rc.urls[leader]
    t0 = time.perf_counter()
    per_client = max(1, n_tasks // (8 * batch))
    asyncio.run(_fill(url, per_client, batch))
    fill_s = time.perf_counter() - t0
    target = _status(url)["consensus"]["applied_index"]
    t0 = time.perf_counter()
    proc = rc.restart(follower)
    ready_s = proc.ready_s
    while True:
        st = _status(rc.urls[follower])["consensus"]
        if st["applied_index"] >= target:
            break
        time.sleep(0.05)
    return {"tasks_behind": per_client * 8 * batch, "fill_s": fill_s,
            "fill_tasks_per_s": per_client * 8 * batch / fill_s,
            "entries_behind": target, "spawn_to_caught_up_s": time.perf_counter() - t0,
            "spawn_to_ready_s": ready_s, "recovery_s": st["recovery_s"],
            "replayed_entries": st["replayed_on_start"],
            "snapshot_index": st["snapshot_index"]}


async def _fill(url: str, per_client: int, batch: int) -> None:
    import aiohttp

    async def one(s):
        for _ in range(per_client):
            status = await _post(s, url, "/v1/tasks/batch", {"tasks": _tasks(batch)})
            if status != 201:
                raise RuntimeError(f"fill: HTTP {status}")
    async with aiohttp.ClientSession() as s:
        await asyncio.gather(*(one(s) for _ in range(8)))


def run_bench(args) -> int:
    from uqo.control.client.procs import ServerProcess
    from uqo.control.client.replicas import ReplicaCluster

    out = {"machine": machine_info(), "params": {k: v for k, v in vars(args).items()
                                                 if k != "func"}}
    with tempfile.TemporaryDirectory(prefix="uqo-bench-repl-") as d:
        with ServerProcess(os.path.join(d, "single"), settings=SETTINGS) as srv:
            out["single_node"] = asyncio.run(_measure(srv.url, args))
        with ReplicaCluster(os.path.join(d, "rc"), replicas=3, lease_ttl_s=args.lease_ttl,
                            settings={**SETTINGS, "snapshot_every": args.snapshot_every},
                            partitionable=False) as rc:
            out["etcd"] = asyncio.run(_measure(rc.urls[rc.leader()], args))
            if args.failovers:
                out["failover"] = _failover(rc, args.failovers)
            if args.catchup_tasks:
                out["catchup"] = _catchup(rc, args.catchup_tasks, args.catchup_batch)
    _report(out, args)
    return 0


def _report(out: dict, args) -> None:
    s, e = out["single_node"], out["etcd"]
    rows = [("commit latency p50 / p99 ms (1 task, sequential)",
             f"{_pp(e['commit_latency'])}", f"{_pp(s['commit_latency'])}")]
    for key in ("batched_1_client", f"batched_{args.clients}_clients",
                f"single_{args.clients}_clients"):
        rows.append((f"{key.replace('_', ' ')} tasks/s", f"{e[key]['tasks_per_s']:,.0f}",
                     f"{s[key]['tasks_per_s']:,.0f}"))
    print(f"{'':<52} {'etcd (3+3)':>16} {'single-node WAL':>16}")
    for name, a, b in rows:
        print(f"{name:<52} {a:>16} {b:>16}")
    if "failover" in out:
        f = out["failover"]
        print(f"failover gap after kill -9 of the leader: median {f['median_s']:.2f} s, "
              f"p90 {f['p90_s']:.2f} s, max {f['max_s']:.2f} s (n={f['n']})")
    if "catchup" in out:
        c = out["catchup"]
        print(f"catch-up of a follower {c['tasks_behind']:,} tasks behind: "
              f"{c['spawn_to_caught_up_s']:.2f} s from spawn (ready {c['spawn_to_ready_s']:.2f}"
              f" s; snapshot at {c['snapshot_index']:,}, {c['replayed_entries']:,} replayed)")
    path = args.out or os.path.join("bench", "results",
                                    f"replication-{time.strftime('%Y%m%d-%H%M%S')}.json")
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        json.dump(out, f, indent=1, default=float)
    print(f"wrote {path}")


def _pp(p: dict) -> str:
    return f"{p.get('p50_ms', float('nan')):.1f} / {p.get('p99_ms', float('nan')):.1f}"
