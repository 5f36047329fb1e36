"""The etcd key layout of one uqo cluster, its identity check, and content-addressed snapshots.

Use cases::

    keys = Keys("/uqo")
    keys.log, keys.leader, keys.snapshot          # the watched control keys, under keys.ctl
    cluster_id = await check_identity(etcd, keys, data_dir)   # refuses a foreign data dir
    ptr = await write_snapshot(etcd, keys, snap, revision, seq, replica_id, token)
    snap = await read_snapshot(etcd, keys, ptr)   # verified against its sha256

Layout (``P`` = the prefix)::

    P/cluster              {"cluster_id": ...}: created once; every replica's data dir records it
    P/ctl/leader           the election key (on the leader's session lease): {"replica_id","url"}
    P/ctl/log              the log: every revision of this key is one batch of commands
    P/ctl/snapshot         the latest snapshot's pointer (written by the leader, fenced)
    P/snap/<sha256>/<i>    the snapshot's bytes in chunks of at most 1 MiB
    P/replicas/<id>        each replica's presence and applied position (on its session lease)

Snapshots live in etcd whatever their size, in chunks under etcd's 1.5 MiB request limit: a
replica needs nothing but etcd access to catch up (no replica-to-replica file transfer, so no
new channel to secure), and old chunks are deleted, then compacted, once a newer snapshot is
durable. The content hash names the chunks and is checked on read.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import uuid

from uqo.fsutil import atomic_write

from .etcd_batch import SnapshotPointer, encode_pointer
from .etcd_client import EtcdClient, cmp_create_revision, op_delete, op_get, op_put, prefix_end

CHUNK_BYTES = 1 << 20
IDENTITY_FILE = "etcd-cluster.json"


class ReplicaRefused(RuntimeError):
    """This replica must not start (its data dir belongs elsewhere); the message says why."""


class SnapshotDamaged(RuntimeError):
    """A snapshot read back from etcd does not match its pointer."""


class Keys:
    def __init__(self, prefix: str = "/uqo"):
        if not prefix.startswith("/") or prefix.rstrip("/") == "":
            raise ValueError(f"etcd prefix {prefix!r}: expected /NAME (e.g. /uqo)")
        p = prefix.rstrip("/").encode()
        self.prefix = prefix.rstrip("/")
        self.cluster = p + b"/cluster"
        self.ctl = p + b"/ctl/"
        self.ctl_end = prefix_end(self.ctl)
        self.leader = p + b"/ctl/leader"
        self.log = p + b"/ctl/log"
        self.snapshot = p + b"/ctl/snapshot"
        self.replicas = p + b"/replicas/"
        self._snap = p + b"/snap/"

    def chunks(self, sha: str) -> bytes:
        return self._snap + sha.encode() + b"/"

    def chunk(self, sha: str, i: int) -> bytes:
        return self.chunks(sha) + b"%08d" % i

    def replica(self, replica_id: str) -> bytes:
        return self.replicas + replica_id.encode()


# ---- identity -------------------------------------------------------------------------------
async def check_identity(etcd: EtcdClient, keys: Keys, data_dir: str) -> str:
    """The cluster id, after checking that ``data_dir`` belongs to this etcd cluster and prefix
    (its first start records it). Raises ``ReplicaRefused`` for a data dir of another cluster,
    or one that holds a single-node log."""
    path = os.path.join(data_dir, IDENTITY_FILE)
    local = _read_json(path)
    if local is None and _has_single_node_log(data_dir):
        raise ReplicaRefused(f"data dir {data_dir!r} holds a single-node log (wal/); a replica "
                             "needs an empty data dir or one of this etcd cluster's replicas")
    resp = await etcd.txn([cmp_create_revision(keys.cluster, 0)],
                          [op_put(keys.cluster, json.dumps(
                              {"cluster_id": uuid.uuid4().hex}).encode())],
                          [op_get(keys.cluster)])
    if resp.succeeded:
        kvs, _ = await etcd.get(keys.cluster)
    else:
        kvs = resp.responses[0].response_range.kvs
    cluster_id = json.loads(kvs[0].value)["cluster_id"]
    if local is not None:
        if local.get("cluster_id") != cluster_id or local.get("prefix") != keys.prefix:
            raise ReplicaRefused(
                f"data dir {data_dir!r} belongs to cluster {local.get('cluster_id')} (prefix "
                f"{local.get('prefix')}); etcd at {', '.join(etcd.endpoints)} holds cluster "
                f"{cluster_id} under {keys.prefix}: use this cluster's data dir or an empty one")
        return cluster_id
    os.makedirs(data_dir, exist_ok=True)
    atomic_write(path, json.dumps({"cluster_id": cluster_id, "prefix": keys.prefix}).encode())
    return cluster_id


def _read_json(path: str) -> dict | None:
    try:
        with open(path, "rb") as f:
            return json.loads(f.read())
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise ReplicaRefused(f"{path} is damaged ({exc}); move it away to rejoin") from None


def _has_single_node_log(data_dir: str) -> bool:
    wal = os.path.join(data_dir, "wal")
    return os.path.isdir(wal) and any(name.endswith(".seg") and
                                      os.path.getsize(os.path.join(wal, name)) > 0
                                      for name in os.listdir(wal))


# ---- snapshots ------------------------------------------------------------------------------
async def write_snapshot(etcd: EtcdClient, keys: Keys, data: bytes, *, revision: int,
                         index: int, term: int, seq: int, replica_id: str,
                         token: int, above=()) -> SnapshotPointer | None:
    """Store ``data`` in chunks, then point ``P/ctl/snapshot`` at it in a transaction fenced by
    ``token`` (the leader's). None if fenced out (no longer the leader)."""
    sha = hashlib.sha256(data).hexdigest()
    n = max(1, -(-len(data) // CHUNK_BYTES))
    for i in range(n):
        await etcd.put(keys.chunk(sha, i), data[i * CHUNK_BYTES:(i + 1) * CHUNK_BYTES])
    ptr = SnapshotPointer(revision=revision, index=index, term=term, seq=seq, sha256=sha,
                          size=len(data), chunks=n, replica_id=replica_id, above=list(above))
    resp = await etcd.txn([cmp_create_revision(keys.leader, token)],
                          [op_put(keys.snapshot, encode_pointer(ptr))])
    return ptr if resp.succeeded else None


async def read_snapshot(etcd: EtcdClient, keys: Keys, ptr: SnapshotPointer,
                        parallel: int = 8) -> bytes:
    """The snapshot's bytes, ``parallel`` chunks in flight at once, checked against the
    pointer's size and SHA-256."""
    gate = asyncio.Semaphore(parallel)

    async def chunk(i: int) -> bytes:
        async with gate:
            kvs, _ = await etcd.get(keys.chunk(ptr.sha256, i))
        if not kvs:
            raise SnapshotDamaged(f"snapshot {ptr.sha256[:12]}: chunk {i} is missing")
        return kvs[0].value

    data = b"".join(await asyncio.gather(*(chunk(i) for i in range(ptr.chunks))))
    if len(data) != ptr.size or hashlib.sha256(data).hexdigest() != ptr.sha256:
        raise SnapshotDamaged(f"snapshot {ptr.sha256[:12]}: content does not match its hash")
    return data


async def drop_snapshot(etcd: EtcdClient, keys: Keys, sha: str, token: int) -> None:
    """Delete an old snapshot's chunks (fenced: only the leader cleans up)."""
    prefix = keys.chunks(sha)
    await etcd.txn([cmp_create_revision(keys.leader, token)],
                   [op_delete(prefix, prefix_end(prefix))])
