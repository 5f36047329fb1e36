"""Every route x role x clearance x compartment, decided by the real app against a naive oracle.

The oracle below is the rule book written out by hand (issue 13; docs/security.md), not a call
to ``uqo.security.policy``: reading, listing, cancelling, completing, fetching and registering
need the session to dominate the object (no read up, need-to-know), submitting needs
level <= classification <= clearance (no write down), analysts cancel only their own tasks,
agents act only as themselves, administration is for admins. A request is refused (403) exactly
when the oracle says no; every refusal names its rule and is in the audit log; lists and status
counts hold exactly what the caller may read.
"""

import base64
import itertools
import re
import uuid
from dataclasses import dataclass

import pytest
from aiohttp.test_utils import TestClient, TestServer
from uqo.control.api.app import build_app
from uqo.control.api.routes import ROUTES
from uqo.control.config import load_config
from uqo.control.leader.service import Orchestrator
from uqo.control.state.commands import AgentInfo, TaskInfo
from uqo.security import AuthPolicy, SecurityFramework
from uqo.security.totp import code_at

from ..conftest import FAST

ROLES = ("admin", "operator", "analyst", "agent")
LABELS = ((0, ()), (2, ()), (2, ("INTEL",)), (3, ()))       # objects' (level, compartments)
PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Subject:
    role: str
    clearance: int
    level: int
    comps: tuple

    @property
    def user_id(self) -> str:
        return f"{self.role}-{self.clearance}-{self.level}-{'-'.join(self.comps) or 'none'}"


SUBJECTS = [Subject(r, c, c, comps) for r, c, comps in
            itertools.product(ROLES, range(4), ((), ("INTEL",)))]
SUBJECTS += [Subject(r, 3, 1, ("INTEL",)) for r in ROLES]     # sessions below the clearance


# ---- the oracle -----------------------------------------------------------------------------
def dominates(subj: Subject, label) -> bool:
    level, comps = label
    return subj.level >= level and set(comps) <= set(subj.comps)


def oracle(op: str, subj: Subject, label=None, own: bool = False) -> bool:
    """May ``subj`` do ``op`` on an object labelled ``label`` (``own``: the agent is the
    subject's own, or the task was submitted by it)?"""
    role = subj.role
    if op in ADMIN_OPS:
        return role == "admin"
    if op in ("openapi", "logout", "listAgents", "listTasks"):
        return True
    if op in ("getStatus", "streamStatus"):
        return role != "agent"
    if op == "listSecurityEvents":
        return role in ("admin", "operator")
    if op in ("submitTask", "submitTasks"):
        level, comps = label
        return (role != "agent" and subj.level <= level <= subj.clearance
                and set(comps) <= set(subj.comps))
    self_ok = role != "agent" or own
    rules = {
        "getTask": True,
        "cancelTask": role in ("admin", "operator") or (role == "analyst" and own),
        "registerAgent": role in ("admin", "operator"),
        "getAgent": self_ok,
        "getAssignments": self_ok,
        "deregisterAgent": role in ("admin", "operator"),
        "heartbeat": role in ("admin", "operator") or (role == "agent" and own),
        "reportOutcome": role in ("admin", "operator") or (role == "agent" and own),
    }
    return rules[op] and dominates(subj, label)


ADMIN_OPS = {"revokeToken", "listUsers", "addUser", "getUser", "removeUser", "disableUser",
             "enableUser", "unlockUser", "revokeUser", "setClearance", "getKeys", "rotateKey",
             "getCompliance"}
TASK_OPS = {"getTask", "cancelTask"}
AGENT_OPS = {"getAgent", "getAssignments", "deregisterAgent", "heartbeat", "reportOutcome"}
NEW_OPS = {"submitTask", "submitTasks", "registerAgent"}


# ---- the world ------------------------------------------------------------------------------
@pytest.fixture
async def world(tmp_path):
    cfg = load_config(overrides={**FAST, "fsync": False, "capacity": 4096,
                                 "data_dir": str(tmp_path / "data")})
    fw = SecurityFramework.for_tests(str(tmp_path / "security"),     # 36 logins from one host
                                     auth=AuthPolicy(failure_floor_s=0.0, source_burst=100))
    orch = Orchestrator(cfg)
    async with TestClient(TestServer(build_app(orch, fw), host="127.0.0.1")) as client:
        headers = {}
        for subj in SUBJECTS:
            e = fw.add_user(subj.user_id, role=subj.role, clearance=subj.clearance,
                            compartments=subj.comps, password=PASSWORD)
            body = {"user_id": subj.user_id, "password": PASSWORD,
                    "clearance_required": subj.level}
            if e.totp_secret:
                body["mfa_token"] = code_at(base64.b32decode(e.totp_secret), fw.clock())
            resp = await client.post("/v1/auth/login", json=body)
            assert resp.status == 200, await resp.text()
            headers[subj] = {"Authorization": f"Bearer {(await resp.json())['token']}"}
            if subj.role == "agent":           # its own agent, registered at its labels
                await orch.register_agent(AgentInfo(subj.user_id, ("general",), subj.clearance,
                                                    subj.comps))
        fw.add_user("victim", role="analyst", clearance=0, password=PASSWORD)
        yield client, orch, fw, headers
    fw.close()


async def _task(orch, label, owner="someone-else") -> str:
    task_id = f"t-{uuid.uuid4().hex[:12]}"
    await orch.submit_tasks([TaskInfo(task_id, "secret description", classification=label[0],
                                      compartments=label[1], submitted_by=owner,
                                      capabilities=("no-such-capability",))])
    return task_id


async def _agent(orch, label, fresh: bool = True) -> str:
    """An agent at ``label``: a new one, or (``fresh=False``) one kept for reads."""
    agent_id = f"a-{uuid.uuid4().hex[:12]}" if fresh else f"kept-{label[0]}-{len(label[1])}"
    if agent_id not in orch.sm.agents:
        await orch.register_agent(AgentInfo(agent_id, ("general",), label[0], label[1]))
    return agent_id


def _path(route, **ids) -> str:
    return re.sub(r"\{([a-z_]+)\}", lambda m: ids[m.group(1)], route.path)


async def _cases(orch, route, subj):
    """``(path, body, label, own)`` for each request the table makes of ``route``."""
    op = route.name
    if op in TASK_OPS:                           # fresh tasks: a cancel changes them
        for label, own in itertools.product(LABELS, (False, True)):
            task_id = await _task(orch, label, subj.user_id if own else "someone-else")
            yield _path(route, task_id=task_id), {}, label, own
    elif op in AGENT_OPS:
        fresh = op == "deregisterAgent"
        targets = [(label, await _agent(orch, label, fresh), False) for label in LABELS]
        if subj.role == "agent":
            targets.append(((subj.clearance, subj.comps), subj.user_id, True))
        for label, agent_id, own in targets:
            body = {}
            if op == "reportOutcome":
                body = {"task_id": await _task(orch, label), "success": True}
            if op == "deregisterAgent" and own:
                continue                           # keep the subject's own agent
            yield _path(route, agent_id=agent_id), body, label, own
    elif op in NEW_OPS:
        for label in LABELS:
            task = {"classification": label[0], "compartments": list(label[1])}
            body = {"submitTask": task, "submitTasks": {"tasks": [task, task]},
                    "registerAgent": {"agent_id": f"n-{uuid.uuid4().hex[:12]}",
                                      "security_clearance": label[0],
                                      "compartments": list(label[1])}}[op]
            yield route.path, body, label, False
    else:
        body = {"addUser": {"user_id": f"u-{uuid.uuid4().hex[:10]}", "role": "agent",
                            "clearance": 0},
                "setClearance": {"clearance": 0},
                "revokeToken": {"token_id": "some-token-id"}}.get(op, {})
        yield _path(route, user_id="victim"), body, None, False


async def test_every_route_for_every_role_clearance_and_compartment(world):
    client, orch, fw, headers = world
    refusals = made = 0
    for route in ROUTES:
        if route.access.public or route.name == "logout":
            continue
        for subj in SUBJECTS:
            async for path, body, label, own in _cases(orch, route, subj):
                resp = await client.request(route.method, path, json=body or None,
                                            headers=headers[subj])
                allowed = oracle(route.name, subj, label, own)
                made += 1
                where = (route.name, subj, label, own, resp.status)
                if allowed:
                    assert resp.status not in (401, 403), (where, await resp.text())
                    assert resp.status < 500, where
                else:
                    assert resp.status == 403, (where, await resp.text())
                    error = (await resp.json())["error"]
                    assert error["code"] == "forbidden" and error["reason"], where
                    refusals += 1
                resp.close()                # a status stream is not read to its end
    denied = [r for r in fw.audit.records_since(0)
              if r["kind"] == "authz.decision" and r["outcome"] == "denied"]
    assert made > 1500 and len(denied) == refusals > 500     # every refusal is audited
    for subj in SUBJECTS:                                     # logout: every role, its own token
        assert (await client.post("/v1/auth/logout", headers=headers[subj])).status == 200
        assert (await client.get("/openapi.json", headers=headers[subj])).status == 401


async def test_lists_and_counts_hold_exactly_what_the_caller_may_read(world):
    client, orch, _, headers = world
    for label in LABELS:
        await _task(orch, label)
        await _agent(orch, label)
    tasks = {t_id: (t.info.classification, t.info.compartments) for t_id, t in orch.sm.tasks.items()}
    agents = {a_id: (a.info.clearance, a.info.compartments) for a_id, a in orch.sm.agents.items()}
    for subj in SUBJECTS:
        page = await (await client.get("/v1/tasks?limit=1000", headers=headers[subj])).json()
        assert {t["task_id"] for t in page["items"]} == {
            t for t, label in tasks.items() if dominates(subj, label)}, subj
        page = await (await client.get("/v1/agents?limit=1000", headers=headers[subj])).json()
        assert {a["agent_id"] for a in page["items"]} == {
            a for a, label in agents.items() if dominates(subj, label)}, subj
        if subj.role == "agent":
            continue                                   # agents may not read the status
        status = await (await client.get("/v1/status", headers=headers[subj])).json()
        visible = sum(dominates(subj, label) for label in tasks.values())
        assert sum(status["scheduler"]["tasks"].values()) == visible, subj
        assert status["scheduler"]["agents"] == sum(dominates(subj, label)
                                                    for label in agents.values())


def test_the_oracle_covers_every_route():
    named = {r.name for r in ROUTES if not r.access.public}
    covered = ADMIN_OPS | TASK_OPS | AGENT_OPS | NEW_OPS | {
        "openapi", "logout", "listAgents", "listTasks", "getStatus", "streamStatus",
        "listSecurityEvents"}
    assert named == covered


def test_the_scheduler_assigns_exactly_what_the_agents_credential_may_fetch():
    """Every agent label x task label: the scheduler places the task on the agent iff the
    policy lets an agent account with those labels fetch it (so the registration rule, which
    bounds an agent's labels by its account's, makes the two agree end to end)."""
    from uqo.control.scheduler import AgentSpec, Scheduler, TaskSpec
    from uqo.security.levels import Role, SecurityLevel
    from uqo.security.policy import decide
    from uqo.security.tokens import Credential

    comps = [(), ("A",), ("B",), ("A", "B")]
    labels = list(itertools.product(range(4), comps))
    for (a_level, a_comps), (t_level, t_comps) in itertools.product(labels, labels):
        sched = Scheduler(capacity=8, strategy="round_robin", seed=0)
        sched.add_agent(AgentSpec("ag", frozenset({"x"}), a_level, frozenset(a_comps)))
        decision = sched.decide([TaskSpec("t", 1, frozenset({"x"}), t_level,
                                          frozenset(t_comps))], now=0.0)
        placed = [a.task_id for a in decision.assignments] == ["t"]
        account = Credential("", "", "ag", Role.AGENT, SecurityLevel(a_level),
                             SecurityLevel(a_level), frozenset(a_comps), 0.0, 1.0, "password")
        may = decide(account, "tasks", "fetch", {"classification": t_level,
                                                 "compartments": t_comps, "agent_id": "ag"})
        assert placed == may.allowed, ((a_level, a_comps), (t_level, t_comps), decision)
