"""Server configuration: defaults < TOML file < environment (``UQO_*``) < command-line flags.

Use cases::

    cfg = load_config(path="uqo.toml", env=os.environ, overrides={"port": 9000})
    cfg.port, cfg.data_dir
    cfg, sources = load_config_sources("uqo.toml", os.environ)
    print(describe(cfg, sources))   # one line per setting with where its value came from

The TOML file holds the settings at top level or under a ``[server]`` table. Environment names
are ``UQO_`` + the setting in upper case (``UQO_PORT=9000``). Unknown settings and wrong types
raise ``ConfigError`` naming the setting and where it came from. Nothing here reads the
environment unless handed it.

Tracing also takes OpenTelemetry's standard names, below every source of our own:
defaults < ``OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`` / ``..._PROTOCOL`` < TOML < ``UQO_*`` < flags
(docs/tracing.md).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from typing import Annotated, Literal

import msgspec

Positive = Annotated[float, msgspec.Meta(gt=0)]


class ServerConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Every setting of ``uqo serve`` and ``EmbeddedOrchestrator``."""

    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8080
    data_dir: str = "./uqo-data"
    backend: Literal["auto", "numpy", "jax", "cupy"] = "auto"   # engine array backend
    capacity: Annotated[int, msgspec.Meta(ge=2)] = 1_000_000   # engine slots (agents)
    strategy: str = "quantum"                     # default scheduling strategy
    seed: int = 0
    mi_threshold: Annotated[float, msgspec.Meta(ge=0)] = 0.1
    tick_interval_s: Positive = 1.0               # engine tick period
    schedule_interval_s: Positive = 0.01          # least gap between scheduling rounds
    max_decide_batch: Annotated[int, msgspec.Meta(ge=1)] = 4096   # tasks per round
    snapshot_every: Annotated[int, msgspec.Meta(ge=1)] = 100_000   # entries between snapshots
    snapshot_bytes: Annotated[int, msgspec.Meta(ge=1)] = 16 << 20  # ... or log bytes between
    fsync: bool = True
    retain_terminal: Annotated[int, msgspec.Meta(ge=0)] = 0   # finished tasks kept; 0 = all
    max_body_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 16 << 20
    max_batch_tasks: Annotated[int, msgspec.Meta(ge=1)] = 10_000
    idempotency_ttl_s: Positive = 86_400.0       # how long an Idempotency-Key is remembered
    idempotency_max_keys: Annotated[int, msgspec.Meta(ge=1)] = 100_000   # ... at most this many
    long_poll_max_s: Positive = 60.0
    heartbeat_timeout_s: Positive = 30.0          # agent silent this long: reported failed
    heartbeat_interval_s: Positive = 5.0          # agents' heartbeat period (belief's silence)
    probe_rate: Annotated[float, msgspec.Meta(ge=0)] = 0.0   # health checks per second; 0 off
    probe_timeout_s: Positive = 15.0              # a probe unanswered this long: a timeout
    forecast_horizon_s: Positive = 30.0           # /v1/status forecast horizon
    model_params: str = ""                        # tuned belief parameters (uqo tune); "" none
    audit_verify_interval_s: Positive = 300.0     # the audit log is re-verified this often
    auth: bool = True                             # false: pass-through (development only)
    login_burst: Annotated[int, msgspec.Meta(ge=1)] = 20     # login attempts per source ...
    login_refill_per_s: Positive = 0.2                       # ... refilled at this rate
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # -- transport (docs/security.md, "TLS on uqo serve") --------------------------------
    tls: Literal["auto", "on", "off"] = "auto"    # auto: TLS when bound beyond loopback
    tls_cert: str | None = None                   # PEM; default: the data dir's local CA's
    tls_key: str | None = None
    client_ca: str | None = None                  # verifies client (agent) certificates
    require_client_cert: bool = False             # true: mutual TLS for every caller
    insecure: bool = False                        # allow plain HTTP beyond loopback (warns)
    # -- keys ----------------------------------------------------------------------------
    hsm: Literal["auto", "on", "off"] = "auto"    # auto: PKCS#11 when a module is installed
    hsm_module: str | None = None                 # default: SoftHSM2's, where installed
    hsm_token: str = "uqo"                        # token label
    hsm_pin_file: str | None = None               # outside the data dir; or env UQO_HSM_PIN
    hsm_store: str | None = None                  # SoftHSM2 token directory when we make one
    audit_witness: str | None = None              # checkpoints also appended here
    # ---- tracing (docs/tracing.md): off while no endpoint is set ----
    otlp_endpoint: Annotated[str, msgspec.Meta(pattern=r"^(https?://[^/\s]+(/\S*)?)?$")] = ""
    otlp_protocol: Literal["grpc", "http/protobuf"] = "grpc"
    # ---- replication on etcd (empty ``etcd``: the single-node log; docs/replication.md) ----
    etcd: str = ""                                # "http://h1:2379,http://h2:2379,..."
    replica_id: str = ""                          # this replica's name (required with etcd)
    etcd_prefix: str = "/uqo"                     # keys of this uqo cluster in etcd
    etcd_ca: str = ""                             # TLS to etcd: CA file (PEM) ...
    etcd_cert: str = ""                           # ... and this client's certificate ...
    etcd_key: str = ""                            # ... and key, for mutual TLS
    lease_ttl_s: Annotated[int, msgspec.Meta(ge=1, le=60)] = 2    # leader lease (seconds)
    advertise_url: str = ""                       # URL clients use for this replica
    follower_writes: Literal["forward", "redirect"] = "forward"   # or answer 307
    read_timeout_s: Positive = 5.0                # a linearizable read waits this long at most
    cluster_secret: str = ""                      # file sealing TOTP secrets of replicated
                                                  # accounts (uqo certs init writes one)
    # ---- which log: "" picks single (no etcd) or etcd (etcd set); pbft: docs/pbft.md ----
    consensus: Literal["", "single", "etcd", "pbft"] = ""
    peers: str = ""                               # pbft: the group's cluster.json


def consensus_of(cfg: ServerConfig) -> str:
    """The log ``cfg`` runs on: ``single``, ``etcd`` or ``pbft``."""
    return cfg.consensus or ("etcd" if cfg.etcd else "single")


class ConfigError(ValueError):
    """A setting that cannot be used; the message names it and its source."""


def _fields() -> dict[str, type]:
    return {f.name: f.type for f in msgspec.structs.fields(ServerConfig)}


def load_config(path: str | None = None, env: Mapping[str, str] | None = None,
                overrides: Mapping[str, object] | None = None) -> ServerConfig:
    """Merge the sources (later wins) into a validated ``ServerConfig``."""
    return load_config_sources(path, env, overrides)[0]


def load_config_sources(path: str | None = None, env: Mapping[str, str] | None = None,
                        overrides: Mapping[str, object] | None = None
                        ) -> tuple[ServerConfig, dict[str, str]]:
    """``load_config`` plus, per setting given, where it came from (for ``describe``)."""
    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    for key, (name, value) in otel_env(env or {}).items():
        values[key], sources[key] = value, f"env {name}"
    if path is not None:
        for key, value in _read_toml(path).items():
            values[key], sources[key] = value, f"file {path}"
    for key, value in _from_env(env or {}).items():
        values[key], sources[key] = value, f"env UQO_{key.upper()}"
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key], sources[key] = value, "command line"
    for key in values:
        if key not in _fields():
            raise ConfigError(f"unknown setting {key!r} (from {sources[key]}); known: "
                              f"{', '.join(sorted(_fields()))}")
    cfg = ServerConfig()
    for key, value in values.items():
        cfg = _set(cfg, key, value, sources[key])
    return cfg, sources


def _set(cfg: ServerConfig, key: str, value: object, source: str) -> ServerConfig:
    strict = not source.startswith("env")       # env values are strings: allow "9000" -> 9000
    try:
        checked = msgspec.convert({key: value}, type=ServerConfig, strict=strict)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"setting {key!r} = {value!r} (from {source}): {exc}") from None
    return msgspec.structs.replace(cfg, **{key: getattr(checked, key)})


def _read_toml(path: str) -> dict:
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {path!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path!r} is not valid TOML: {exc}") from None
    table = doc.pop("server", {})
    if not isinstance(table, dict):
        raise ConfigError(f"config file {path!r}: [server] must be a table")
    return {**doc, **table}


def _from_env(env: Mapping[str, str]) -> dict[str, str]:
    known = _fields()
    return {k[4:].lower(): v for k, v in env.items()
            if k.startswith("UQO_") and k[4:].lower() in known}


_OTEL = {"otlp_endpoint": ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
         "otlp_protocol": ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")}


def otel_env(env: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """Tracing settings from OpenTelemetry's standard variables (the traces-only name before
    the general one): setting -> (variable, value)."""
    out = {}
    for key, names in _OTEL.items():
        name = next((n for n in names if env.get(n)), None)
        if name is not None:
            out[key] = (name, env[name])
    return out


def describe(cfg: ServerConfig, sources: Mapping[str, str] | None = None) -> str:
    """One ``name = value  (source)`` line per setting, for printing at start-up."""
    sources = sources or {}
    lines = []
    for name in _fields():
        lines.append(f"  {name:<20} = {getattr(cfg, name)!r:<24} ({sources.get(name, 'default')})")
    return "\n".join(lines)
