"""What a PBFT core is configured with, and what it hands back in a ``Ready``.

Use cases::

    cfg = Config(n=4, replica=0, checkpoint_interval=16, log_size=64)
    rd = core.ready()
    for rec in rd.persist: ...        # store (fsync) FIRST; rd.reset: replace what was stored
    for s in rd.sends: ...            # then send (s.to None = every other replica)
    for e in rd.execute: ...          # then apply, in order; call core.checkpoint(e.seq, d)
                                      # after applying e when e.client_table is not None
    core.advance(rd)

Ticks are logical: the driver decides what a tick is worth in wall-clock time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .messages import Request
from .state import Record


@dataclass(frozen=True)
class Config:
    """``n`` replicas, this one ``replica`` (0-based). ``checkpoint_interval`` K and
    ``log_size`` L (a multiple of K) set the watermarks of §4.3: sequence numbers in
    (h, h + L] are accepted, h being the last stable checkpoint. ``max_batch`` requests per
    pre-prepare and at most ``max_inflight`` sequence numbers assigned and not yet executed
    at the primary (TOCS 2002 batching: the primary batches what queued while the window was
    full). ``view_change_ticks`` is the §4.4 timer T, doubled per consecutive view change that
    executed nothing new, at most ``max_backoff`` times (the paper doubles without bound; a
    cap keeps a long pre-stabilisation outage from leaving hour-long timers behind: choose it
    so that T * 2**max_backoff exceeds the worst delay expected after stabilisation);
    ``status_ticks`` the retransmission period; ``catch_up_slots`` how many sequence numbers
    one status answer resends."""

    n: int
    replica: int
    checkpoint_interval: int = 16
    log_size: int = 64
    max_batch: int = 64
    max_inflight: int = 4
    view_change_ticks: int = 20
    status_ticks: int = 4
    catch_up_slots: int = 16
    max_backoff: int = 6

    def __post_init__(self):
        for name in ("n", "checkpoint_interval", "log_size", "max_batch", "max_inflight",
                     "view_change_ticks", "status_ticks", "catch_up_slots"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if isinstance(self.max_backoff, bool) or not isinstance(self.max_backoff, int) \
                or not 0 <= self.max_backoff <= 30:
            raise ValueError(f"max_backoff must be an int in [0, 30], got {self.max_backoff!r}")
        if isinstance(self.replica, bool) or not isinstance(self.replica, int) \
                or not 0 <= self.replica < self.n:
            raise ValueError(f"replica must be an int in [0, {self.n}), got {self.replica!r}")
        if self.log_size % self.checkpoint_interval:
            raise ValueError(f"log_size ({self.log_size}) must be a multiple of "
                             f"checkpoint_interval ({self.checkpoint_interval})")


@dataclass(frozen=True)
class Send:
    """``data`` (an encoded ``Signed``) for replica ``to``, or for every other replica."""

    to: int | None
    data: bytes


@dataclass(frozen=True)
class Execute:
    """Apply ``requests`` (already de-duplicated: each has a timestamp above its client's
    last executed one) as sequence number ``seq``, committed in ``view``. When
    ``client_table`` is set, ``seq`` is a checkpoint: after applying, the driver passes the
    digest of its state to ``core.checkpoint(seq, digest)`` and keeps (state, client_table)
    to serve state transfer."""

    seq: int
    view: int
    requests: tuple[Request, ...]
    client_table: bytes | None = None


@dataclass(frozen=True)
class Fetch:
    """State transfer: this replica lags behind the stable checkpoint (``seq``, ``digest``);
    fetch the state at ``seq`` (from ``replicas``, which signed it) and hand it to
    ``core.install_snapshot``; the core checks it against ``digest``."""

    seq: int
    digest: bytes
    replicas: tuple[int, ...]


@dataclass
class Ready:
    """Everything the core wants done since the last ``ready()``. Order of work (etcd-raft's
    contract): persist, then send, then execute, then ``advance``. ``sync``: ``persist``
    must be durable (fsync'd) before the sends; when False, writing it suffices (the next
    synced append makes it durable too, the file being written in order). A replica must
    never forget a prepared certificate it vouched for with a COMMIT (OSDI '99 §4.5.1's
    argument needs f+1 correct replicas to report it in a VIEW-CHANGE), nor contradict a
    vote it sent: COMMITs, checkpoints and view changes are synced; others' messages can be
    received again; its own pre-prepares and prepares are not synced, because after a
    restart it sends none in the view it was in (``PbftCore.mute_view``). One fsync per
    request on the critical path (the commit's) instead of three."""

    persist: list[Record] = field(default_factory=list)
    reset: bool = False
    sends: list[Send] = field(default_factory=list)
    execute: list[Execute] = field(default_factory=list)
    replies: list[tuple[str, int]] = field(default_factory=list)
    fetch: Fetch | None = None
    dropped: dict[str, int] = field(default_factory=dict)
    sync: bool = True

    def __bool__(self) -> bool:
        return bool(self.persist or self.reset or self.sends or self.execute or self.replies
                    or self.fetch or self.dropped)
