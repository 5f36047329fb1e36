"""The ``Log`` interface: how commands become durable and reach the state machine in order.

Two halves, as in etcd's raft (``Storage`` below, ``Node`` above):

* ``LogStorage``: what a consensus core needs from disk. Entries carry a ``term`` and an
  ``index``; a ``HardState`` (current term, vote, commit index) is saved before any message
  depending on it is sent; a snapshot (``SnapshotMeta`` + state bytes) replaces a log prefix,
  which ``compact`` then drops. ``uqo.control.wal.WalStorage`` implements it with fsync.
* ``Log``: what the service uses. ``propose`` hands over command payloads and resolves, once
  they are committed and applied, with the state machine's result for each, in log order. The
  single-node ``uqo.control.singlenode.SingleNodeLog`` commits on its own fsync; a Raft log
  later commits on a quorum's, behind this same interface.

``Applier`` is the state machine side: ``apply(entry)`` in index order, ``snapshot()`` of the
applied state and ``restore(snapshot)``.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Entry:
    """One log entry: ``data`` is an encoded command (``uqo.control.state.commands``)."""

    term: int
    index: int
    data: bytes


@dataclass(frozen=True, slots=True)
class HardState:
    """Raft's persistent state: saved before answering a vote or acknowledging entries."""

    term: int = 0
    vote: str | None = None
    commit: int = 0


@dataclass(frozen=True, slots=True)
class SnapshotMeta:
    """The last entry a snapshot covers (``index``, ``term``); ``index`` 0 means none."""

    index: int = 0
    term: int = 0


@dataclass(frozen=True, slots=True)
class Snapshot:
    meta: SnapshotMeta
    data: bytes = field(repr=False)


class LogStorage(abc.ABC):
    """Durable entries, hard state and snapshots. Methods are blocking (run them in an
    executor); a method that returns has made its change durable."""

    @abc.abstractmethod
    def initial_state(self) -> tuple[HardState, SnapshotMeta]:
        """The hard state and the latest snapshot's metadata found on open."""

    @abc.abstractmethod
    def first_index(self) -> int:
        """Index of the first entry still held (snapshot index + 1 after compaction)."""

    @abc.abstractmethod
    def last_index(self) -> int:
        """Index of the last entry held, or the snapshot's index when none follows it."""

    @abc.abstractmethod
    def term(self, index: int) -> int:
        """Term of the entry at ``index`` (the snapshot's term at its index)."""

    @abc.abstractmethod
    def entries(self, lo: int, hi: int) -> list[Entry]:
        """Entries with ``lo <= index < hi``."""

    @abc.abstractmethod
    def append(self, entries: Sequence[Entry]) -> None:
        """Append (after truncating any held entries at or after ``entries[0].index``) and
        fsync. Indexes must be consecutive and follow ``first_index() - 1`` or a held entry."""

    @abc.abstractmethod
    def set_hard_state(self, state: HardState) -> None:
        """Persist ``state`` atomically."""

    @abc.abstractmethod
    def save_snapshot(self, snapshot: Snapshot) -> None:
        """Persist ``snapshot`` atomically; older snapshots may then be dropped."""

    @abc.abstractmethod
    def load_snapshot(self) -> Snapshot | None:
        """The latest snapshot, or None."""

    @abc.abstractmethod
    def compact(self, index: int) -> None:
        """Drop entries up to ``index`` (covered by a saved snapshot)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release files. Everything appended before is durable already."""


class Applier(Protocol):
    """The state machine as the log drives it."""

    def apply(self, entry: Entry) -> Any:
        """Apply ``entry``; raise ``ControlError`` (before changing anything) to refuse it."""

    def snapshot(self) -> Snapshot:
        """A snapshot of everything applied so far."""

    def restore(self, snapshot: Snapshot) -> None:
        """Replace the state with ``snapshot``'s."""


class Log(abc.ABC):
    """Ordered, durable, replicated (or not) delivery of commands to an ``Applier``."""

    @abc.abstractmethod
    async def open(self, applier: Applier) -> None:
        """Recover: restore the latest snapshot and apply every committed entry after it."""

    @abc.abstractmethod
    async def propose(self, payloads: Sequence[bytes]) -> list[Any]:
        """Append ``payloads`` as consecutive entries; return when they are committed and
        applied, with each entry's result or the ``ControlError`` it was refused with."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop accepting proposals, finish the ones in flight, sync and release files."""

    @abc.abstractmethod
    def status(self) -> dict:
        """Plain numbers for ``/v1/status`` (``consensus`` section) and metrics."""

    @property
    @abc.abstractmethod
    def is_leader(self) -> bool:
        """Whether proposals made here can commit (always true for a single node)."""
