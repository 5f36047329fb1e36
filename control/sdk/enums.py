"""Enumerations of the SDK. ``SecurityLevel`` lives in ``uqo.security``; any int 0..3 works."""

from __future__ import annotations

from enum import IntEnum


class TaskPriority(IntEnum):
    """Task priority; higher goes first (the scheduler also ages waiting tasks)."""

    LOW = 0
    NORMAL = 1
    HIGH = 2
    CRITICAL = 3
