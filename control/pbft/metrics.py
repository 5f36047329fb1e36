"""Prometheus metrics of a PBFT replica, on a registry the caller hands in (no globals).

Use cases::

    m = PbftMetrics(registry)
    m.dropped.labels("signature").inc()        # the driver counts every dropped message
    m.observe(log)                             # gauges from PbftLog.status()

``uqo_pbft_dropped_messages_total{reason}``: messages a replica refused. Reasons that mean bad
input from a peer or an attacker: ``malformed`` (undecodable), ``signature`` (the claimed
author did not sign it), ``invalid`` (signed, but breaks the protocol: wrong digest, bad
certificate, wrong sender), ``equivocation`` (a second, different pre-prepare),
``own_identity`` (claims to be from this replica), ``unexpected`` (a kind replicas do not take),
``replayed_request`` (a client timestamp already executed), ``bad_state`` (a state transfer
whose digest is not the certified one). ``stale`` (old view or below the watermark) is normal
traffic after a view change or checkpoint.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class PbftMetrics:
    def __init__(self, registry: CollectorRegistry):
        self.dropped = Counter("uqo_pbft_dropped_messages", "PBFT messages refused, by reason",
                               ["reason"], registry=registry)
        self.view = Gauge("uqo_pbft_view", "current PBFT view", registry=registry)
        self.executed = Gauge("uqo_pbft_executed_seq", "last executed sequence number",
                              registry=registry)
        self.stable = Gauge("uqo_pbft_stable_seq", "last stable checkpoint",
                            registry=registry)

    def observe(self, log) -> None:
        core = log.core
        if core is not None:
            self.view.set(core.state.view)
            self.executed.set(core.last_executed)
            self.stable.set(core.state.stable_seq)
