"""The consistent-hash ring that shards agents across engine partitions, re-exported from the
engine (``uqo.engine.partition``) so that the scheduler and the agent register share one ring."""

from uqo.engine.partition import HashRing, ring_hash

__all__ = ["HashRing", "ring_hash"]
