"""Four real ``uqo serve --consensus pbft`` processes: the primary leads the orchestrator, a
write through a follower is forwarded and read linearizably everywhere (the SDK's writes
confirmed by a reply quorum of f+1), the PBFT metrics are on /metrics, and after kill -9 of
the primary the next view's primary leads and writes go on.
Authentication is off as in the etcd replica tests (``ReplicaCluster``'s FAST settings)."""

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import aiohttp
import msgspec
import pytest
from aiohttp import web
from uqo.control.client.procs import ServerProcess
from uqo.control.client.replicas import FAST
from uqo.control.errors import ControlError
from uqo.control.pbft.cluster import make_cluster, open_replica_signer, tls_contexts
from uqo.control.pbft.launch import free_port_block
from uqo.control.pbft.messages import Prepare, encode_signed, sign
from uqo.control.sdk.client import UnifiedOrchestrator

from .loopback import serve

N = 4


def http(method, url, body=None, timeout=15):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)
    except OSError as e:
        return 0, str(e).encode(), {}


def consensus(url):
    status, body, _ = http("GET", f"{url}/v1/status", timeout=3)
    return json.loads(body)["consensus"] if status == 200 else None


def wait_leader(urls, alive, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for i in alive:
            c = consensus(urls[i])
            if c and c["is_leader"]:
                return i, c
        time.sleep(0.1)
    raise TimeoutError("no replica leads: " + json.dumps([consensus(urls[i]) for i in alive]))


def dropped(url) -> dict[str, float]:
    """``uqo_pbft_dropped_messages_total`` by reason, from the replica's /metrics."""
    _, text, _ = http("GET", f"{url}/metrics")
    out = {}
    for line in text.decode().splitlines():
        if line.startswith("uqo_pbft_dropped_messages_total{"):
            labels, value = line.rsplit(" ", 1)
            out[labels.split('reason="')[1].split('"')[0]] = float(value)
    return out


def send_bad_messages(spec, target: int, signer_at: int, claimed: int) -> None:
    """Junk, and a well-formed PREPARE claiming to be from ``claimed`` but signed with
    ``signer_at``'s key, posted by ``signer_at`` (a replica of the group: mutual TLS passes).
    Its sequence number is one no batch holds yet: a vote for a slot already prepared here is
    skipped unverified (``PbftCore._needless_vote``) and would not count as a bad signature."""
    names = spec.names
    signer = open_replica_signer(spec, names[signer_at])
    forged = encode_signed(sign(signer, Prepare(0, 200, b"\x01" * 32, claimed)))
    signer.close()
    _, client_ssl = tls_contexts(spec, names[signer_at])
    batch = msgspec.msgpack.encode([b"\xc1junk", os.urandom(40), forged])
    req = urllib.request.Request(spec.replicas[names[target]] + "/pbft/v1/msgs", data=batch,
                                 method="POST")
    with urllib.request.urlopen(req, timeout=10, context=client_ssl) as r:
        assert r.status == 204


def submit(url, task_id, timeout=60.0):
    """POST until accepted (503 while a view changes carries Retry-After)."""
    deadline = time.monotonic() + timeout
    while True:
        status, body, headers = http("POST", f"{url}/v1/tasks", {"task_id": task_id})
        if status == 201 or time.monotonic() > deadline:
            return status, body, headers
        assert status in (503, 0), (status, body)
        time.sleep(0.2)


def _serve(cwd, *args):
    env = {**os.environ, "UQO_AUTH": "false", "UQO_BACKEND": "numpy", "UQO_CAPACITY": "64"}
    return subprocess.run([sys.executable, "-m", "uqo", "serve", "--port", "0", *args],
                          capture_output=True, text=True, timeout=60, env=env, check=False,
                          cwd=cwd)


@pytest.fixture(scope="module")
def cluster_json(tmp_path_factory):
    spec = make_cluster(tmp_path_factory.mktemp("flags") / "g", N, 7401, api_port=8081)
    return os.path.join(spec.root, "cluster.json")


@pytest.mark.parametrize(("args", "needle"), [
    (["--consensus", "pbft", "--replica-id", "replica-1"], "--consensus pbft needs --peers"),
    (["--consensus", "pbft", "--peers", "/nonexistent.json", "--replica-id", "replica-1"],
     "--peers '/nonexistent.json': no such file"),
    (["--consensus", "pbft", "--peers", "{cj}", "--replica-id", "replica-9"],
     "--replica-id 'replica-9': expected one of replica-1, replica-2"),
    (["--consensus", "pbft", "--peers", "{cj}", "--replica-id", "replica-1", "--etcd",
      "http://127.0.0.1:2379"], "choose one"),
    (["--peers", "{cj}", "--replica-id", "replica-1"], "--peers needs --consensus pbft"),
    (["--consensus", "etcd"], "--consensus etcd needs --etcd"),
])
def test_bad_pbft_flags_are_refused_by_name(tmp_path, cluster_json, args, needle):
    out = _serve(tmp_path, *[a.replace("{cj}", cluster_json) for a in args],
                 "--data-dir", str(tmp_path / "d"))
    assert out.returncode == 2 and needle in out.stderr, out.stderr
    assert not (tmp_path / "d").exists()          # nothing was created


def test_pbft_init_writes_a_group_and_refuses_to_overwrite(tmp_path):
    run = [sys.executable, "-m", "uqo", "cluster", "pbft-init", str(tmp_path / "g"),
           "--replicas", "4", "--port", "7401", "--api-port", "8081"]
    out = subprocess.run(run, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    body = json.loads((tmp_path / "g" / "cluster.json").read_text())
    assert body["api"]["replica-3"] == "http://127.0.0.1:8083"
    assert body["replicas"]["replica-1"] == "https://127.0.0.1:7401"
    assert "--consensus pbft --peers" in out.stdout
    again = subprocess.run(run, capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 2 and "already holds a cluster.json" in again.stderr
    bad = subprocess.run(run[:-6] + ["--replicas", "3"], capture_output=True, text=True,
                         timeout=120, check=False)
    assert bad.returncode == 2 and "--replicas 3" in bad.stderr


async def dropping_front(target: str, seen: list):
    """A Byzantine replica's API, standing in for ``target`` (no build of ``uqo serve`` lies,
    so this front is a stand-in, named as such): reads pass through to the real replica; a
    write is answered 201 with a fabricated result and never forwarded (its key in ``seen``).
    Returns the runner and the front's URL."""
    async def handle(request: web.Request) -> web.Response:
        if request.method != "GET":
            seen.append(request.headers.get("Idempotency-Key"))
            return web.json_response({"task_id": "fabricated", "state": "pending"}, status=201)
        async with aiohttp.ClientSession() as session, session.get(
                target + request.path_qs, headers={"Accept": request.headers["Accept"]}) as r:
            return web.Response(body=await r.read(), status=r.status,
                                content_type=r.content_type)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return await serve(app)


def sdk_writes_are_confirmed_by_f_plus_1(urls):
    """The SDK with ``reply_quorum=f+1`` (2 of 4): a submit, a registration and a
    deregistration return only once two replicas hold the result (docs/pbft.md). The agent
    leaves again, so no assignment adds later log entries."""
    async def run():
        async with UnifiedOrchestrator(urls, reply_quorum=2, confirm_timeout_s=60) as sdk:
            assert await sdk.submit_task("via the sdk", priority=3, task_id="pb-sdk") == "pb-sdk"
            record = await sdk.get_task("pb-sdk")
            assert record["description"] == "via the sdk" and record["priority"] == 3
            agent = await sdk.register_agent("pb-agent", capabilities={"gpu"}, capacity=2)
            assert agent["agent_id"] == "pb-agent" and agent["capacity"] == 2
            assert (await sdk.deregister_agent("pb-agent"))["agent_id"] == "pb-agent"
            with pytest.raises(ControlError) as err:
                await sdk.get_agent("pb-agent")
            assert err.value.status == 404
        # the first endpoint drops writes: resent under the same key, applied once
        seen: list = []
        runner, front = await dropping_front(urls[0], seen)
        try:
            async with UnifiedOrchestrator([front, *urls[1:]], reply_quorum=2,
                                           confirm_timeout_s=5) as sdk:
                assert await sdk.submit_task("resent", task_id="pb-resent") == "pb-resent"
                assert len(seen) == 1 and sdk.failovers == 1
                listed = await sdk.list_tasks()
        finally:
            await runner.cleanup()
        assert [t["task_id"] for t in listed["items"]].count("pb-resent") == 1
    asyncio.run(run())


@pytest.fixture
def group(tmp_path):
    base = free_port_block(2 * N)
    spec = make_cluster(tmp_path / "group", N, base, api_port=base + N)
    path = os.path.join(spec.root, "cluster.json")
    procs = [ServerProcess(str(tmp_path / name), settings=FAST, port=base + N + i,
                           timeout_s=120,
                           args=("--consensus", "pbft", "--peers", path, "--replica-id", name))
             for i, name in enumerate(spec.names)]
    with ThreadPoolExecutor(N) as pool:
        list(pool.map(lambda p: p.start(), procs))
    try:
        yield spec, procs, [spec.api[n] for n in spec.names]
    finally:
        for p in procs:
            if p.proc is not None and p.proc.poll() is None:
                p.kill()


@pytest.mark.slow
def test_serve_runs_the_control_plane_on_pbft(group):
    spec, procs, urls = group
    leader, c = wait_leader(urls, range(N))
    assert c["mode"] == "pbft" and c["primary"] == spec.names[leader]
    assert c["view"] == 0 and c["replicas"] == spec.names
    roles = [consensus(u)["role"] for u in urls]
    assert roles.count("leader") == 1, roles

    via = (leader + 1) % N                         # a follower: forwards to the primary
    status, body, headers = submit(urls[via], "pb-1")
    assert status == 201 and json.loads(body)["task_id"] == "pb-1", body
    assert headers.get("X-Uqo-Leader") == urls[leader]
    for u in urls:                                 # linearizable: a PBFT barrier, then read
        status, body, _ = http("GET", f"{u}/v1/tasks/pb-1")
        assert status == 200 and json.loads(body)["task_id"] == "pb-1", (u, body)

    status, text, _ = http("GET", f"{urls[via]}/metrics")
    assert status == 200 and b"uqo_pbft_executed_seq" in text
    sdk_writes_are_confirmed_by_f_plus_1(urls)

    # malformed and wrongly signed messages at a real replica: dropped, counted, no crash
    others = [i for i in range(N) if i != via]
    send_bad_messages(spec, via, others[0], others[1])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        counts = dropped(urls[via])
        if counts.get("malformed", 0) >= 2 and counts.get("signature", 0) >= 1:
            break
        time.sleep(0.2)
    assert counts.get("malformed", 0) >= 2 and counts.get("signature", 0) >= 1, counts
    assert procs[via].proc.poll() is None
    status, body, _ = submit(urls[via], "pb-1b")
    assert status == 201, body

    procs[leader].kill()                           # kill -9 of the primary
    alive = [i for i in range(N) if i != leader]
    new, c = wait_leader(urls, alive)
    assert new != leader and c["view"] >= 1
    status, body, _ = submit(urls[alive[-1] if alive[-1] != new else alive[0]], "pb-2")
    assert status == 201, body
    for i in alive:
        status, body, _ = http("GET", f"{urls[i]}/v1/tasks/pb-2")
        assert status == 200, (i, body)
        status, body, _ = http("GET", f"{urls[i]}/v1/tasks/pb-1")
        assert status == 200, (i, body)
    applied = {consensus(urls[i])["applied_index"] for i in alive}
    assert len(applied) == 1, applied              # the same entries applied everywhere
