"""The replicated control plane as etcd sees it, for ``uqo cluster status`` (no replica needed).

Use cases::

    doc = await cluster_status(["http://127.0.0.1:2379"], "/uqo")
    doc["members"]       # each etcd endpoint: reachable, leader, raft term, revision, db size
    doc["leader"]        # the elected replica (id, url, token) or None
    doc["replicas"]      # each live replica: role, applied index, lag behind the furthest
"""

from __future__ import annotations

import json
import time

from .etcd_batch import decode_pointer
from .etcd_client import EtcdClient, TlsFiles, prefix_end
from .etcd_session import holder_of
from .etcd_store import Keys


async def cluster_status(endpoints: list[str], prefix: str = "/uqo",
                         tls: TlsFiles | None = None) -> dict:
    keys = Keys(prefix)
    etcd = EtcdClient(endpoints, tls=tls)
    try:
        members = await etcd.member_status()
        cluster, _ = await etcd.get(keys.cluster)
        leader, _ = await etcd.get(keys.leader)
        log, _ = await etcd.get(keys.log, keys_only=True)
        snap, _ = await etcd.get(keys.snapshot)
        kvs, _ = await etcd.get(keys.replicas, prefix_end(keys.replicas))
    finally:
        await etcd.close()
    holder = holder_of(leader[0]) if leader else None
    records = [json.loads(kv.value) for kv in kvs]
    furthest = max((int(r.get("applied_index", 0)) for r in records), default=0)
    now = time.time()
    replicas = [{"replica_id": r.get("replica_id"), "url": r.get("url"),
                 "role": r.get("role"), "applied_index": int(r.get("applied_index", 0)),
                 "applied_revision": int(r.get("applied_revision", 0)),
                 "lag_entries": furthest - int(r.get("applied_index", 0)),
                 "age_s": max(0.0, now - float(r.get("at", now)))}
                for r in sorted(records, key=lambda r: str(r.get("replica_id")))]
    return {
        "prefix": keys.prefix, "members": members,
        "cluster_id": json.loads(cluster[0].value)["cluster_id"] if cluster else None,
        "leader": ({"replica_id": holder.replica_id, "url": holder.url,
                    "token": holder.token} if holder else None),
        "log_head_revision": log[0].mod_revision if log else 0,
        "snapshot": ({"index": p.index, "revision": p.revision, "size": p.size,
                      "sha256": p.sha256} if (p := decode_pointer(snap[0].value) if snap
                                              else None) else None),
        "replicas": replicas,
    }
