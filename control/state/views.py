"""Read-side views of the state machine: records as plain dicts, filtered and paginated lists.

Use cases::

    task_view(sm.tasks["t1"])          # {"task_id": "t1", "state": "pending", ...}
    page = list_tasks(sm, state="pending", limit=100, cursor=0)
    page["items"], page["next_cursor"]  # next_cursor None at the end

Cursors are sequence numbers (submission or registration order), so a page boundary stays
valid while records are added or removed. A page scans at most ``scan_budget`` records, so a
selective filter returns a short page with a ``next_cursor`` rather than scanning everything.
``visible(record) -> bool`` (the caller's clearance, from the API's authorisation) leaves out
what the caller may not read, as if it were not there.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterator

from .machine import StateMachine
from .records import Agent, Task


def task_view(task: Task) -> dict:
    info = task.info
    return {
        "task_id": info.task_id, "state": task.state, "description": info.description,
        "priority": info.priority, "required_agents": info.required_agents,
        "required_capabilities": list(info.capabilities),
        "classification": info.classification, "compartments": list(info.compartments),
        "timeout_s": info.timeout_s, "submitted_by": info.submitted_by,
        "submitted_at": task.submitted_at, "assigned_at": task.assigned_at,
        "finished_at": task.finished_at, "agents": list(task.agents),
        "agents_done": list(task.done), "reason": task.reason, "result": task.result,
        "attempts": task.attempts, "trace": info.trace,
    }


def agent_view(agent: Agent) -> dict:
    info = agent.info
    return {
        "agent_id": info.agent_id, "capabilities": list(info.capabilities),
        "security_clearance": info.clearance, "compartments": list(info.compartments),
        "capacity": info.capacity, "failure_domain": info.failure_domain,
        "fitness": info.fitness, "registered_at": agent.registered_at,
        "assigned_tasks": list(agent.tasks),
    }


def assignment_view(task: Task) -> dict:
    """What an agent needs to run its part of ``task``."""
    info = task.info
    return {"task_id": info.task_id, "description": info.description,
            "priority": info.priority, "agents": list(task.agents),
            "required_capabilities": list(info.capabilities),
            "classification": info.classification, "assigned_at": task.assigned_at,
            "timeout_s": info.timeout_s, "trace": info.trace}


def _scan(order: list[str], seqs: list[int], table: dict, cursor: int) -> Iterator:
    """Live records after ``cursor`` in sequence order (holes of removed records skipped)."""
    for k in range(bisect_right(seqs, cursor), len(order)):
        record = table.get(order[k])
        if record is not None and record.seq == seqs[k]:
            yield record


def _page(records: Iterator, keep: Callable, view: Callable, limit: int,
          scan_budget: int) -> dict:
    items, last_seq = [], None
    for scanned, record in enumerate(records, 1):
        last_seq = record.seq
        if keep(record):
            items.append(view(record))
            if len(items) == limit:
                break
        if scanned >= scan_budget:
            break
    else:
        last_seq = None            # ran off the end: no further page
    return {"items": items, "next_cursor": last_seq}


def list_tasks(sm: StateMachine, state: str | None = None, limit: int = 100,
               cursor: int = 0, scan_budget: int = 100_000, visible=None) -> dict:
    def keep(task: Task) -> bool:
        return ((state is None or task.state == state)
                and (visible is None or visible(task)))
    records = _scan(sm.task_order, sm.task_seqs, sm.tasks, cursor)
    return _page(records, keep, task_view, limit, scan_budget)


def list_agents(sm: StateMachine, capability: str | None = None,
                min_clearance: int | None = None, failure_domain: str | None = None,
                limit: int = 100, cursor: int = 0, scan_budget: int = 100_000,
                visible=None) -> dict:
    def keep(agent: Agent) -> bool:
        info = agent.info
        return ((capability is None or capability in info.capabilities)
                and (min_clearance is None or info.clearance >= min_clearance)
                and (failure_domain is None or info.failure_domain == failure_domain)
                and (visible is None or visible(agent)))
    records = _scan(sm.agent_order, sm.agent_seqs, sm.agents, cursor)
    return _page(records, keep, agent_view, limit, scan_budget)
