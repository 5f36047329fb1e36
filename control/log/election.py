"""The fenced leader election's decisions, with no I/O: who leads, when to campaign, when to stop.

The election key (``<prefix>/ctl/leader``) is created only if absent, in one transaction
``If(CreateRevision(key) == 0) Then(Put(key, me, lease), Range(log))``; the key's create
revision is the winner's *token*. Every append the leader makes is a transaction that compares
the key's create revision with that token, so a deposed or paused leader can never append
(etcd's locks and leases alone do not give this: a process paused past its lease resumes
believing it holds the lock). Because of that compare, safety never depends on the timers
below; they decide only how soon a leader stops taking proposals and a follower campaigns.

Inputs (``now``: monotonic seconds, a parameter: nothing here reads a clock)::

    core = ElectionCore("r1", ttl_s=2)
    core.start(holder, now)           # the key as first read (None: absent): asks for a lease
    core.lease_granted(sent_at, ttl)  # our session lease (the key and our presence hang on it)
    core.observed(holder)             # the key as the watch shows it later (None: deleted)
    core.won(token, head)             # our create succeeded; the log's head was ``head``
    core.lost(holder)                 # our create failed: ``holder`` leads
    core.applied(revision)            # the log applied everything up to ``revision``
    core.keepalive_ok(sent_at, ttl_s) # the lease lives ttl_s from when the refresh was sent
    core.fenced(term)                 # an append of ``term`` was fenced out
    core.tick(now)                    # lease deadline and keepalive timer
    ready = core.ready(); ...carry it out...; core.advance()

``Ready``: ``grant`` (get a new session lease), ``campaign`` (try to create the key on our
lease), ``keepalive`` (refresh the lease now), ``activate`` (we lead and have applied the log up
to our win: start the leader's work), ``deactivate`` (a reason: stop leading at once, refuse
proposals). A new leader is
*active* only once it has applied every entry committed before its win, so it never decides
on a stale state.
"""

from __future__ import annotations

from dataclasses import dataclass

FOLLOWER, CANDIDATE, LEADER = "follower", "candidate", "leader"


@dataclass(frozen=True)
class Holder:
    """Who holds the election key: replica id, its URL for clients, the key's create revision
    (the token) and the lease it is attached to."""

    replica_id: str
    url: str
    token: int
    lease: int = 0


@dataclass
class ElectionReady:
    grant: bool = False
    campaign: bool = False
    keepalive: bool = False
    activate: bool = False
    deactivate: str | None = None

    def __bool__(self) -> bool:
        return (self.grant or self.campaign or self.keepalive or self.activate
                or self.deactivate is not None)


class ElectionCore:
    """``ttl_s``: the session lease's time to live. The lease is refreshed every ``ttl_s / 3``;
    it counts as lost ``margin_s`` before it could have expired, counted from when the last
    successful grant or refresh was *sent* (etcd's countdown started no earlier). A lost lease
    makes a leader stop at once and asks for a new lease."""

    def __init__(self, replica_id: str, ttl_s: float, margin_s: float = 0.1):
        if not replica_id:
            raise ValueError("replica_id must be a non-empty string")
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be > 0, got {ttl_s!r}")
        self.replica_id, self.ttl_s, self.margin_s = replica_id, float(ttl_s), margin_s
        self.role = FOLLOWER
        self.leader_changes = 0                 # distinct leader tokens observed (metric)
        self._holder: Holder | None = None
        self._last_token = 0
        self.token = 0                          # our token while we lead
        self.head = 0                           # log head at our win: applied before active
        self.active = False
        self.has_lease = False
        self.lease_deadline = 0.0               # the lease may be gone after this (monotonic)
        self.next_keepalive = 0.0
        self.applied_revision = 0
        self.terms = 0                          # how many times we won
        self.last_reason = ""
        self._started = False
        self._ready = ElectionReady()

    @property
    def holder(self) -> Holder | None:
        """The leader as last observed (None: no key)."""
        return self._holder

    @holder.setter
    def holder(self, holder: Holder | None) -> None:
        if holder is not None and holder.token != self._last_token:
            self.leader_changes += 1
            self._last_token = holder.token
        self._holder = holder

    # ---- Ready / advance ----------------------------------------------------------------
    def ready(self) -> ElectionReady:
        return self._ready

    def has_ready(self) -> bool:
        return bool(self._ready)

    def advance(self) -> None:
        self._ready = ElectionReady()

    @property
    def is_leader(self) -> bool:
        """Proposals may be taken: we lead, are caught up, and our lease is live."""
        return self.role == LEADER and self.active

    # ---- events -------------------------------------------------------------------------
    def start(self, holder: Holder | None, now: float) -> None:
        """The election key was first read (``holder``); ask for a session lease."""
        self.holder, self._started = holder, True
        self._ready.grant = True
        self.next_keepalive = now

    def observed(self, holder: Holder | None) -> None:
        """The watch showed the election key change (``None``: deleted)."""
        self.holder = holder
        if self.role == LEADER and (holder is None or holder.token != self.token):
            self._step_down("the election key was deleted or taken over")
        self._maybe_campaign()

    def lease_granted(self, sent_at: float, ttl_s: float) -> None:
        self.has_lease = True
        self.lease_deadline = sent_at + ttl_s - self.margin_s
        self.next_keepalive = sent_at + ttl_s / 3
        self._maybe_campaign()

    def lease_failed(self) -> None:
        """A grant failed (etcd unreachable): ask again at the next tick."""
        self.has_lease = False

    def keepalive_ok(self, sent_at: float, ttl_s: float) -> None:
        if not self.has_lease:
            return
        if ttl_s <= 0:
            self._lose_lease("etcd reported the lease expired")
            return
        self.lease_deadline = max(self.lease_deadline, sent_at + ttl_s - self.margin_s)

    def won(self, token: int, head: int) -> None:
        self.role, self.token, self.head = LEADER, token, head
        self.holder = Holder(self.replica_id, "", token)
        self.terms += 1
        self._maybe_activate()

    def lost(self, holder: Holder | None) -> None:
        """Our create failed: ``holder`` leads (None: the attempt itself failed; the next
        tick tries again if the key is still absent)."""
        if self.role == CANDIDATE:
            self.role = FOLLOWER
        if holder is not None:
            self.holder = holder

    def applied(self, revision: int) -> None:
        self.applied_revision = max(self.applied_revision, revision)
        self._maybe_activate()

    def fenced(self, term: int) -> None:
        """An append made in ``term`` failed its compare. If ``term`` is our current one,
        another replica has won since; an older term's late answer says nothing now."""
        if self.role == LEADER and term == self.token:
            self._step_down("an append was fenced out: another replica leads")

    def tick(self, now: float) -> None:
        if not self._started:
            return
        if self.has_lease and now >= self.lease_deadline:
            self._lose_lease("the lease may have expired (no refresh answered in time)")
        if not self.has_lease:
            self._ready.grant = True
            return
        if now >= self.next_keepalive:
            self.next_keepalive = now + self.ttl_s / 3
            self._ready.keepalive = True
        self._maybe_campaign()

    def resign(self) -> None:
        """Graceful stop: leave leadership (the driver then revokes the lease)."""
        self._started = False
        if self.role == LEADER:
            self._step_down("resigned")

    # ---- helpers ------------------------------------------------------------------------
    def _maybe_campaign(self) -> None:
        if (self._started and self.holder is None and self.role == FOLLOWER
                and self.has_lease):
            self.role = CANDIDATE
            self._ready.campaign = True

    def _maybe_activate(self) -> None:
        if self.role == LEADER and not self.active and self.applied_revision >= self.head:
            self.active = True
            self._ready.activate = True

    def _lose_lease(self, reason: str) -> None:
        self.has_lease = False
        if self.role == LEADER:
            self._step_down(reason)
        self._ready.grant = True

    def _step_down(self, reason: str) -> None:
        """Stop leading, and give the session lease up (the driver revokes it before granting
        a new one): an election key of ours that may still exist must not outlive our
        leadership, or nobody else could campaign while our keepalives go on."""
        self.role, self.active, self.token = FOLLOWER, False, 0
        if self.holder is not None and self.holder.replica_id == self.replica_id:
            self.holder = None
        self.has_lease = False
        self.last_reason = reason
        self._ready.activate = False
        self._ready.deactivate = reason
        self._ready.grant = self._started
