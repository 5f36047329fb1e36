"""``uqo serve``, ``uqo agent``, ``uqo bench api`` and ``uqo bench startup``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .base import int_at_least


def add_commands(sub, bench) -> None:
    p = sub.add_parser("serve", help="run the orchestrator (HTTP API, durable log, engine)")
    p.add_argument("--host", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 8080; 0 picks a free one)")
    p.add_argument("--data-dir", help="log and snapshots (default ./uqo-data)")
    p.add_argument("--config", help="TOML file of settings (see docs/control.md)")
    p.add_argument("--tls", choices=("auto", "on", "off"),
                   help="auto (default): TLS when bound beyond loopback")
    p.add_argument("--tls-cert", help="server certificate (PEM); default: the data dir's own "
                   "local CA issues one")
    p.add_argument("--tls-key", help="its private key (PEM)")
    p.add_argument("--client-ca", help="CA that issues client (agent, replica) certificates; "
                   "default with the local CA: that CA")
    p.add_argument("--require-client-cert", action="store_true", default=None,
                   help="mutual TLS for every caller")
    p.add_argument("--insecure", action="store_true", default=None,
                   help="allow plain HTTP on an address beyond loopback (prints a warning)")
    p.add_argument("--audit-witness", help="also append every signed audit checkpoint to this "
                   "file (outside the data dir)")
    _tracing_flags(p)
    p.add_argument("--etcd", help="replicate on etcd: comma-separated endpoints, e.g. "
                   "http://127.0.0.1:2379,http://127.0.0.1:22379 (docs/replication.md)")
    p.add_argument("--replica-id", help="this replica's name (required with --etcd)")
    p.add_argument("--etcd-ca", help="TLS to etcd: CA certificate (PEM)")
    p.add_argument("--etcd-cert", help="TLS to etcd: client certificate (PEM)")
    p.add_argument("--etcd-key", help="TLS to etcd: client key (PEM)")
    p.add_argument("--advertise-url", help="URL clients reach this replica at (default: the "
                   "bound http://HOST:PORT)")
    p.add_argument("--cluster-secret", help="replicas: the file sealing replicated TOTP "
                   "secrets, the same on every replica (uqo certs init writes "
                   "cluster-secret.key); without it accounts stay local to each replica")
    p.set_defaults(func=_serve)

    p = sub.add_parser("agent", help="run an agent worker against a server")
    p.add_argument("--url", default="http://127.0.0.1:8080",
                   help="server URL, or several comma-separated (replicas: fails over)")
    p.add_argument("--agent-id", required=True)
    p.add_argument("--capabilities", default="general", help="comma-separated")
    p.add_argument("--clearance", type=int, default=0, help="0..3")
    p.add_argument("--compartments", default="", help="comma-separated")
    p.add_argument("--capacity", type=int, default=1, help="tasks held at once")
    p.add_argument("--failure-domain")
    p.add_argument("--handler", default="echo",
                   help="echo | sleep:SECONDS | fail (always fails, for drills)")
    p.add_argument("--heartbeat-interval", type=float, default=5.0)
    p.add_argument("--token-env", default="UQO_TOKEN",
                   help="environment variable holding a bearer token (default UQO_TOKEN)")
    p.add_argument("--credential-file",
                   help="log in with this JSON credential file instead (user_id, password, "
                        "totp_secret), e.g. an agent account's")
    p.add_argument("--ca", help="CA to trust for an https server (the server's "
                   "<data>/tls/ca.pem)")
    p.add_argument("--cert", help="client certificate (mutual TLS: `uqo certs agent`)")
    p.add_argument("--key", help="its private key")
    _tracing_flags(p)
    p.set_defaults(func=_agent)

    p = bench.add_parser("api", help="HTTP API load: batch/single submit, latency percentiles")
    p.add_argument("--agents", type=int, default=100_000, help="registered agents")
    p.add_argument("--batch-tasks", type=int, default=200_000,
                   help="tasks sent through the batch endpoint")
    p.add_argument("--batch-size", type=int, default=2_000)
    p.add_argument("--rate", type=float, default=2_000.0,
                   help="single submits per second for the latency phase")
    p.add_argument("--duration", type=float, default=10.0, help="seconds of single submits")
    p.add_argument("--clients", type=int, default=2, help="client processes")
    p.add_argument("--history", type=int, default=0,
                   help="also measure restart time with this many tasks in the history")
    p.add_argument("--strategy", default="quantum",
                   help="scheduling strategy of the server (see docs/scheduler.md)")
    p.add_argument("--no-fsync", action="store_true", help="measure without fsync (never "
                   "for production; shows the cost of durability)")
    p.add_argument("--out", default=None, help="JSON path (default bench/results/api-*.json)")
    p.set_defaults(func=_bench_api)

    p = bench.add_parser("startup", help="seconds from spawn to /health/live and /health/ready, "
                         "cold (empty kernel cache) and warm")
    p.add_argument("--repeat", type=int_at_least(1), default=3, help="runs per mode")
    p.add_argument("--out", type=Path, default=Path("bench/results"))
    p.set_defaults(func=_bench_startup)


def _tracing_flags(p) -> None:
    p.add_argument("--otlp-endpoint", help="export traces over OTLP to this collector URL, e.g. "
                   "http://127.0.0.1:4317 (default: UQO_OTLP_ENDPOINT, then "
                   "OTEL_EXPORTER_OTLP_ENDPOINT; none: tracing off; docs/tracing.md)")
    p.add_argument("--otlp-protocol", choices=("grpc", "http/protobuf"),
                   help="OTLP transport (default grpc, or OTEL_EXPORTER_OTLP_PROTOCOL)")


_TRACING_ENV = ("UQO_OTLP_ENDPOINT", "UQO_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_ENDPOINT",
                "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")


def _fail(message: str) -> int:
    print(f"uqo: {message}", file=sys.stderr)
    return 2


def _serve(args) -> int:
    from uqo.control.config import ConfigError, describe, load_config_sources
    from uqo.control.server.process import serve

    overrides = {"host": args.host, "port": args.port, "data_dir": args.data_dir,
                 "tls": args.tls, "tls_cert": args.tls_cert, "tls_key": args.tls_key,
                 "client_ca": args.client_ca, "require_client_cert": args.require_client_cert,
                 "insecure": args.insecure, "audit_witness": args.audit_witness,
                 "otlp_endpoint": args.otlp_endpoint, "otlp_protocol": args.otlp_protocol,
                 "etcd": args.etcd, "replica_id": args.replica_id, "etcd_ca": args.etcd_ca,
                 "etcd_cert": args.etcd_cert, "etcd_key": args.etcd_key,
                 "advertise_url": args.advertise_url, "cluster_secret": args.cluster_secret}
    try:
        cfg, sources = load_config_sources(args.config, os.environ, overrides)
    except ConfigError as exc:
        return _fail(str(exc))
    problem = _check_replication(cfg)
    if problem:
        return _fail(problem)
    print("uqo serve: configuration", flush=True)
    print(describe(cfg, sources), flush=True)
    return serve(cfg)


def _check_replication(cfg) -> str | None:
    """A message naming the offending value, or None."""
    if not cfg.etcd:
        return "--replica-id needs --etcd" if cfg.replica_id else None
    from uqo.control.log.etcd_client import parse_endpoints

    try:
        parse_endpoints(cfg.etcd)
    except ValueError as exc:
        return f"--etcd {cfg.etcd!r}: {exc}"
    if not cfg.replica_id or not all(c.isalnum() or c in "-_." for c in cfg.replica_id):
        return (f"--replica-id {cfg.replica_id!r}: a replica on etcd needs a name of letters, "
                "digits, '-', '_' or '.'")
    for name in ("etcd_ca", "etcd_cert", "etcd_key"):
        path = getattr(cfg, name)
        if path and not os.path.isfile(path):
            return f"--{name.replace('_', '-')} {path!r}: no such file"
    if bool(cfg.etcd_cert) != bool(cfg.etcd_key):
        return "--etcd-cert and --etcd-key go together (mutual TLS)"
    if cfg.cluster_secret:
        from uqo.security import SecurityError
        from uqo.security.clusterkey import ClusterKey

        try:
            ClusterKey.load(cfg.cluster_secret)
        except SecurityError as exc:
            return f"--cluster-secret {cfg.cluster_secret!r}: {exc}"
    return None


def _split(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def _handler(spec: str):
    from uqo.control.client.worker import echo_handler, sleep_handler

    if spec == "echo":
        return echo_handler
    if spec == "fail":
        async def fail(assignment):
            raise RuntimeError("the fail handler always fails")
        return fail
    if spec.startswith("sleep:"):
        try:
            seconds = float(spec[6:])
        except ValueError:
            seconds = -1.0
        if seconds >= 0:
            return sleep_handler(seconds)
    return None


def _agent(args) -> int:
    import asyncio
    import os
    import signal

    from uqo.control.client.worker import AgentWorker
    from uqo.control.config import ConfigError, load_config
    from uqo.control.errors import ControlError
    from uqo.control.sdk.client import UnifiedOrchestrator
    from uqo.control.tracing import start_tracing, stop_tracing

    handler = _handler(args.handler)
    if handler is None:
        return _fail(f"--handler {args.handler!r}: expected echo, fail or sleep:SECONDS")
    if not 0 <= args.clearance <= 3:
        return _fail(f"--clearance {args.clearance}: expected 0..3")
    try:        # the server's tracing settings and precedence (flag > UQO_* > OTEL_*)
        traced = load_config(env={k: os.environ[k] for k in _TRACING_ENV if k in os.environ},
                             overrides={"otlp_endpoint": args.otlp_endpoint,
                                        "otlp_protocol": args.otlp_protocol})
    except ConfigError as exc:
        return _fail(str(exc))

    if (args.cert is None) != (args.key is None):
        return _fail("--cert and --key go together")
    try:
        ssl = _client_ssl(args)
    except Exception as exc:  # noqa: BLE001 - any load failure names the files
        return _fail(f"--ca/--cert/--key: {exc}")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        token = os.environ.get(args.token_env) or None
        if args.credential_file:
            from uqo.control.sdk.credentials import login_with_file
            token = await login_with_file(args.url, args.credential_file, ssl=ssl)
        async with UnifiedOrchestrator(args.url, token, ssl=ssl) as client:
            worker = AgentWorker(client, args.agent_id, _split(args.capabilities), handler,
                                 args.clearance, _split(args.compartments), args.capacity,
                                 args.failure_domain, args.heartbeat_interval)
            print(f"uqo agent {args.agent_id}: working for {args.url}", flush=True)
            await worker.run(stop)
            print(f"uqo agent {args.agent_id}: stopped ({worker.completed} done, "
                  f"{worker.failed} failed, {worker.reconnects} reconnects)", flush=True)

    tracing = start_tracing(traced.otlp_endpoint, "uqo-agent", args.agent_id, os.environ,
                            traced.otlp_protocol)
    try:
        asyncio.run(main())
    except ControlError as exc:
        return _fail(f"{exc.code}: {exc.message}")
    except (OSError, ValueError, PermissionError) as exc:
        return _fail(f"--credential-file {args.credential_file!r}: {exc}")
    finally:
        stop_tracing(tracing)
    return 0


def _client_ssl(args):
    if args.ca is None and args.cert is None:
        return None
    from uqo.control.server.tls import client_tls

    if args.ca is None:
        raise ValueError("--cert needs --ca (the CA that issued the server's certificate)")
    return client_tls(ca=args.ca, cert=args.cert, key=args.key)


def _bench_startup(args) -> int:
    from uqo.bench.startup import main

    return main(args.repeat, args.out)


def _bench_api(args) -> int:
    from uqo.bench.api import run_bench

    for name in ("agents", "batch_tasks", "batch_size", "clients"):
        if getattr(args, name) < 1:
            return _fail(f"--{name.replace('_', '-')} {getattr(args, name)}: must be >= 1")
    if args.rate <= 0 or args.duration <= 0:
        return _fail(f"--rate {args.rate} / --duration {args.duration}: must be > 0")
    return run_bench(args)
