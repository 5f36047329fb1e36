"""Health checks the leader has asked for and not yet heard back about; no I/O.

Use cases::

    book = ProbeBook(timeout_s=10.0)
    book.plan(["a3", "a7"], mono=100.0)         # the scheduler's targets after a tick
    book.deliver("a3", mono=101.0)              # {"probe_id": "p1", "deadline_s": 9.0} | None
    book.answered("a3", "p1")                   # True: a known, open probe (then closed)
    book.expired(mono=111.0)                    # ["a7"]: no answer in time (closed)

A probe reaches its agent in the response to the agent's next heartbeat (a ``probe`` field);
the agent runs its health check and sends the result with its following heartbeat
(``probe_id``, ``healthy``). A probe still open at its deadline counts as no answer, which is
evidence the agent is down. One open probe per agent; planning an agent that has one keeps it.
Probe ids are a counter: unique within one leader's term, which is all they need (a new leader
starts with an empty book and the old ids are refused).
"""

from __future__ import annotations


class ProbeBook:
    def __init__(self, timeout_s: float):
        self.timeout_s = float(timeout_s)
        self._open: dict[str, tuple[str, float]] = {}    # agent -> (probe id, deadline mono)
        self._delivered: set[str] = set()
        self._count = 0

    def __len__(self) -> int:
        return len(self._open)

    def plan(self, agent_ids, mono: float) -> None:
        for agent_id in agent_ids:
            if agent_id not in self._open:
                self._count += 1
                self._open[agent_id] = (f"p{self._count}", mono + self.timeout_s)

    def deliver(self, agent_id: str, mono: float) -> dict | None:
        """The probe to hand ``agent_id`` now (once), or None."""
        hit = self._open.get(agent_id)
        if hit is None or agent_id in self._delivered:
            return None
        self._delivered.add(agent_id)
        return {"probe_id": hit[0], "deadline_s": max(hit[1] - mono, 0.0)}

    def answered(self, agent_id: str, probe_id: str) -> bool:
        """``agent_id`` answered ``probe_id``: True (and closed) when it was open."""
        hit = self._open.get(agent_id)
        if hit is None or hit[0] != probe_id:
            return False
        self._close(agent_id)
        return True

    def expired(self, mono: float) -> list[str]:
        """Agents whose probe passed its deadline unanswered (closed now)."""
        late = [a for a, (_, deadline) in self._open.items() if deadline <= mono]
        for agent_id in late:
            self._close(agent_id)
        return late

    def forget(self, agent_id: str) -> None:
        """The agent left: its probe is dropped, not counted as unanswered."""
        self._close(agent_id)

    def _close(self, agent_id: str) -> None:
        self._open.pop(agent_id, None)
        self._delivered.discard(agent_id)
