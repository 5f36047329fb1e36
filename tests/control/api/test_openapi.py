"""The OpenAPI document: valid OpenAPI 3.1, one operation per installed route and back, and
response schemas that the views really produce."""

import msgspec
from openapi_spec_validator import validate
from uqo.control.api import schemas as s
from uqo.control.api.app import build_app
from uqo.control.api.openapi import build_openapi
from uqo.control.config import load_config
from uqo.control.leader.service import Orchestrator
from uqo.control.state.commands import AgentInfo, Assign, RegisterAgent, SubmitTasks, TaskInfo
from uqo.control.state.machine import StateMachine
from uqo.control.state.views import agent_view, assignment_view, list_tasks, task_view


def test_document_is_valid_openapi():
    doc = build_openapi()
    validate(doc)
    assert doc["openapi"].startswith("3.1")


def test_every_route_is_documented_and_every_operation_is_routed(tmp_path):
    app = build_app(Orchestrator(load_config(overrides={"data_dir": str(tmp_path)})))
    routed = {(r.method.lower(), r.resource.canonical) for r in app.router.routes()
              if r.method != "HEAD"}
    doc = build_openapi()
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert routed == documented
    for path, ops in doc["paths"].items():
        for op in ops.values():
            names = {p["name"] for p in op["parameters"] if p["in"] == "path"}
            assert names == {seg[1:-1] for seg in path.split("/") if seg.startswith("{")}
            assert any(code.startswith("2") for code in op["responses"])


def test_request_schemas_refuse_what_the_document_refuses():
    doc = build_openapi()
    reg = doc["components"]["schemas"]["AgentRegistration"]
    assert reg["additionalProperties"] is False and reg["required"] == ["agent_id"]
    assert reg["properties"]["security_clearance"]["maximum"] == 3


def test_views_match_the_documented_response_schemas():
    sm = StateMachine()
    sm.apply(1, 1, RegisterAgent(at=1.0, agent=AgentInfo("a1", ("x",), failure_domain="r1")))
    sm.apply(2, 1, SubmitTasks(at=2.0, tasks=(TaskInfo("t1", "d", timeout_s=3.0),)))
    sm.apply(3, 1, Assign(at=3.0, placements=(("t1", ("a1",)),)))
    pairs = [(task_view(sm.tasks["t1"]), s.TaskView), (agent_view(sm.agents["a1"]), s.AgentView),
             (assignment_view(sm.tasks["t1"]), s.Assignment), (list_tasks(sm), s.TaskPage)]
    for view, kind in pairs:
        msgspec.convert(view, type=kind, strict=True)      # types agree
        assert set(view) == set(kind.__struct_fields__)    # and no field is missing or extra


def test_the_writes_that_log_a_command_document_the_idempotency_key():
    doc = build_openapi()
    keyed = {op["operationId"]: op for item in doc["paths"].values() for op in item.values()
             if any(p["name"] == "Idempotency-Key" for p in op.get("parameters", ()))}
    assert set(keyed) == {"registerAgent", "deregisterAgent", "reportOutcome", "submitTask",
                          "submitTasks", "cancelTask"}
    for op in keyed.values():
        assert {"400", "409", "422"} <= op["responses"].keys()
        ok = next(r for code, r in op["responses"].items() if code.startswith("2"))
        assert "Idempotent-Replayed" in ok["headers"]
