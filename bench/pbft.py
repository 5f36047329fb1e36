"""PBFT replication on loopback: latency, throughput with batching, view change after kill -9.

Use cases::

    python -m uqo.bench.pbft                          # n = 4 and 7, single-node log beside
    python -m uqo.bench.pbft --sizes 4 --duration 5 --out /tmp/pbft.json

For each group size n a real cluster is started (``uqo.control.pbft.launch``: one process per
replica, mutual TLS, its COMMITs and view changes fsync'd before sending), then:

1. latency: one client proposes one command at a time at the primary, then at a backup;
   the latency is ``PbftLog.propose`` as measured inside that replica (propose -> committed
   by 2f+1 -> applied), so it compares with other logs measured at the same boundary (etcd's
   at its leader). The control plane proposes at the primary (``ServedPbftLog``: the
   primary leads the orchestrator, followers forward writes to it): PRE-PREPARE, PREPARE,
   COMMIT, three message hops; at a backup the request's hop to the primary comes first;
2. throughput: ``--clients`` concurrent HTTP clients spread over all replicas, each proposing
   ``--batch`` commands per call (1, then 100), for ``--duration`` seconds: commands applied
   per second, and the log-level latency percentiles under that load;
3. view change: a client proposes continuously at two backups, the primary is killed with
   SIGKILL, and the time from the kill to the first commit after it is the outage (timer
   ``view_change_ticks`` x ``tick_s`` plus VIEW-CHANGE / NEW-VIEW).

Other logs are measured in the same run through the same steps 1-2, in this process, at their
``propose``; step 1 is also run with PBFT and the other logs taking turns (``interleaved``:
``--ops / 6`` proposals each per turn), since the shared disk's fsync latency, which every
log waits on, moves by 10x between minutes here. Other logs are opened for the whole run: ``register_log(name, factory)`` adds one (``factory(tmp_dir)`` is an async context
manager yielding an opened ``Log``). The single-node fsync'd WAL is registered here; the etcd
log on a 3-member etcd cluster (``etcd-3``) is measured beside, by default. Writes ``bench/results/pbft.json`` (machine facts, load
average, parameters, numbers) and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import itertools
import json
import os
import signal
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from .machine import machine_info

LOGS: dict[str, Callable] = {}


def register_log(name: str, factory: Callable) -> None:
    """Measure another ``Log`` in the same run: ``factory(tmp_dir)`` is an async context
    manager that yields an opened Log (its applier a ``CommandApplier``)."""
    LOGS[name] = factory


@contextlib.asynccontextmanager
async def _single_node(tmp: str):
    from uqo.control.log import SingleNodeLog, WalStorage
    from uqo.control.state import CommandApplier, StateMachine

    log = SingleNodeLog(WalStorage(tmp))
    await log.open(CommandApplier(StateMachine()))
    try:
        yield log
    finally:
        await log.close(snapshot=False)


register_log("single-node", _single_node)


@contextlib.asynccontextmanager
async def _etcd(tmp: str):
    """The etcd log (issue 12) as ``uqo serve --etcd`` runs it: a 3-member etcd cluster on
    loopback (real etcd processes, fsync'd), this process's ``EtcdLog`` elected leader."""
    from uqo.control.client.etcdproc import EtcdCluster
    from uqo.control.log.etcd import EtcdLog
    from uqo.control.log.etcd_client import EtcdClient
    from uqo.control.state import CommandApplier, StateMachine

    with EtcdCluster(os.path.join(tmp, "etcd"), members=3) as cluster:
        log = EtcdLog(EtcdClient(",".join(cluster.endpoints)), "bench", os.path.join(tmp, "r"),
                      lease_ttl_s=2)
        await log.open(CommandApplier(StateMachine()))
        try:
            log.start_election("http://127.0.0.1:1")
            deadline = time.monotonic() + 30
            while not log.is_leader:
                if time.monotonic() > deadline:
                    raise RuntimeError("the etcd log was not elected within 30 s")
                await asyncio.sleep(0.05)
            log.bench_pids = [m.proc.pid for m in cluster.members if m.proc is not None]
            yield log
        finally:
            await log.close()                    # closes its etcd client too


register_log("etcd-3", _etcd)


def _command(i: int, prefix: str) -> bytes:
    from uqo.control.state import commands

    return commands.encode(commands.RegisterAgent(
        at=1.0, agent=commands.AgentInfo(f"{prefix}-{i}", ("gpu",))))


def _pcts(xs: list[float]) -> dict:
    if not xs:
        return {"n": 0}
    a = sorted(x * 1e3 for x in xs)

    def pct(p: float) -> float:          # linear interpolation, as numpy's default
        k = (len(a) - 1) * p / 100
        lo = int(k)
        hi = min(lo + 1, len(a) - 1)
        return a[lo] + (a[hi] - a[lo]) * (k - lo)
    return {"n": len(a), "p50_ms": pct(50), "p90_ms": pct(90), "p99_ms": pct(99),
            "mean_ms": sum(a) / len(a)}


# ---- generic phases: ``propose`` is an async callable taking a list of payloads ----------
async def _sequential(propose, ops: int, prefix: str) -> list[float]:
    took = []
    for i in range(ops):
        t0 = time.perf_counter()
        await propose([_command(i, prefix)])
        took.append(time.perf_counter() - t0)
    return took


async def _throughput(proposers: list, clients: int, batch: int, duration: float,
                      prefix: str) -> dict:
    done, counter = [0], [0]
    stop = time.perf_counter() + duration

    async def client(k: int):
        propose = proposers[k % len(proposers)]
        while time.perf_counter() < stop:
            base = counter[0]
            counter[0] += batch
            await propose([_command(base + j, f"{prefix}-{k}") for j in range(batch)])
            done[0] += batch

    t0 = time.perf_counter()
    await asyncio.gather(*[client(k) for k in range(clients)])
    took = time.perf_counter() - t0
    return {"batch": batch, "clients": clients, "commands": done[0], "seconds": took,
            "commands_per_s": done[0] / took}


def _cpu_s(pids) -> float:
    """User + system CPU seconds used so far by the processes ``pids`` (Linux /proc)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _fsync_probe(directory: str, count: int = 40) -> dict:
    """The disk's flush latency right now (append 300 bytes + fdatasync, ``count`` times):
    both logs wait on it, and on a shared machine it moves by 10x between minutes."""
    path = os.path.join(directory, "fsync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    took = []
    try:
        for _ in range(count):
            os.write(fd, b"x" * 300)
            t0 = time.perf_counter()
            os.fdatasync(fd)
            took.append(time.perf_counter() - t0)
    finally:
        os.close(fd)
        os.unlink(path)
    return _pcts(took)


# ---- PBFT over real processes ------------------------------------------------------------
async def _interleaved(proposers: dict, ops: int, rounds: int = 6) -> dict[str, list[float]]:
    """One command at a time on each log in turn, ``ops // rounds`` per turn: the logs share
    the minutes (and the disk's mood: its fsync latency moves 10x between minutes here)."""
    took: dict[str, list[float]] = {name: [] for name in proposers}
    for k in range(rounds):
        for name, propose in proposers.items():
            took[name] += await _sequential(propose, ops // rounds, f"il{k}-{name}")
    return took


async def _pbft(n: int, args, root: str, beside: dict | None = None) -> dict:
    from uqo.control.pbft.launch import ProcessCluster, free_port_block

    core = {"view_change_ticks": args.view_change_ticks}
    cluster = ProcessCluster(os.path.join(root, f"pbft-{n}"), n, free_port_block(n),
                             core=core, tick_s=args.tick_s)
    print(f"pbft n={n}: {cluster.spec.root}", flush=True)
    names = cluster.names
    try:
        cluster.start_all()
        # the control plane proposes at the primary (``ServedPbftLog`` leads there and the
        # followers forward writes to it): 3 message hops; a backup's proposal takes 4
        primary = (await cluster.status(names[0]))["primary"]
        backup = next(nm for nm in names if nm != primary)
        out = {"log": "pbft", "n": n, "f": (n - 1) // 3, "primary": primary, "backup": backup}
        for at, key in ((primary, "latency"), (backup, "latency_backup")):
            await _sequential(lambda p, at=at: cluster.propose(at, p), 20, "warm")
            await cluster.latencies(at)
            out[f"fsync_before{key[7:]}"] = _fsync_probe(root)
            pids = [proc.pid for proc in cluster.procs.values()]
            cpu0 = _cpu_s(pids)
            http = await _sequential(lambda p, at=at: cluster.propose(at, p), args.ops,
                                     f"lat-{at}")
            out[key], out[f"{key}_http"] = _pcts(await cluster.latencies(at)), _pcts(http)
            # CPU of all n replica processes (their HTTP server for the bench's calls too)
            out[f"cpu_ms_per_command{key[7:]}"] = 1e3 * (_cpu_s(pids) - cpu0) / args.ops
        out["throughput"] = []
        if beside:
            # the same measurement with the other logs taking turns (PBFT at its propose, as
            # measured inside the primary and a backup; the others at theirs, in this process)
            took = await _interleaved(
                {"pbft": lambda p: cluster.propose(primary, p),
                 "pbft-backup": lambda p: cluster.propose(backup, p),
                 **{k: log.propose for k, log in beside.items()}}, args.ops)
            took["pbft"] = await cluster.latencies(primary)
            took["pbft-backup"] = await cluster.latencies(backup)
            out["interleaved"] = {k: _pcts(v) for k, v in took.items()}
        for batch in (1, 100):
            for name in names:
                await cluster.latencies(name)
            proposers = [lambda p, nm=nm: cluster.propose(nm, p) for nm in names]
            tp = await _throughput(proposers, args.clients, batch, args.duration, f"tp{batch}")
            inner = []
            for name in names:
                inner += await cluster.latencies(name)
            tp["latency"] = _pcts(inner)
            out["throughput"].append(tp)
        out["view_change"] = await _view_change(cluster, names)
        alive = [nm for nm in names if nm != out["view_change"]["killed"]]
        out["status"] = await cluster.status(alive[0])
        return out
    finally:
        await cluster.close()


async def _view_change(cluster, names: list[str]) -> dict:
    """Kill -9 the primary under a steady load at two backups. Outage: from the kill to the
    commit of the first proposal issued after it; also the longest gap between commits."""
    done: list[tuple[float, float]] = []          # (issued, committed)
    stop = asyncio.Event()

    async def load(name: str, k: int):
        i = 0
        while not stop.is_set():
            t0 = time.perf_counter()
            await cluster.propose(name, [_command(i, f"vc-{k}")])
            done.append((t0, time.perf_counter()))
            i += 1

    # the primary as the replicas in normal operation see it (a replica that timed out alone
    # under load may sit in a later view, changing, and name itself)
    statuses = [await cluster.status(n) for n in names]
    primary = Counter(s["primary"] for s in statuses if s["normal"]).most_common(1)[0][0]
    loaders = [n for n in names if n != primary][:2]
    tasks = [asyncio.create_task(load(name, k)) for k, name in enumerate(loaders)]
    await asyncio.sleep(1.0)
    killed = time.perf_counter()
    cluster.kill(primary, signal.SIGKILL)
    while not [c for i, c in done if i > killed] and time.perf_counter() - killed < 120:
        await asyncio.sleep(0.005)
    await asyncio.sleep(1.0)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 120)
    after = sorted(c for i, c in done if i > killed)
    commits = sorted(c for _, c in done)
    gaps = [b - a for a, b in itertools.pairwise(commits) if b > killed]
    st = await cluster.status(loaders[0])
    return {"killed": primary, "outage_s": (after[0] - killed) if after else None,
            "max_gap_s": max(gaps) if gaps else None, "view_after": st["view"],
            "primary_after": st["primary"]}


# ---- other logs, in process --------------------------------------------------------------
async def _other(name: str, log, args, root: str) -> dict:
    """Latency and throughput of an opened ``log`` (opened by ``_run`` for the whole run)."""
    await _sequential(log.propose, 20, "warm")
    probe = _fsync_probe(root)
    pids = getattr(log, "bench_pids", [])
    cpu0 = time.process_time() + _cpu_s(pids)
    lat = await _sequential(log.propose, args.ops, "lat")
    cpu = time.process_time() + _cpu_s(pids) - cpu0
    out = {"log": name, "n": 1, "latency": _pcts(lat), "fsync_before": probe,
           # this process (the log's client side, and the bench's loop) + the log's servers
           "cpu_ms_per_command": 1e3 * cpu / args.ops, "throughput": []}
    for batch in (1, 100):
        took: list[float] = []

        async def timed(p, took=took):
            t0 = time.perf_counter()
            r = await log.propose(p)
            took.append(time.perf_counter() - t0)
            return r
        tp = await _throughput([timed], args.clients, batch, args.duration, f"tp{batch}")
        tp["latency"] = _pcts(took)
        out["throughput"].append(tp)
    return out


# ---- main --------------------------------------------------------------------------------
def _row(r: dict) -> str:
    tp = {t["batch"]: t["commands_per_s"] for t in r["throughput"]}
    vc = r.get("view_change", {}).get("outage_s")
    return (f"{r['log']:<12} {r['n']:>2} {r['latency']['p50_ms']:>8.2f} "
            f"{r['latency']['p99_ms']:>8.2f} {tp.get(1, 0):>11.0f} {tp.get(100, 0):>12.0f} "
            f"{'' if vc is None else f'{vc:.2f}':>12} {r['fsync_before']['p50_ms']:>10.2f}")


def _print(result: dict) -> None:
    print(f"{'log':<12} {'n':>2} {'p50 ms':>8} {'p99 ms':>8} {'cmd/s b=1':>11} "
          f"{'cmd/s b=100':>12} {'view chg s':>12} {'fsync p50':>10}")
    for r in result["results"]:
        print(_row(r))
        if "cpu_ms_per_command" in r:
            print(f"{'':<12}    CPU per command, one at a time: {r['cpu_ms_per_command']:.2f} ms"
                  + (f" (at the backup: {r['cpu_ms_per_command_backup']:.2f} ms)"
                     if "cpu_ms_per_command_backup" in r else ""))
        if "latency_backup" in r:
            lb = r["latency_backup"]
            print(f"{'  at backup':<12} {r['n']:>2} {lb['p50_ms']:>8.2f} {lb['p99_ms']:>8.2f} "
                  f"{'':>11} {'':>12} {'':>12} {r['fsync_before_backup']['p50_ms']:>10.2f}"
                  f"  ({r['backup']}; the row above: at the primary, {r['primary']})")
    print(f"(latency: one command at a time, measured at the log's propose; load average "
          f"{result['loadavg_before']} before the run, {result['loadavg_after']} after)")
    for r in result["results"]:
        if "interleaved" in r:
            print(f"taking turns with n = {r['n']}: p50 " + ", ".join(
                f"{k} {v['p50_ms']:.2f} ms" for k, v in r["interleaved"].items()))


async def _loop_ab(args, root: str) -> list[dict]:
    """Old vs new event loop, alternated in the same minutes: per round and per loop a fresh
    n = 4 cluster whose replicas run on that loop (``UQO_EVENT_LOOP``), ``--ops`` sequential
    proposals at the primary: p50/p99 inside the primary and CPU per command of the 4 replicas,
    and their CPU per second while idle (2 s before: ticks and STATUS rounds)."""
    from uqo.control.pbft.eventloop import ENV
    from uqo.control.pbft.launch import ProcessCluster, free_port_block

    rows = []
    for rnd in range(args.rounds):
        for choice in args.ab_event_loops:
            cluster = ProcessCluster(os.path.join(root, f"ab-{rnd}-{choice}"), 4, free_port_block(4),
                                     core={"view_change_ticks": args.view_change_ticks},
                                     tick_s=args.tick_s)
            saved = os.environ.get(ENV)
            os.environ[ENV] = choice
            try:
                cluster.start_all()
            finally:
                if saved is None:
                    del os.environ[ENV]
                else:
                    os.environ[ENV] = saved
            try:
                primary = (await cluster.status(cluster.names[0]))["primary"]
                propose = functools.partial(cluster.propose, primary)
                await _sequential(propose, 20, "warm")
                await cluster.latencies(primary)
                pids = [proc.pid for proc in cluster.procs.values()]
                idle0, t0 = _cpu_s(pids), time.monotonic()
                await asyncio.sleep(2)           # ticks and STATUS rounds only
                idle = 1e3 * (_cpu_s(pids) - idle0) / (time.monotonic() - t0)
                load, cpu0 = os.getloadavg()[0], _cpu_s(pids)
                await _sequential(propose, args.ops, f"ab-{choice}")
                cpu = 1e3 * (_cpu_s(pids) - cpu0) / args.ops
                lat = _pcts(await cluster.latencies(primary))
            finally:
                await cluster.close()
            rows.append({"round": rnd, "event_loop": choice, "loadavg_1m": load,
                         "cpu_ms_per_command": cpu, "idle_cpu_ms_per_s": idle,
                         "latency": lat})
            print(f"round {rnd} {choice:<8} load {load:4.1f}  CPU/command {cpu:6.2f} ms  "
                  f"p50 {lat['p50_ms']:6.2f} ms  p99 {lat['p99_ms']:6.2f} ms  idle CPU {idle:5.1f} ms/s",
                  flush=True)
    return rows


async def _run(args) -> dict:
    root = tempfile.mkdtemp(prefix="uqo-bench-pbft-")
    loadavg_before = list(os.getloadavg())
    results = []
    if args.ab_event_loops:
        results = await _loop_ab(args, root)
        return {"machine": machine_info(), "loadavg_before": loadavg_before,
                "loadavg_after": list(os.getloadavg()),
                "params": {k: v for k, v in vars(args).items() if k != "out"}, "ab": results}
    async with contextlib.AsyncExitStack() as stack:
        logs = {name: await stack.enter_async_context(
            LOGS[name](tempfile.mkdtemp(prefix=f"{name}-", dir=root))) for name in args.logs}
        for log in logs.values():
            await _sequential(log.propose, 20, "warm")
        for n in args.sizes:
            results.append(await _pbft(n, args, root, logs))
        for name, log in logs.items():
            results.append(await _other(name, log, args, root))
    from uqo.control.pbft.eventloop import loop_factory
    return {"machine": machine_info(), "loadavg_before": loadavg_before,
            "loadavg_after": list(os.getloadavg()), "event_loop": loop_factory()[0],
            "params": {k: v for k, v in vars(args).items() if k != "out"}, "results": results}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="PBFT on loopback beside other logs")
    ap.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[4, 7])
    ap.add_argument("--logs", type=lambda s: [x for x in s.split(",") if x],
                    default=["single-node", "etcd-3"], help=f"other logs to measure ({', '.join(LOGS)})")
    ap.add_argument("--ops", type=int, default=300, help="sequential proposals for latency")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--duration", type=float, default=8.0)
    ap.add_argument("--tick-s", type=float, default=0.01)
    ap.add_argument("--view-change-ticks", type=int, default=100)
    ap.add_argument("--ab-event-loops", type=lambda s: [x for x in s.split(",") if x], default=[],
                    help="instead of the full bench: n = 4 latency and CPU per command at the "
                         "primary on each of these replica event loops (UQO_EVENT_LOOP values, "
                         "e.g. asyncio,uvloop), alternated --rounds times")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "pbft.json")
    args = ap.parse_args(argv)
    unknown = [x for x in args.logs if x not in LOGS]
    if unknown:
        ap.error(f"--logs: unknown log {unknown[0]!r} (known: {', '.join(LOGS)})")
    bad = [x for x in args.ab_event_loops if x not in ("asyncio", "uvloop", "auto")]
    if bad:
        ap.error(f"--ab-event-loops: unknown event loop {bad[0]!r} (known: asyncio, uvloop, auto)")
    result = asyncio.run(_run(args))
    if not args.ab_event_loops:
        _print(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
