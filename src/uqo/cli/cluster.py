"""``uqo cluster status`` (the replicated control plane as etcd sees it) and ``uqo bench
replication``."""

from __future__ import annotations

import sys


def add_commands(sub, bench) -> None:
    p = sub.add_parser("cluster", help="the replicated control plane on etcd")
    cluster = p.add_subparsers(dest="cluster_command", metavar="ACTION")
    p.set_defaults(func=lambda args: _usage(p))
    s = cluster.add_parser("status", help="etcd members, the elected replica, every "
                           "replica's applied position and lag")
    s.add_argument("--etcd", required=True, help="comma-separated etcd endpoints")
    s.add_argument("--prefix", default="/uqo", help="the uqo cluster's key prefix in etcd")
    s.add_argument("--etcd-ca", help="TLS to etcd: CA certificate (PEM)")
    s.add_argument("--etcd-cert", help="TLS to etcd: client certificate (PEM)")
    s.add_argument("--etcd-key", help="TLS to etcd: client key (PEM)")
    s.add_argument("--json", action="store_true", help="print JSON instead of a table")
    s.set_defaults(func=_status)

    b = bench.add_parser("replication", help="etcd-replicated log vs the single-node WAL: "
                         "commit latency, batched throughput, failover gap, catch-up")
    b.add_argument("--latency-n", type=int, default=500, help="sequential single submits")
    b.add_argument("--batch", type=int, default=1000, help="tasks per batch request")
    b.add_argument("--clients", type=int, default=64, help="concurrent clients")
    b.add_argument("--duration", type=float, default=5.0, help="seconds per throughput run")
    b.add_argument("--failovers", type=int, default=20, help="kill -9 of the leader, times")
    b.add_argument("--catchup-tasks", type=int, default=1_000_000,
                   help="tasks a killed follower falls behind (0: skip)")
    b.add_argument("--catchup-batch", type=int, default=5000)
    b.add_argument("--snapshot-every", type=int, default=100_000,
                   help="entries between the leader's snapshots")
    b.add_argument("--lease-ttl", type=int, default=1, help="leader lease, seconds")
    b.add_argument("--out", help="JSON path (default bench/results/replication-*.json)")
    b.set_defaults(func=_bench)


def _usage(parser) -> int:
    parser.print_help()
    return 2


def _fail(message: str) -> int:
    print(f"uqo: {message}", file=sys.stderr)
    return 2


def _bench(args) -> int:
    for name in ("latency_n", "batch", "clients", "catchup_batch", "snapshot_every",
                 "lease_ttl"):
        if getattr(args, name) < 1:
            return _fail(f"--{name.replace('_', '-')} {getattr(args, name)}: must be >= 1")
    if args.duration <= 0 or args.failovers < 0 or args.catchup_tasks < 0:
        return _fail("--duration must be > 0; --failovers and --catchup-tasks >= 0")
    from uqo.bench.replication import run_bench

    return run_bench(args)


def _status(args) -> int:
    import asyncio
    import json

    from uqo.control.log.etcd_client import EtcdError, TlsFiles, parse_endpoints
    from uqo.control.log.etcd_status import cluster_status

    try:
        endpoints = parse_endpoints(args.etcd)
    except ValueError as exc:
        return _fail(f"--etcd {args.etcd!r}: {exc}")
    tls = TlsFiles(args.etcd_ca, args.etcd_cert, args.etcd_key) if args.etcd_ca else None
    try:
        doc = asyncio.run(cluster_status(endpoints, args.prefix, tls))
    except EtcdError as exc:
        print(f"uqo cluster status: cannot reach etcd at {', '.join(endpoints)}: {exc}",
              file=sys.stderr)
        return 1
    except ValueError as exc:
        return _fail(str(exc))
    if args.json:
        print(json.dumps(doc, indent=1))
        return 0
    _print(doc)
    return 0


def _print(doc: dict) -> None:
    print("etcd members:")
    for m in doc["members"]:
        if m["reachable"]:
            print(f"  {m['endpoint']:<28} {'leader ' if m['is_leader'] else 'member '} "
                  f"v{m['version']} raft term {m['raft_term']} revision {m['revision']} "
                  f"db {m['db_size'] / 2**20:.1f} MiB")
        else:
            print(f"  {m['endpoint']:<28} UNREACHABLE  {m['error']}")
    lead = doc["leader"]
    print(f"uqo cluster {doc['cluster_id'] or '(not created yet)'} under {doc['prefix']}: "
          f"log head revision {doc['log_head_revision']}, snapshot "
          f"{doc['snapshot'] and doc['snapshot']['index']}")
    print(f"leader: {lead['replica_id']} at {lead['url']} (token {lead['token']})" if lead
          else "leader: none elected")
    print(f"  {'replica':<12} {'role':<20} {'applied index':>14} {'lag entries':>12} "
          f"{'age s':>6}  url")
    for r in doc["replicas"]:
        print(f"  {r['replica_id']:<12} {r['role']:<20} {r['applied_index']:>14} "
              f"{r['lag_entries']:>12} {r['age_s']:>6.1f}  {r['url']}")
