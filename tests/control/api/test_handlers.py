"""The HTTP API end to end on a real socket: happy paths, negotiation, and refusals that name
the field and change nothing."""

import asyncio

import msgspec
import pytest

MSGPACK = {"Content-Type": "application/msgpack", "Accept": "application/msgpack"}


async def _json(resp, status):
    body = await resp.json()
    assert resp.status == status, body
    return body


async def _register(client, agent_id, **extra):
    body = {"agent_id": agent_id, "capabilities": ["general"], **extra}
    return await client.post("/v1/agents", json=body)


async def _wait_state(client, task_id, state, timeout=5.0):
    for _ in range(int(timeout / 0.01)):
        task = await (await client.get(f"/v1/tasks/{task_id}")).json()
        if task["state"] == state:
            return task
        await asyncio.sleep(0.01)
    raise AssertionError(f"task {task_id} stuck in {task['state']}")


async def test_agent_registration_is_idempotent_and_conflicts_name_the_field(client):
    assert (await _register(client, "a1")).status == 201
    assert (await _register(client, "a1")).status == 200          # same spec: no change
    err = await _json(await _register(client, "a1", capacity=3), 409)
    assert err["error"]["code"] == "agent_exists" and err["error"]["field"] == "agent_id"
    agent = await _json(await client.get("/v1/agents/a1"), 200)
    assert agent["capacity"] == 1 and agent["capabilities"] == ["general"]


async def test_task_lifecycle_over_http(client):
    for i in range(3):
        await _register(client, f"a{i}")
    resp = await client.post("/v1/tasks", json={"task_description": "analyze",
                                                "required_agents": 2,
                                                "required_capabilities": ["general"]})
    task_id = (await _json(resp, 201))["task_id"]
    task = await _wait_state(client, task_id, "assigned")
    assert len(task["agents"]) == 2
    for agent in task["agents"]:
        work = await _json(await client.get(f"/v1/agents/{agent}/assignments"), 200)
        assert [w["task_id"] for w in work] == [task_id]
        await _json(await client.post(f"/v1/agents/{agent}/outcomes",
                                      json={"task_id": task_id, "success": True,
                                            "result": "42"}), 200)
    done = await _json(await client.get(f"/v1/tasks/{task_id}"), 200)
    assert done["state"] == "completed" and done["result"] == "42"
    err = await _json(await client.post(f"/v1/tasks/{task_id}/cancel"), 409)
    assert err["error"]["code"] == "invalid_transition"


async def test_long_poll_returns_when_work_arrives(client):
    await _register(client, "solo")
    poll = asyncio.create_task(client.get("/v1/agents/solo/assignments?wait=5"))
    await asyncio.sleep(0.1)
    assert not poll.done()
    await client.post("/v1/tasks", json={"task_id": "t-poll",
                                         "required_capabilities": ["general"]})
    resp = await asyncio.wait_for(poll, 3)
    assert [w["task_id"] for w in await resp.json()] == ["t-poll"]


async def test_msgpack_in_and_out(client):
    body = msgspec.msgpack.encode({"agent_id": "mp", "capabilities": ["x"]})
    resp = await client.post("/v1/agents", data=body, headers=MSGPACK)
    assert resp.status == 201 and resp.content_type == "application/msgpack"
    assert msgspec.msgpack.decode(await resp.read())["agent_id"] == "mp"
    resp = await client.get("/v1/agents/nobody", headers={"Accept": "application/msgpack"})
    assert resp.status == 404
    assert msgspec.msgpack.decode(await resp.read())["error"]["code"] == "agent_not_found"


async def test_batch_is_all_or_nothing(client):
    ok = await client.post("/v1/tasks/batch", json={"tasks": [{"task_id": "b1"},
                                                              {"task_id": "b2"}]})
    assert (await _json(ok, 201))["task_ids"] == ["b1", "b2"]
    bad = await client.post("/v1/tasks/batch", json={"tasks": [{"task_id": "b3"},
                                                               {"task_id": "b1"}]})
    err = await _json(bad, 409)
    assert err["error"]["field"] == "tasks[1].task_id"
    assert (await client.get("/v1/tasks/b3")).status == 404


@pytest.mark.parametrize("method, path, kwargs, status, code, field", [
    ("POST", "/v1/agents", {"json": {"agent_id": "x", "colour": "red"}}, 400,
     "unknown_field", "colour"),
    ("POST", "/v1/agents", {"json": {"agent_id": 7}}, 400, "invalid_value", "agent_id"),
    ("POST", "/v1/tasks", {"json": {"required_agents": 0}}, 400, "invalid_value",
     "required_agents"),
    ("POST", "/v1/tasks", {"json": {"strategy": "telepathy"}}, 400, "invalid_value",
     "strategy"),
    ("POST", "/v1/tasks", {"data": b"{not json", "headers": {"Content-Type":
                                                             "application/json"}}, 400,
     "malformed_body", None),
    ("POST", "/v1/tasks", {"data": b"x=1", "headers": {"Content-Type": "text/plain"}}, 415,
     "unsupported_media_type", "Content-Type"),
    ("POST", "/v1/tasks/batch", {"json": {"tasks": []}}, 400, "invalid_value", "tasks"),
    ("GET", "/v1/tasks?state=done", {}, 400, "invalid_value", "state"),
    ("GET", "/v1/tasks/nope", {}, 404, "task_not_found", "task_id"),
    ("POST", "/v1/tasks/nope/cancel", {}, 404, "task_not_found", "task_id"),
    ("POST", "/v1/agents/ghost/heartbeat", {}, 404, "agent_not_found", "agent_id"),
    ("DELETE", "/v1/tasks", {}, 405, "method_not_allowed", None),
    ("GET", "/v2/anything", {}, 404, "not_found", None),
])
async def test_refusals_are_machine_readable_and_change_nothing(client, method, path, kwargs,
                                                                status, code, field):
    before = await (await client.get("/v1/status")).json()
    err = await _json(await client.request(method, path, **kwargs), status)
    assert (err["error"]["code"], err["error"]["field"]) == (code, field)
    assert err["error"]["message"]
    after = await (await client.get("/v1/status")).json()
    assert after["scheduler"]["tasks"] == before["scheduler"]["tasks"]
    assert after["consensus"]["commit_index"] == before["consensus"]["commit_index"]


async def test_oversize_body_is_413(client, cfg):
    big = {"task_description": "x" * (cfg.max_body_bytes + 10)}
    err = await _json(await client.post("/v1/tasks", json=big), 413)
    assert err["error"]["code"] == "body_too_large"


async def test_list_filters_and_pagination(client):
    for i in range(5):
        await _register(client, f"p{i}", security_clearance=i % 4, failure_domain="rack")
    page = await _json(await client.get("/v1/agents?limit=2"), 200)
    seen = [a["agent_id"] for a in page["items"]]
    while page["next_cursor"] is not None:
        page = await _json(await client.get(f"/v1/agents?limit=2&cursor="
                                            f"{page['next_cursor']}"), 200)
        seen += [a["agent_id"] for a in page["items"]]
    assert seen == [f"p{i}" for i in range(5)]
    high = await _json(await client.get("/v1/agents?min_clearance=2"), 200)
    assert sorted(a["agent_id"] for a in high["items"]) == ["p2", "p3"]


async def test_deregistering_requeues_and_then_404(client):
    await _register(client, "d1")
    await client.post("/v1/tasks", json={"task_id": "dt", "required_capabilities":
                                         ["general"]})
    await _wait_state(client, "dt", "assigned")
    gone = await _json(await client.delete("/v1/agents/d1"), 200)
    assert gone["requeued_tasks"] == ["dt"]
    assert (await client.get("/v1/agents/d1")).status == 404
    assert (await _json(await client.get("/v1/tasks/dt"), 200))["state"] in ("pending",
                                                                              "rejected")


async def test_health_status_and_metrics(client):
    assert (await _json(await client.get("/health/live"), 200))["status"] == "live"
    assert (await _json(await client.get("/health/ready"), 200))["status"] == "ready"
    await client.post("/v1/tasks", json={"task_id": "m1"})
    status = await _json(await client.get("/v1/status"), 200)
    assert set(status) >= {"quantum", "scheduler", "consensus", "security", "performance"}
    assert 0.0 <= status["quantum"]["global_coherence"] <= 1.0
    assert status["security"]["security_events_24h"] == 0
    text = await (await client.get("/metrics")).text()
    assert 'uqo_tasks{state="pending"}' in text or 'uqo_tasks{state="rejected"}' in text
    assert 'uqo_http_request_duration_seconds_count{method="POST",route="/v1/tasks"' in text
    assert "uqo_global_coherence" in text
    (readiness,) = [float(line.split()[1]) for line in text.splitlines()
                    if line.startswith("uqo_mean_readiness ")]
    assert 0.0 <= readiness <= 1.0                    # the believed-up probability's fleet mean
    assert 'uqo_engine_backend_info{backend="numpy"} 1.0' in text      # read off the register
    assert "uqo_engine_fallback_total 0.0" in text
    assert 'uqo_consensus_is_leader{replica="node-1"} 1.0' in text
    from uqo.kernels.nvml import gpu_telemetry

    nvml = 1.0 if gpu_telemetry()["available"] else 0.0
    assert f"uqo_gpu_nvml_available {nvml}" in text
