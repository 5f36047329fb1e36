"""SDK writes under a reply quorum (issue 16, f+1): the answer of the one replica written to
is believed only once f+1 replicas hold the written record, over real sockets.

Four loopback aiohttp servers stand in for the replicas' HTTP APIs (the behaviour under test
is the SDK's confirmation, not the servers). ``Log`` is what the ordered log holds: a correct
replica's write lands there and each correct replica shows it after its own ``lag`` (catching
up with the log); the Byzantine replica answers what it likes. The real cluster's check is in
tests/pbft/test_serve.py.
"""

from __future__ import annotations

import asyncio

import msgspec
import pytest
from aiohttp import web
from uqo.control.errors import ControlError
from uqo.control.sdk.args import task_body
from uqo.control.sdk.client import UnifiedOrchestrator
from uqo.control.sdk.confirm import confirm, resend, same_task

from .loopback import serve

NOT_FOUND = {"error": {"code": "not_found", "message": "no such record", "field": None}}


class Log:
    """The replicated state: records (task or agent id -> (record, time it was ordered)) and
    the idempotency keys applied with them (key -> first result), as the real state machine
    records them (uqo.control.state.idempotency): a key ordered again is answered with its
    first result and applies nothing (``replays``)."""

    def __init__(self):
        self.records: dict[str, tuple[dict, float]] = {}
        self.keys: dict[str, dict] = {}
        self.writes = self.replays = 0
        self.sent: list[tuple[int, str | None]] = []     # (replica, Idempotency-Key) received
        self.late = asyncio.Event()                      # the "late" replica ordered its write

    def apply(self, idem: str | None, key: str, make) -> tuple[dict, bool]:
        """Order one write: the record becomes ``make(current record or None)``; returns the
        result and whether it was a replay of ``idem``."""
        if idem is not None and idem in self.keys:
            self.replays += 1
            return self.keys[idem], True
        record = make(self.records.get(key, (None, 0.0))[0])
        self.records[key] = (record, asyncio.get_running_loop().time())
        self.writes += 1
        if idem is not None:
            self.keys[idem] = record
        return record, False

    def get(self, key: str, lag: float) -> dict | None:
        record, at = self.records.get(key, (None, 0.0))
        return record if record is not None and \
            asyncio.get_running_loop().time() - at >= lag else None


def _task(body: dict, state: str = "pending") -> dict:
    return {"task_id": body["task_id"], "state": state, "description": body["task_description"],
            "priority": body["priority"], "required_agents": body["required_agents"],
            "required_capabilities": body["required_capabilities"],
            "classification": body["classification"], "compartments": body["compartments"],
            "timeout_s": 60.0, "agents": [], "agents_done": []}


def _agent(body: dict) -> dict:
    return {**body, "registered_at": 1.0, "assigned_tasks": []}


LATE_S = 0.8            # the "late" replica orders a write this long after answering it


async def _replica(log: Log, index: int, lag: float = 0.0, liar: str | None = None):
    """A correct replica (``liar`` None) or a faulty one: ``"phantom"`` answers writes with a
    fabricated result (marked ``forged``), never orders them, and shows them on its reads;
    ``"drop"`` answers as a correct replica would but never orders the write (a liar that
    never forwards it); ``"late"`` orders it ``LATE_S`` after answering; ``"forge"`` orders
    writes truthfully but answers (and reads) a falsified record; ``"down503"`` refuses every
    write with 503."""
    async def read(kind: str, key: str) -> web.Response:
        record = log.get(key, lag)
        if liar == "phantom":
            record = fake.get(key, record)
        elif liar == "forge" and record is not None:
            record = {**record, "priority": 99, "capabilities": ["root"], "state": "completed"}
        return web.json_response(record) if record else web.json_response(NOT_FOUND, status=404)

    async def write(request: web.Request, key: str, make, answer=lambda r: r,
                    status: int = 200) -> web.Response:
        """The write of ``key`` (its new record: ``make(current)``) as this replica does it."""
        idem = request.headers.get("Idempotency-Key")
        log.sent.append((index, idem))
        if liar == "down503":
            return web.json_response({"error": {"code": "unavailable", "message": "view change",
                                                "field": None}}, status=503)
        if liar == "phantom":
            fake[key] = {**make(log.get(key, 0.0)), "forged": True}
            return web.json_response(answer(fake[key]), status=status)
        if liar in ("drop", "late"):
            if liar == "late":
                async def order_late():
                    await asyncio.sleep(LATE_S)
                    log.apply(idem, key, make)
                    log.late.set()
                pending.append(asyncio.ensure_future(order_late()))
            return web.json_response(answer(make(log.get(key, 0.0))), status=status)
        record, replayed = log.apply(idem, key, make)
        return web.json_response(answer(record), status=status,
                                 headers={"Idempotent-Replayed": "true"} if replayed else {})

    async def submit(request: web.Request) -> web.Response:
        body = msgspec.msgpack.decode(await request.read())
        return await write(request, body["task_id"], lambda _: _task(body),
                           lambda r: {"task_id": r["task_id"], "state": r["state"]}, 201)

    async def batch(request: web.Request) -> web.Response:
        for body in msgspec.msgpack.decode(await request.read())["tasks"]:  # read() caches
            log.apply(None, body["task_id"], lambda _, b=body: _task(b))
        ids = [t["task_id"] for t in msgspec.msgpack.decode(await request.read())["tasks"]]
        return web.json_response({"task_ids": ["forged"] if liar else ids}, status=201)

    async def get_task(request: web.Request) -> web.Response:
        return await read("task", request.match_info["id"])

    async def get_agent(request: web.Request) -> web.Response:
        return await read("agent", request.match_info["id"])

    async def register(request: web.Request) -> web.Response:
        body = msgspec.msgpack.decode(await request.read())
        response = await write(request, body["agent_id"], lambda _: _agent(body))
        return await read("agent", body["agent_id"]) if liar == "forge" else response

    async def cancel(request: web.Request) -> web.Response:
        return await write(request, request.match_info["id"],
                           lambda current: {**current, "state": "cancelled"})

    fake: dict[str, dict] = {}
    pending: list[asyncio.Future] = []
    app = web.Application()
    app.router.add_post("/v1/tasks", submit)
    app.router.add_post("/v1/tasks/batch", batch)
    app.router.add_post("/v1/agents", register)
    app.router.add_post("/v1/tasks/{id}/cancel", cancel)
    app.router.add_get("/v1/tasks/{id}", get_task)
    app.router.add_get("/v1/agents/{id}", get_agent)
    return await serve(app)


@pytest.fixture
async def cluster():
    """``make(*modes, step=0.1)``: replica i is ``modes[i]`` (``_replica``'s ``liar``; missing:
    correct) and shows an ordered write ``i * step`` s after it was ordered, so confirming
    takes several reads. ``make("phantom")``: replica 0, the one written to, lies."""
    runners = []

    async def make(*modes: str | None, step: float = 0.1):
        log = Log()
        modes = modes + (None,) * (4 - len(modes))
        made = [await _replica(log, i, lag=i * step, liar=mode) for i, mode in enumerate(modes)]
        runners.extend(r for r, _ in made)
        return log, [url for _, url in made]
    yield make
    for runner in runners:
        await runner.cleanup()


def _client(urls, **kw) -> UnifiedOrchestrator:
    return UnifiedOrchestrator(urls, reply_quorum=2, retries=2, timeout_s=5, **kw)


async def test_an_honest_write_is_confirmed_by_f_plus_1(cluster):
    log, urls = await cluster()
    async with _client(urls) as client:
        task_id = await client.submit_task("analyze", priority=2,
                                           required_capabilities={"analysis"}, task_id="t1")
        assert task_id == "t1" and log.writes == 1
        agent = await client.register_agent("a1", capabilities={"gpu"}, capacity=2)
        assert agent["agent_id"] == "a1" and agent["capabilities"] == ["gpu"]
        ids = await client.submit_tasks([{"task_id": f"b{i}"} for i in range(3)])
        assert ids == ["b0", "b1", "b2"]
        cancelled = await client.cancel_task("t1")
        assert cancelled["state"] == "cancelled"


async def test_a_fabricated_answer_is_outvoted_and_the_write_resent(cluster):
    """The replica written to answers 200 with a fabricated result but never orders the
    write (and shows its fabrication on its own reads): f+1 correct replicas never hold it,
    so the SDK resends the same request, under the same key, to the next replica, and returns
    the record the quorum holds, not the fabrication. Each write is applied once."""
    log, urls = await cluster("phantom")
    async with _client(urls, confirm_timeout_s=0.5) as client:
        assert await client.submit_task("analyze", task_id="t1") == "t1"
        assert log.writes == 1 and client.failovers == 1
    async with _client(urls, confirm_timeout_s=0.5) as client:
        record = await client.cancel_task("t1")
    assert record["state"] == "cancelled" and "forged" not in record
    assert record == log.records["t1"][0] and log.writes == 2 and log.replays == 0
    cancels = [(i, key) for i, key in log.sent[2:]]
    assert [i for i, _ in cancels] == [0, 1] and len({key for _, key in cancels}) == 1
    async with UnifiedOrchestrator(urls, retries=1) as trusting:      # quorum 1: believed
        assert await trusting.submit_task("analyze", task_id="t2") == "t2"
    assert "t2" not in log.records


async def test_a_dropped_write_is_resent_and_applied_once(cluster):
    """The replica written to answers like a correct one but never forwards the write: it is
    resent to the next replica and confirmed there; the state holds it once."""
    log, urls = await cluster("drop")
    async with _client(urls, confirm_timeout_s=0.5) as client:
        agent = await client.register_agent("a1", capabilities={"gpu"}, capacity=2)
    assert agent["agent_id"] == "a1" and agent["capacity"] == 2
    assert log.writes == 1 and [i for i, _ in log.sent] == [0, 1]
    assert log.sent[0][1] == log.sent[1][1] is not None          # one key, both attempts


async def test_a_resend_of_an_applied_write_is_answered_as_replayed(cluster):
    """The write was ordered, but f+1 replicas show it only after the confirm window (they
    lag 0.4 s apart): the resend under the same key is answered with the first result
    (replayed) and the write is applied once."""
    log, urls = await cluster(step=0.4)
    async with _client(urls, confirm_timeout_s=0.3) as client:
        assert await client.submit_task("x", task_id="t1") == "t1"
    assert [i for i, _ in log.sent] == [0, 1] and log.writes == 1 and log.replays == 1


async def test_a_write_ordered_late_after_its_resend_is_applied_once(cluster):
    """The first replica orders the write only after the SDK gave up on it and resent it:
    the late copy carries the same key, so the state machine answers it as a replay."""
    log, urls = await cluster("late")
    async with _client(urls, confirm_timeout_s=0.3) as client:
        assert await client.submit_task("x", task_id="t1") == "t1"
    assert log.writes == 1
    await asyncio.wait_for(log.late.wait(), 10)
    assert log.writes == 1 and log.replays == 1 and len(log.keys) == 1


async def test_every_replica_failing_is_write_unconfirmed_naming_key_and_attempts(cluster):
    """Three replicas drop the write and the fourth refuses it (503): after one attempt on
    each, 503 ``write_unconfirmed`` names the key and what every attempt gave."""
    log, urls = await cluster("drop", "drop", "drop", "down503")
    async with _client(urls, confirm_timeout_s=0.2) as client:
        with pytest.raises(ControlError) as err:
            await client.submit_task("x", task_id="t9")
    assert err.value.status == 503 and err.value.code == "write_unconfirmed"
    keys = {key for _, key in log.sent}
    assert [i for i, _ in log.sent] == [0, 1, 2, 3] and len(keys) == 1
    message = err.value.message
    assert "submit of task 't9'" in message and f"Idempotency-Key {keys.pop()!r}" in message
    assert "4 attempt(s)" in message and all(url in message for url in urls)
    assert "503 unavailable" in message and log.writes == 0


async def test_a_forged_record_is_replaced_by_the_quorum_s(cluster):
    """The replica written to orders the registration but answers a falsified record: the
    client returns the record f+1 correct replicas hold, not the forgery."""
    _, urls = await cluster("forge")
    async with _client(urls) as client:
        agent = await client.register_agent("a1", capabilities={"gpu"})
    assert agent["capabilities"] == ["gpu"] and "priority" not in agent
    async with UnifiedOrchestrator(urls, retries=1) as trusting:
        assert (await trusting.register_agent("a2", capabilities={"gpu"}))["capabilities"] \
            == ["root"]


async def test_a_refused_connection_fails_over_even_for_a_cancel(cluster, unused_tcp_port):
    """Nothing listens at the first endpoint: the cancel (not idempotent) certainly never
    reached it, so it goes to the next replica and is confirmed there."""
    log, urls = await cluster()
    down = [f"http://127.0.0.1:{unused_tcp_port}"] + urls[1:]
    async with _client(down) as client:
        await client.submit_task("x", task_id="t1")
        assert (await client.cancel_task("t1"))["state"] == "cancelled"
    assert client.failovers >= 1 and log.writes == 2


async def test_a_503_on_a_cancel_moves_on_under_its_idempotency_key(cluster):
    """A 503 may come after the cancel was proposed: the SDK sends it again to the next
    replica under the same ``Idempotency-Key``, which the replicated state applies once
    (tests/control/sdk/test_failover.py shows that on a real server); submits move on too."""
    log, urls = await cluster("down503")
    async with _client(urls) as client:
        assert await client.submit_task("x", task_id="t1") == "t1"
        assert client.failovers == 1
    async with _client(urls) as client:
        assert (await client.cancel_task("t1"))["state"] == "cancelled"
        assert client.failovers == 1
    assert log.writes == 2


@pytest.mark.parametrize("bad", [0, -1.0, True, "5", float("inf"), float("nan")])
def test_confirm_timeout_is_checked(bad):
    with pytest.raises(ControlError, match="confirm_timeout_s") as err:
        UnifiedOrchestrator(["http://127.0.0.1:9000", "http://127.0.0.1:9001"], reply_quorum=2,
                            confirm_timeout_s=bad)
    assert err.value.status == 400 and err.value.field == "confirm_timeout_s"


async def test_confirm_reads_again_until_the_quorum_shows_the_write():
    """Scripted quorum answers: absent (404), then disagreeing (503), then a record missing
    the write, then the record: returned at the fourth read, not before."""
    body = task_body("x", task_id="t1")
    good = {"task_id": "t1", "description": "x", "priority": 1, "required_agents": 1,
            "required_capabilities": [], "classification": 0, "compartments": []}
    answers = [ControlError("not_found", "", 404), ControlError("no_quorum", "", 503),
               {**good, "priority": 7}, good]
    reads = []

    async def read():
        reads.append(1)
        answer = answers[len(reads) - 1]
        if isinstance(answer, ControlError):
            raise answer
        return answer
    assert await confirm(read, same_task(body), "submit", 5.0, first_s=0.001) == good
    assert len(reads) == 4
    reads.clear()
    answers[:] = [ControlError("forbidden", "", 403)]
    with pytest.raises(ControlError) as err:                   # a refusal agreed: as it is
        await confirm(read, same_task(body), "submit", 5.0)
    assert err.value.status == 403 and len(reads) == 1


async def test_resend_moves_on_only_for_transient_failures_and_unconfirmed_writes():
    """Scripted replicas: a 503 and an unconfirmed answer move on (each told to ``moved``);
    a refusal (403) is raised as it is and no later replica is tried."""
    answers = {"a": ControlError("unavailable", "", 503), "b": {"ok": "b"},
               "c": ControlError("forbidden", "no", 403), "d": {"ok": "d"}}
    sent, moved = [], []

    async def send(base):
        sent.append(base)
        if isinstance(answers[base], ControlError):
            raise answers[base]
        return answers[base]

    async def settle(answer):
        if answer["ok"] == "b":
            raise ControlError("write_unconfirmed", "w: not confirmed", 503)
        return answer
    with pytest.raises(ControlError) as err:
        await resend(list("abcd"), send, settle, "w", "k1", moved.append)
    assert err.value.status == 403 and sent == ["a", "b", "c"] and moved == ["a", "b"]
    answers["c"] = {"ok": "c"}
    sent.clear()
    assert await resend(list("abcd"), send, settle, "w", "k1") == {"ok": "c"}
    assert sent == ["a", "b", "c"]
