"""How many security events (refused logins, lockouts, denials, rejected tokens) in 24 hours.

Use cases::

    events = EventCounter(clock=time.time)
    events.seed(audit.records_since(time.time() - DAY_S))   # after a restart
    events.add(now)                                        # on each refusal
    events.count()                                         # -> int, what the status reports

An event is an audit record whose outcome is ``failure`` or ``denied``.
"""

from __future__ import annotations

import threading
import time
from collections import deque

DAY_S = 86400.0
EVENT_OUTCOMES = frozenset({"failure", "denied"})


class EventCounter:
    def __init__(self, window_s: float = DAY_S, clock=time.time):
        self.window_s, self.clock = window_s, clock
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def seed(self, records) -> None:
        for record in records:
            if record.get("outcome") in EVENT_OUTCOMES:
                self.add(float(record["ts"]))

    def add(self, ts: float) -> None:
        with self._lock:
            self._times.append(ts)

    def count(self) -> int:
        cutoff = self.clock() - self.window_s
        with self._lock:
            while self._times and self._times[0] < cutoff:
                self._times.popleft()
            return len(self._times)
