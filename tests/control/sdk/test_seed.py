"""The seed's Phase 2 to 4 snippets, run as written, embedded and over HTTP.

The credential is the seed's too: ``authenticate_user`` with the bootstrap administrator's
password and TOTP code (from the 0600 file the first start wrote), at session level SECRET.
``SecurityLevel`` and ``TaskPriority`` come from the package root, as the seed expects.
"""

import logging

from uqo.control.client.procs import ServerProcess
from uqo.control.sdk.credentials import read_credential_file, totp_now
from uqo.control.server.bootstrap import ADMIN_FILE

from uqo import EmbeddedOrchestrator, SecurityLevel, TaskPriority, UnifiedOrchestrator

from ..conftest import FAST

log = logging.getLogger("seed")


async def _login(unified_orchestrator, admin_file):
    record = read_credential_file(admin_file)
    authenticated, credential = await unified_orchestrator.authenticate_user(
        user_id=record["user_id"],
        credentials={"password": record["password"],
                     "mfa_token": totp_now(record["totp_secret"])},
        source_ip="127.0.0.1",
        context={"clearance_required": "SECRET"}
    )
    assert authenticated
    return credential


async def _phases(unified_orchestrator, caplog, admin_file):
    security_credential = await _login(unified_orchestrator, admin_file)

    # Phase 2: agent migration
    await unified_orchestrator.register_agent(
        agent_id="agent-1",
        capabilities={"general", "analysis"},
        security_clearance=SecurityLevel.CONFIDENTIAL
    )
    for i in range(100):                         # enough cleared agents for the SECRET task
        await unified_orchestrator.register_agent(
            agent_id=f"analyst-{i}", capabilities={"analysis", "intelligence"},
            security_clearance=SecurityLevel.SECRET)

    # Phase 3: task execution
    task_id = await unified_orchestrator.submit_task(
        task_description="analyze classified intelligence data",
        priority=TaskPriority.HIGH,
        required_agents=100,
        required_capabilities={"analysis", "intelligence"},
        classification=SecurityLevel.SECRET,
        user_credential=security_credential
    )
    task = await _until_placed(unified_orchestrator, task_id)
    assert task["state"] == "assigned" and len(task["agents"]) == 100
    assert "agent-1" not in task["agents"]       # CONFIDENTIAL may not see SECRET
    assert task["priority"] == TaskPriority.HIGH and task["classification"] == 2
    assert task["submitted_by"] == "admin"

    # Phase 4: monitoring and operations
    status = unified_orchestrator.get_system_status()

    coherence = status["quantum"]["global_coherence"]
    if coherence < 0.6:
        log.warning("Quantum coherence degraded, triggering optimization")

    security_events = status["security"]["security_events_24h"]
    if security_events > 100:
        log.critical("High security event volume detected")

    assert 0.0 <= coherence <= 1.0 and security_events == 0
    warned = any("coherence degraded" in r.message for r in caplog.records)
    assert warned == (coherence < 0.6)
    assert status["scheduler"]["tasks"]["assigned"] == 1


async def _until_placed(orch, task_id):
    import asyncio
    for _ in range(500):
        task = await orch.get_task(task_id)
        if task["state"] != "pending":
            return task
        await asyncio.sleep(0.01)
    return task


async def test_seed_phases_embedded(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="seed")
    async with EmbeddedOrchestrator(data_dir=str(tmp_path), **FAST) as unified_orchestrator:
        await _phases(unified_orchestrator, caplog, unified_orchestrator.admin_file)


async def test_seed_phases_over_http(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="seed")
    with ServerProcess(str(tmp_path), {**FAST, "log_level": "warning"}) as srv:
        async with UnifiedOrchestrator(srv.url) as unified_orchestrator:
            await _phases(unified_orchestrator, caplog, str(tmp_path / ADMIN_FILE))
            status = await unified_orchestrator.status()
            assert status["security"]["authentication"] == "enabled"
