"""Every branch that decides access, plus Bell-LaPadula against a naive oracle."""

import itertools

import pytest
from uqo.security.errors import InvalidArgument
from uqo.security.levels import Role
from uqo.security.levels import SecurityLevel as L
from uqo.security.policy import CREATE, MODIFY, READ, ROLE_ACTIONS, SELF, WRITE, decide
from uqo.security.tokens import Credential


def cred(role=Role.ANALYST, user="u1", clearance=L.SECRET, level=None, comps=()):
    return Credential("t", "jti", user, role, clearance, clearance if level is None else level,
                      frozenset(comps), 0.0, 1.0, "password+totp")


def test_seed_example_is_granted_with_a_reason():
    d = decide(cred(comps={"INTEL"}), "classified-intelligence", "analyze",
               {"classification": L.SECRET, "compartment": "INTEL"})
    assert d.allowed and d.rule == "granted"
    assert d.reason.startswith("granted: analyst 'u1' may analyze 'classified-intelligence' "
                               "(SECRET; session SECRET, compartments INTEL)")


@pytest.mark.parametrize("role, action, allowed", [
    (Role.ANALYST, "manage_users", False), (Role.ANALYST, "submit", True),
    (Role.ANALYST, "register", False), (Role.OPERATOR, "register", True),
    (Role.OPERATOR, "rotate_keys", False), (Role.ADMIN, "rotate_keys", True),
    (Role.AGENT, "submit", False), (Role.AGENT, "read", True)])
def test_role_rule(role, action, allowed):
    d = decide(cred(role), "r", action, {})
    assert d.allowed is allowed
    if not allowed:
        assert d.rule == "role" and f"role {role.value} may not {action}" in d.reason


def test_unknown_actions_are_refused():
    d = decide(cred(Role.ADMIN), "r", "launch")
    assert not d.allowed and d.rule == "role" and "unknown action 'launch'" in d.reason


def test_agents_act_only_as_themselves():
    agent = cred(Role.AGENT, user="agent-1")
    assert decide(agent, "agents", "heartbeat", {"agent_id": "agent-1"}).allowed
    other = decide(agent, "agents", "heartbeat", {"agent_id": "agent-2"})
    assert (other.allowed, other.rule) == (False, "agent-self")
    unnamed = decide(agent, "agents", "report", {})
    assert (unnamed.allowed, unnamed.rule) == (False, "agent-self")
    assert decide(agent, "tasks", "list", {}).allowed  # not agent-scoped: no name needed
    assert decide(cred(Role.OPERATOR), "agents", "heartbeat", {"agent_id": "agent-2"}).allowed


def _blp_oracle(action, level, clearance, cls):
    """Reading an object, or acting on one that exists, needs the session to dominate it
    (no read up); creating one needs level <= classification <= clearance (no write down)."""
    if action in READ or action in MODIFY:
        return level >= cls
    return level <= cls <= clearance


@pytest.mark.parametrize("action", ["read", "cancel", "complete", "register", "submit"])
def test_bell_lapadula_matches_the_oracle_for_every_level_combination(action):
    for clearance, level, cls in itertools.product(L, L, L):
        if level > clearance:
            continue
        d = decide(cred(Role.ADMIN, clearance=clearance, level=level), "r", action,
                   {"classification": cls})
        assert d.allowed == _blp_oracle(action, level, clearance, cls), (clearance, level, cls)
        if not d.allowed:
            assert d.rule == ("mls-write" if action in CREATE else "mls-read")


def test_mls_reasons_name_the_levels():
    up = decide(cred(level=L.CONFIDENTIAL), "r", "read", {"classification": L.SECRET})
    assert "session level CONFIDENTIAL does not dominate classification SECRET" in up.reason
    down = decide(cred(Role.OPERATOR), "r", "submit", {"classification": L.CONFIDENTIAL})
    assert "no write down" in down.reason
    above = decide(cred(Role.OPERATOR), "r", "submit", {"classification": L.TOP_SECRET})
    assert "above clearance SECRET" in above.reason
    acting = decide(cred(Role.OPERATOR), "r", "cancel", {"classification": L.TOP_SECRET})
    assert (acting.rule, "no read up" in acting.reason) == ("mls-read", True)


def test_analysts_change_only_what_they_own():
    mine = {"classification": 0, "owner": "u1"}
    assert decide(cred(), "tasks", "cancel", mine).allowed
    d = decide(cred(), "tasks", "cancel", {**mine, "owner": "u2"})
    assert (d.allowed, d.rule) == (False, "owner") and "'u2'" in d.reason
    assert decide(cred(), "tasks", "get", {**mine, "owner": "u2"}).allowed     # reading: MLS
    assert decide(cred(Role.OPERATOR), "tasks", "cancel", {**mine, "owner": "u2"}).allowed


def test_the_source_must_lie_in_the_accounts_allow_list_on_every_request():
    fenced = Credential("t", "jti", "u1", Role.ANALYST, L.SECRET, L.SECRET, frozenset(), 0.0,
                        1.0, "password", allowed_sources=("10.0.1.0/24",))
    assert decide(fenced, "tasks", "get", {"source": "10.0.1.7"}).allowed
    d = decide(fenced, "tasks", "get", {"source": "192.0.2.1"})
    assert (d.allowed, d.rule) == (False, "source") and "10.0.1.0/24" in d.reason
    assert decide(cred(), "tasks", "get", {"source": "192.0.2.1"}).allowed   # no list: any
    with pytest.raises(InvalidArgument, match="^context.source"):
        decide(fenced, "tasks", "get", {"source": "not-an-address"})


def test_unlabelled_resources_skip_mls_only():
    assert decide(cred(Role.OPERATOR, clearance=L.TOP_SECRET), "agents", "register", {}).allowed
    d = decide(cred(Role.OPERATOR), "agents", "register", {"compartment": "INTEL"})
    assert (d.allowed, d.rule) == (False, "compartment")


def test_compartments_are_need_to_know():
    c = cred(comps={"INTEL"})
    assert decide(c, "r", "read", {"compartments": ["intel"]}).allowed
    d = decide(c, "r", "read", {"compartment": "SIGINT", "compartments": ["INTEL", "HUMINT"]})
    assert not d.allowed and "HUMINT, SIGINT" in d.reason


@pytest.mark.parametrize("args, field", [
    (("", "read", {}), "resource"), (("r", "", {}), "action"), (("r", "read", []), "context"),
    (("r", "read", {"classification": "COSMIC"}), "context.classification"),
    (("r", "read", {"compartment": "a b"}), "context.compartment"),
    (("r", "read", {"agent_id": 7}), "context.agent_id"),
    (("r", "read", {"owner": ["a"]}), "context.owner")])
def test_bad_input_raises_naming_the_field(args, field):
    with pytest.raises(InvalidArgument, match=f"^{field}:"):
        decide(cred(), *args)


def test_every_role_has_an_action_table():
    assert set(ROLE_ACTIONS) == set(Role)
    assert ROLE_ACTIONS[Role.ANALYST] <= READ | WRITE | SELF
    assert all(SELF <= actions for actions in ROLE_ACTIONS.values())      # everyone logs out
    assert MODIFY | CREATE == WRITE and not MODIFY & CREATE
