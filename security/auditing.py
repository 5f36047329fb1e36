"""The framework's audit trail: durable records, the 24-hour event count, and sampling of
unauthenticated noise.

Use cases::

    trail = AuditTrail(audit_log, policy, clock)
    trail.record("config.user_add", "admin", "success", {...})         # fsync'd, then returns
    await trail.record_async("auth.login", "u1", "failure", {...})     # off the event loop
    trail.unauthenticated("auth.token", {"code": "token_invalid", ...})  # sampled
    trail.events.count()              # security_events_24h
    trail.recent_events(20)           # the newest written events, newest first (/ui)
    trail.failures                    # Counter: code -> every unauthenticated refusal

Unauthenticated refusals (a bad, expired or revoked bearer token, an unknown client
certificate) cost an attacker nothing, so they are not written one record each: every one is
counted in ``failures`` (the ``uqo_auth_failures_total`` metric), and at most
``audit_sample_per_s`` a second (bursts of ``audit_sample_burst``) are written, each carrying
how many were left out since the previous one (``not_recorded_before``). The event count sees
the written records only, so a flood of garbage cannot inflate ``security_events_24h`` past the
sampling rate. Authenticated refusals and every login attempt are written one by one.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor

from .events import DAY_S, EVENT_OUTCOMES, EventCounter

_LOG = logging.getLogger(__name__)
MAX_QUEUED = 10_000  # background audit records waiting for the writer thread
# Label values the metrics show from the start at zero (Prometheus' advice for labelled
# counters: a series that appears only with its first event breaks rate() and dashboards).
KNOWN_FAILURE_CODES = ("token_invalid", "token_expired", "token_revoked", "unknown_agent")
KNOWN_EVENT_KINDS = ("auth.login", "authz.decision", "auth.token", "auth.certificate")
RECENT_EVENTS = 200  # written security events kept in memory for GET /v1/security/events
# What of a record's detail an event shows: why and from where, no tokens or key ids.
_EVENT_DETAIL = ("code", "reason", "rule", "resource", "action", "source")


def event_view(record: dict) -> dict:
    """A security event as the API shows it, from its audit record."""
    detail = record.get("detail") or {}
    return {"seq": record["seq"], "ts": record["ts"], "kind": record["kind"],
            "subject": record.get("actor"), "outcome": record["outcome"],
            "detail": {k: detail[k] for k in _EVENT_DETAIL if k in detail}}


class AuditTrail:
    def __init__(self, audit, policy, clock):
        self.audit, self.clock = audit, clock
        self.rate, self.burst = policy.audit_sample_per_s, float(policy.audit_sample_burst)
        self.events = EventCounter(clock=clock)
        seeded = [r for r in audit.records_since(clock() - DAY_S)
                  if r.get("outcome") in EVENT_OUTCOMES]
        self.events.seed(seeded)
        self._recent = deque((event_view(r) for r in seeded[-RECENT_EVENTS:]),
                             maxlen=RECENT_EVENTS)
        self.failures: Counter[str] = Counter(dict.fromkeys(KNOWN_FAILURE_CODES, 0))
        # security events (refusals, lockouts) by kind
        self.by_kind: Counter[str] = Counter(dict.fromkeys(KNOWN_EVENT_KINDS, 0))
        self.last_verify = None                   # (ok, findings, at) of the last verification
        self.max_queued = MAX_QUEUED
        self._io = ThreadPoolExecutor(1, thread_name_prefix="uqo-audit")
        self._lock = threading.Lock()
        self._queued = self._skipped = 0
        self._tokens, self._last = self.burst, clock()

    def record(self, kind: str, actor, outcome: str, detail: dict, counted: bool = False) -> int:
        seq = self.audit.append(kind, actor, outcome, detail)
        if outcome in EVENT_OUTCOMES:
            view = event_view(self.audit.record(seq))      # as written (its seq and ts)
            with self._lock:
                self._recent.append(view)
            if not counted:
                self.events.add(self.clock())
                self.by_kind[kind] += 1
        return seq

    def recent_events(self, limit: int) -> list[dict]:
        """The newest ``limit`` written security events (outcome failure or denied), newest
        first; the last 24 hours' are reloaded from the log at start (at most
        ``RECENT_EVENTS``). Sampled-out unauthenticated refusals are not among them."""
        with self._lock:
            return list(self._recent)[::-1][:limit]

    async def record_async(self, kind: str, actor, outcome: str, detail: dict) -> int:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._io, self.record, kind, actor, outcome, detail)

    def background(self, kind: str, actor, outcome: str, detail: dict) -> None:
        """For synchronous callers on the event loop: queued, not awaited. Past ``max_queued``
        waiting records, further ones are dropped and counted with the next one written."""
        if outcome in EVENT_OUTCOMES:
            self.events.add(self.clock())   # counted now, before the record is written
            self.by_kind[kind] += 1
        with self._lock:
            if self._queued >= self.max_queued:
                self._skipped += 1
                return
            self._queued += 1
            detail = self._with_skipped(detail)
        future = self._io.submit(self.record, kind, actor, outcome, detail, True)
        future.add_done_callback(self._done)

    def unauthenticated(self, kind: str, detail: dict, actor=None) -> None:
        """An unauthenticated refusal: counted always, written when the sampler allows."""
        with self._lock:
            self.failures[detail.get("code", kind)] += 1
            now = self.clock()
            self._tokens = min(self.burst, self._tokens + max(0.0, now - self._last) * self.rate)
            self._last = now
            if self._tokens < 1.0:
                self._skipped += 1
                return
            self._tokens -= 1.0
        self.background(kind, actor, "failure", detail)

    def verify(self) -> bool:
        """Verify the whole audit log on disk now (blocking: run it in an executor); the result
        is kept in ``last_verify`` for the ``uqo_audit_verify_ok`` gauge."""
        report = self.audit.verify()
        self.last_verify = (report.ok, len(report.findings), self.clock())
        if not report.ok:
            _LOG.critical("audit log verification FAILED: %s", report.findings[:3])
        return report.ok

    def _with_skipped(self, detail: dict) -> dict:
        if self._skipped:
            detail, self._skipped = {**detail, "not_recorded_before": self._skipped}, 0
        return detail

    def _done(self, future) -> None:
        with self._lock:
            self._queued -= 1
        if future.exception() is not None:
            _LOG.error("audit append failed: %r", future.exception())

    def close(self) -> None:
        """Wait for queued writes (the log itself is closed by its owner)."""
        self._io.shutdown(wait=True)
