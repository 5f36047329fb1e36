"""Long-poll waiters: agents waiting for work, woken when an assignment (or removal) lands.

One ``asyncio.Event`` per waiting agent, made on demand and dropped when set, so an idle fleet
of 100,000 agents costs nothing and a wake costs one dict lookup.
"""

from __future__ import annotations

import asyncio


class Waiters:
    def __init__(self):
        self._events: dict[str, asyncio.Event] = {}
        self._closed = False

    async def wait(self, key: str, timeout_s: float) -> bool:
        """Wait until ``wake(key)`` or ``timeout_s``; True if woken."""
        if self._closed:
            return False
        event = self._events.get(key)
        if event is None:
            event = self._events[key] = asyncio.Event()
        try:
            await asyncio.wait_for(event.wait(), timeout_s)
            return True
        except TimeoutError:
            return False
        finally:
            if (self._events.get(key) is event and not event.is_set()
                    and not _has_other_waiters(event)):
                del self._events[key]

    def wake(self, key: str) -> None:
        event = self._events.pop(key, None)
        if event is not None:
            event.set()

    def release_all(self) -> None:
        """Shutting down: wake everyone now and later."""
        self._closed = True
        for event in self._events.values():
            event.set()
        self._events.clear()

    def __len__(self) -> int:
        return len(self._events)


def _has_other_waiters(event: asyncio.Event) -> bool:
    return bool(getattr(event, "_waiters", None))
