"""Both SDK clients implement ``OrchestratorAPI`` with the same signatures, and the HTTP
handlers and the embedded client normalise a request the same way."""

import inspect

import pytest
from uqo.control.api import schemas as s
from uqo.control.api.normalize import agent_info, task_info
from uqo.control.sdk import args as a
from uqo.control.sdk.client import UnifiedOrchestrator
from uqo.control.sdk.embedded import EmbeddedOrchestrator
from uqo.control.sdk.protocol import OrchestratorAPI

MEMBERS = sorted(name for name, value in vars(OrchestratorAPI).items()
                 if callable(value) and (not name.startswith("_") or name in (
                     "__aenter__", "__aexit__")))


def test_the_protocol_lists_the_seed_api():
    assert len(MEMBERS) >= 18
    assert {"register_agent", "submit_task", "get_system_status",
            "authenticate_user"} <= set(MEMBERS)


@pytest.mark.parametrize("cls", [UnifiedOrchestrator, EmbeddedOrchestrator])
@pytest.mark.parametrize("name", MEMBERS)
def test_client_matches_the_protocol(cls, name):
    want = inspect.signature(getattr(OrchestratorAPI, name))
    got = inspect.signature(getattr(cls, name))
    strip = lambda sig: [(p.name, p.kind, p.default) for p in sig.parameters.values()]
    assert strip(got) == strip(want), f"{cls.__name__}.{name}{got} != protocol {want}"
    assert (inspect.iscoroutinefunction(getattr(cls, name))
            == inspect.iscoroutinefunction(getattr(OrchestratorAPI, name)))


def test_both_clients_are_instances_of_the_protocol(tmp_path):
    assert isinstance(UnifiedOrchestrator("http://127.0.0.1:9"), OrchestratorAPI)
    assert isinstance(EmbeddedOrchestrator(str(tmp_path)), OrchestratorAPI)


def test_one_normalisation_for_handlers_and_sdk():
    body = a.task_body("x", required_capabilities={"b", "a"}, compartments=["z", "y"],
                       classification=2, task_id="t1")
    info = task_info(body, "ana")
    assert info.capabilities == ("a", "b") and info.compartments == ("Y", "Z")   # as accounts
    assert info.submitted_by == "ana" and info.task_id == "t1" and info.classification == 2
    anonymous = task_info(s.TaskSubmission(), None)
    assert len(anonymous.task_id) == 32 and anonymous.task_id != task_info(
        s.TaskSubmission(), None).task_id
    agent = agent_info(a.agent_body("a1", capabilities=["gpu", "cpu", "gpu"]))
    assert agent.capabilities == ("cpu", "gpu") and agent.fitness == 1.0
