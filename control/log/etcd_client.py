"""A small asyncio client for etcd v3 over gRPC: what the replicated log needs, nothing else.

Use cases::

    etcd = EtcdClient(["http://127.0.0.1:2379", "http://127.0.0.1:22379"], tls=None)
    resp = await etcd.txn(compare=[...], success=[...])     # raw TxnResponse: .succeeded,
    resp.header.revision                                    # .header.revision, .responses
    kvs, rev = await etcd.get(b"/uqo/ctl/log")
    async for resp in etcd.watch(b"/uqo/ctl/", b"/uqo/ctl0", start_revision=42): ...
    lease_id, ttl = await etcd.lease_grant(2)     # refreshed by a KeepaliveThread

Which client, and why: the generated etcd v3 protobuf stubs come from ``aetcd`` (1.0, pinned;
maintained), but its ``Client`` is not used: it connects to a single host without TLS, and its
``transaction()`` drops the response header's revision, which is the log's total order. So this
module calls the stubs (``KVStub.Txn``, ``WatchStub.Watch``, ...) on ``grpc.aio`` channels of its
own: one per endpoint, TLS with the project's certificates when given, and failover to the next
endpoint on a transport error. etcd's JSON gateway over aiohttp was the other option; gRPC keeps
values binary (no base64) and watches as one HTTP/2 stream.

Errors: ``EtcdUnavailable`` (no endpoint answered in time: for a write, the outcome is unknown),
``EtcdCompacted`` (the revision asked for was compacted away), other ``EtcdError``. Watches ask
the member to cancel them when it loses its Raft leader (``hasleader`` metadata, as etcd's Go
client's ``WithRequireLeader``), so a member cut off from its cluster cannot feed a silent,
stale stream.
"""

from __future__ import annotations

import logging
import threading
import urllib.parse
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

import grpc
from aetcd import rpc

_LOG = logging.getLogger(__name__)
_OPTIONS = [("grpc.max_receive_message_length", 256 << 20),
            ("grpc.max_send_message_length", 4 << 20),
            ("grpc.keepalive_time_ms", 2000), ("grpc.keepalive_timeout_ms", 2000),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.initial_reconnect_backoff_ms", 100), ("grpc.max_reconnect_backoff_ms", 1000)]
_TRANSIENT = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
              grpc.StatusCode.CANCELLED, grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
_REQUIRE_LEADER = (("hasleader", "true"),)


class EtcdError(Exception):
    """etcd refused a request (the message is etcd's)."""


class EtcdUnavailable(EtcdError):
    """No endpoint answered in time. For a write: it may or may not have been applied."""


class EtcdCompacted(EtcdError):
    """The revision asked for is older than etcd's compaction point."""

    def __init__(self, message: str, compact_revision: int = 0):
        super().__init__(message)
        self.compact_revision = compact_revision


@dataclass(frozen=True)
class TlsFiles:
    """PEM files: the CA that signed etcd's certificates, and this client's cert and key
    (mutual TLS) if etcd asks for one."""

    ca: str
    cert: str | None = None
    key: str | None = None

    def credentials(self) -> grpc.ChannelCredentials:
        def read(path):
            if path is None:
                return None
            with open(path, "rb") as f:
                return f.read()
        return grpc.ssl_channel_credentials(read(self.ca), read(self.key), read(self.cert))


def parse_endpoints(text: str | Sequence[str]) -> list[str]:
    """``"http://a:2379,https://b:2379"`` -> a checked list; raises ValueError naming a bad
    one."""
    items = text.split(",") if isinstance(text, str) else list(text)
    out = []
    for raw in (x.strip() for x in items):
        if not raw:
            continue
        url = urllib.parse.urlsplit(raw)
        if url.scheme not in ("http", "https") or not url.hostname or not url.port:
            raise ValueError(f"etcd endpoint {raw!r}: expected http(s)://HOST:PORT")
        out.append(raw)
    if not out:
        raise ValueError("no etcd endpoint given")
    return out


class EtcdClient:
    """Channels to every endpoint; calls go to the current one and move on to the next after a
    transport error. ``timeout_s``: deadline of one unary call."""

    def __init__(self, endpoints: Sequence[str], tls: TlsFiles | None = None,
                 timeout_s: float = 2.0):
        self.endpoints = parse_endpoints(endpoints)
        self.tls, self.timeout_s = tls, timeout_s
        self._channels: list[grpc.aio.Channel | None] = [None] * len(self.endpoints)
        self._current = 0
        self.failovers = 0

    # ---- channels -----------------------------------------------------------------------
    def _channel(self, i: int) -> grpc.aio.Channel:
        if self._channels[i] is None:
            url = urllib.parse.urlsplit(self.endpoints[i])
            target = f"{url.hostname}:{url.port}"
            if url.scheme == "https" or self.tls is not None:
                creds = (self.tls or TlsFiles(ca=None)).credentials()
                self._channels[i] = grpc.aio.secure_channel(target, creds, _OPTIONS)
            else:
                self._channels[i] = grpc.aio.insecure_channel(target, _OPTIONS)
        return self._channels[i]

    def _rotate(self, failed: int) -> None:
        if self._current == failed:
            self._current = (failed + 1) % len(self.endpoints)
            self.failovers += 1

    async def close(self) -> None:
        for ch in self._channels:
            if ch is not None:
                await ch.close()
        self._channels = [None] * len(self.endpoints)

    async def _unary(self, stub_cls, method: str, request, timeout_s: float | None = None):
        """Call ``method`` on the current endpoint, then each other once on transport errors."""
        last: grpc.aio.AioRpcError | None = None
        for _ in range(len(self.endpoints)):
            i = self._current
            stub = stub_cls(self._channel(i))
            try:
                return await getattr(stub, method)(request, timeout=timeout_s or self.timeout_s)
            except grpc.aio.AioRpcError as exc:
                if exc.code() not in _TRANSIENT:
                    raise _error(exc) from None
                last = exc
                self._rotate(i)
        raise EtcdUnavailable(f"no etcd endpoint answered ({', '.join(self.endpoints)}): "
                              f"{last.code().name}: {last.details()}")

    # ---- KV -----------------------------------------------------------------------------
    async def txn(self, compare=(), success=(), failure=(), timeout_s=None) -> rpc.TxnResponse:
        """One transaction; the raw response keeps ``header.revision``."""
        req = rpc.TxnRequest(compare=list(compare), success=list(success),
                             failure=list(failure))
        return await self._unary(rpc.KVStub, "Txn", req, timeout_s)

    async def get(self, key: bytes, range_end: bytes | None = None, *, revision: int = 0,
                  keys_only: bool = False, limit: int = 0, serializable: bool = False,
                  timeout_s=None) -> tuple[list, int]:
        """``(kvs, header revision)``; linearizable unless ``serializable``."""
        req = rpc.RangeRequest(key=key, range_end=range_end or b"", revision=revision,
                               keys_only=keys_only, limit=limit, serializable=serializable)
        resp = await self._unary(rpc.KVStub, "Range", req, timeout_s)
        return list(resp.kvs), resp.header.revision

    async def put(self, key: bytes, value: bytes, lease: int = 0) -> int:
        resp = await self._unary(rpc.KVStub, "Put", rpc.PutRequest(key=key, value=value,
                                                                    lease=lease))
        return resp.header.revision

    async def compact(self, revision: int, timeout_s=None) -> None:
        try:
            await self._unary(rpc.KVStub, "Compact",
                              rpc.CompactionRequest(revision=revision, physical=False),
                              timeout_s)
        except EtcdCompacted:
            pass                        # someone compacted past it already: the same outcome

    # ---- leases -------------------------------------------------------------------------
    async def lease_grant(self, ttl_s: int) -> tuple[int, int]:
        """A new lease: ``(id, granted ttl seconds)`` (etcd may raise a small ttl)."""
        resp = await self._unary(rpc.LeaseStub, "LeaseGrant", rpc.LeaseGrantRequest(TTL=ttl_s))
        if resp.error:
            raise EtcdError(f"lease grant refused: {resp.error}")
        return resp.ID, resp.TTL

    async def lease_revoke(self, lease_id: int) -> None:
        try:
            await self._unary(rpc.LeaseStub, "LeaseRevoke", rpc.LeaseRevokeRequest(ID=lease_id))
        except EtcdError as exc:
            if "not found" not in str(exc):
                raise

    # ---- cluster ------------------------------------------------------------------------
    async def member_status(self) -> list[dict]:
        """Each endpoint's own view (``Maintenance.Status``); an unreachable one says so."""
        out = []
        for i, endpoint in enumerate(self.endpoints):
            try:
                s = await rpc.MaintenanceStub(self._channel(i)).Status(
                    rpc.StatusRequest(), timeout=self.timeout_s)
                out.append({"endpoint": endpoint, "reachable": True, "version": s.version,
                            "member_id": f"{s.header.member_id:x}",
                            "leader": f"{s.leader:x}", "is_leader": s.leader ==
                            s.header.member_id, "raft_term": s.raftTerm,
                            "raft_index": s.raftIndex, "revision": s.header.revision,
                            "db_size": s.dbSize})
            except grpc.aio.AioRpcError as exc:
                out.append({"endpoint": endpoint, "reachable": False,
                            "error": f"{exc.code().name}: {exc.details()}"})
        return out

    # ---- watch --------------------------------------------------------------------------
    async def watch(self, key: bytes, range_end: bytes, start_revision: int
                    ) -> AsyncIterator[rpc.WatchResponse]:
        """Responses with events on ``[key, range_end)`` from ``start_revision`` on, in order.
        Ends by raising: ``EtcdCompacted`` (start is compacted: reload a snapshot),
        ``EtcdUnavailable`` (the stream broke: the caller resumes from its last revision; the
        next call starts on the next endpoint)."""
        i = self._current
        call = rpc.WatchStub(self._channel(i)).Watch(metadata=_REQUIRE_LEADER)
        create = rpc.WatchCreateRequest(key=key, range_end=range_end,
                                        start_revision=start_revision, progress_notify=True)
        try:
            await call.write(rpc.WatchRequest(create_request=create))
            while True:
                resp = await call.read()
                if resp is grpc.aio.EOF:
                    raise EtcdUnavailable("watch stream closed by the server")
                if resp.compact_revision:
                    raise EtcdCompacted(f"revision {start_revision} is compacted (etcd kept "
                                        f"{resp.compact_revision} on)", resp.compact_revision)
                if resp.canceled:
                    raise EtcdUnavailable(f"watch canceled: {resp.cancel_reason or 'no reason'}")
                yield resp
        except grpc.aio.AioRpcError as exc:
            self._rotate(i)
            raise EtcdUnavailable(f"watch on {self.endpoints[i]} broke: {exc.code().name}: "
                                  f"{exc.details()}") from None
        finally:
            call.cancel()


class KeepaliveThread:
    """Refreshes one lease from a thread of its own (blocking gRPC on its own channels), so
    an event loop busy applying a large batch cannot starve the lease: etcd keeps it alive,
    and the loop finds the answers waiting in ``results`` (``(lease_id, sent_at, ttl)``;
    ttl None for a failed refresh) when it next looks. It refreshes every ``interval_s`` and
    at once after ``kick()``. Safety never rests on this: appends are fenced in etcd."""

    def __init__(self, endpoints: Sequence[str], tls: TlsFiles | None, interval_s: float,
                 timeout_s: float, clock: Callable[[], float]):
        self.endpoints, self.tls = list(endpoints), tls
        self.interval_s, self.timeout_s, self.clock = interval_s, timeout_s, clock
        self.lease_id = 0
        self.results: deque[tuple[int, float, int | None]] = deque(maxlen=64)
        self._kick = threading.Event()
        self._stop = threading.Event()
        self._channels: dict[int, grpc.Channel] = {}
        self._current = 0
        self._thread = threading.Thread(target=self._run, name="uqo-lease", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def kick(self) -> None:
        self._kick.set()

    def stop(self) -> None:
        self._stop.set()
        self._kick.set()
        self._thread.join(5)
        for ch in self._channels.values():
            ch.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._kick.wait(self.interval_s)
            self._kick.clear()
            lease_id = self.lease_id
            if self._stop.is_set() or not lease_id:
                continue
            sent = self.clock()
            self.results.append((lease_id, sent, self._refresh(lease_id)))

    def _channel(self, i: int) -> grpc.Channel:
        if i not in self._channels:
            url = urllib.parse.urlsplit(self.endpoints[i])
            target = f"{url.hostname}:{url.port}"
            if url.scheme == "https" or self.tls is not None:
                creds = (self.tls or TlsFiles(ca=None)).credentials()
                self._channels[i] = grpc.secure_channel(target, creds, _OPTIONS)
            else:
                self._channels[i] = grpc.insecure_channel(target, _OPTIONS)
        return self._channels[i]

    def _refresh(self, lease_id: int) -> int | None:
        for _ in range(len(self.endpoints)):
            i = self._current
            stub = rpc.LeaseStub(self._channel(i))
            try:
                stream = stub.LeaseKeepAlive(iter([rpc.LeaseKeepAliveRequest(ID=lease_id)]),
                                             timeout=self.timeout_s)
                try:
                    return next(stream).TTL
                finally:
                    stream.cancel()
            except (grpc.RpcError, StopIteration):
                self._current = (i + 1) % len(self.endpoints)
        return None


def _error(exc: grpc.aio.AioRpcError) -> EtcdError:
    details = exc.details() or exc.code().name
    if exc.code() == grpc.StatusCode.OUT_OF_RANGE or "compacted" in details:
        return EtcdCompacted(details)
    return EtcdError(f"{exc.code().name}: {details}")


# ---- request builders (the few the log uses) ---------------------------------------------
def cmp_create_revision(key: bytes, value: int) -> rpc.Compare:
    """``CreateRevision(key) == value`` (0: the key does not exist)."""
    return rpc.Compare(result=rpc.Compare.EQUAL, target=rpc.Compare.CREATE, key=key,
                       create_revision=value)


def op_put(key: bytes, value: bytes, lease: int = 0) -> rpc.RequestOp:
    return rpc.RequestOp(request_put=rpc.PutRequest(key=key, value=value, lease=lease))


def op_get(key: bytes, range_end: bytes = b"", keys_only: bool = False) -> rpc.RequestOp:
    return rpc.RequestOp(request_range=rpc.RangeRequest(key=key, range_end=range_end,
                                                        keys_only=keys_only))


def op_delete(key: bytes, range_end: bytes = b"") -> rpc.RequestOp:
    return rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=key,
                                                                      range_end=range_end))


def prefix_end(prefix: bytes) -> bytes:
    """The range end covering every key that starts with ``prefix``."""
    return prefix[:-1] + bytes([prefix[-1] + 1])


EVENT_PUT, EVENT_DELETE = 0, 1
__all__ = ["EVENT_DELETE", "EVENT_PUT", "EtcdClient", "EtcdCompacted", "EtcdError",
           "EtcdUnavailable", "TlsFiles", "cmp_create_revision", "op_delete",
           "op_get", "op_put", "parse_endpoints", "prefix_end"]
