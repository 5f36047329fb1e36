"""How commands become durable and reach the state machine in order.

``Log`` is what the leader uses (``propose``/``open``/``close``/``status``); ``LogStorage`` is
what a consensus core needs from disk; ``Applier`` is the state machine side. Implementations:
``SingleNodeLog`` over ``WalStorage`` (fsync'd segments + ``SnapshotStore``).
"""

from .base import Applier, Entry, HardState, Log, LogStorage, Snapshot, SnapshotMeta
from .singlenode import SingleNodeLog
from .snapstore import SnapshotCorrupt, SnapshotStore
from .wal import WalStorage

__all__ = ["Applier", "Entry", "HardState", "Log", "LogStorage", "SingleNodeLog", "Snapshot",
           "SnapshotCorrupt", "SnapshotMeta", "SnapshotStore", "WalStorage"]
