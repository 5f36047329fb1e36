"""Glue between the log and the state machine: entry bytes in, command results out.

``CommandApplier`` implements ``uqo.control.log.Applier``: it decodes each entry's command and
applies it to its ``StateMachine``, and turns the state machine's snapshot bytes into log
snapshots (and back). ``on_applied(command, result)`` lets the leader update soft state (the
scheduler, long-poll waiters) after each successful application (of the wrapped command, for
a ``Keyed`` one; not for a keyed repeat, which changed nothing); it is not called for refused
commands, nor during recovery replay (soft state is rebuilt from the state afterwards).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from uqo.control.log import Entry, Snapshot, SnapshotMeta

from . import commands
from .idempotency import Replayed
from .machine import StateMachine


class CommandApplier:
    def __init__(self, sm: StateMachine):
        self.sm = sm
        self.on_applied: Callable[[Any, Any], None] | None = None

    def apply(self, entry: Entry) -> Any:
        command = commands.decode(entry.data)
        result = self.sm.apply(entry.index, entry.term, command)
        if isinstance(command, commands.Keyed):
            if isinstance(result, Replayed):      # a repeat: nothing changed
                return result
            command = commands.decode(command.command)
        if self.on_applied is not None:
            self.on_applied(command, result)
        return result

    def snapshot(self) -> Snapshot:
        return Snapshot(SnapshotMeta(self.sm.applied_index, self.sm.applied_term),
                        self.sm.snapshot())

    def restore(self, snapshot: Snapshot) -> None:
        self.sm = StateMachine.restore(snapshot.data, self.sm.retain_terminal)
