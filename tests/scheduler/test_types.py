import pytest
from uqo.control.scheduler import AgentSpec, TaskSpec


@pytest.mark.parametrize("kwargs, needle", [
    ({"agent_id": ""}, "agent_id"),
    ({"capabilities": "gpu"}, "capabilities"),
    ({"clearance": 4}, "clearance"),
    ({"clearance": True}, "clearance"),
    ({"capacity": 0}, "capacity"),
    ({"fitness": float("nan")}, "fitness"),
    ({"fitness": 0.0}, "fitness"),
    ({"compartments": {1}}, "compartments"),
    ({"failure_domain": ""}, "failure_domain"),
])
def test_bad_agent_specs_name_the_field_and_value(kwargs, needle):
    base = {"agent_id": "a", "capabilities": frozenset({"x"})}
    with pytest.raises(ValueError, match=needle):
        AgentSpec(**{**base, **kwargs})


@pytest.mark.parametrize("kwargs, needle", [
    ({"required_agents": 0}, "required_agents"),
    ({"required_agents": 1.5}, "required_agents"),
    ({"classification": -1}, "classification"),
    ({"priority": -2}, "priority"),
    ({"submitted_at": float("inf")}, "submitted_at"),
    ({"strategy": "random"}, "'random'"),
    ({"task_id": None}, "task_id"),
])
def test_bad_task_specs_name_the_field_and_value(kwargs, needle):
    base = {"task_id": "t", "required_agents": 1}
    with pytest.raises(ValueError, match=needle):
        TaskSpec(**{**base, **kwargs})


def test_sets_are_frozen_and_intenum_levels_are_accepted():
    import enum

    class Level(enum.IntEnum):
        SECRET = 2

    a = AgentSpec("a", {"x", "y"}, clearance=Level.SECRET)
    assert a.capabilities == frozenset({"x", "y"}) and isinstance(a.capabilities, frozenset)
    assert a.clearance == 2
    t = TaskSpec("t", 2, ["x"], classification=Level.SECRET)
    assert t.capabilities == frozenset({"x"})
