"""Issue 13's attacker probes, against a real ``uqo serve``: each was seen to succeed before the
hardening; each must fail now. docs/security.md ("Probes") lists them with what stops them.

One server for the module (its signing key on its own SoftHSM2 token); accounts are enrolled
over the admin routes and log in with TOTP codes computed from the secrets those return.
"""

import base64
import json
import os
import shutil
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from uqo.control.client.procs import ServerProcess
from uqo.control.sdk.credentials import totp_now

from ..conftest import FAST

SETTINGS = {**FAST, "log_level": "warning", "login_burst": 500, "long_poll_max_s": 0.2}
PW = "correct horse battery staple"


class Api:
    def __init__(self, srv: ServerProcess):
        self.srv, self.steps, self.tokens = srv, {}, {}

    def call(self, method, path, token=None, body=None, raw=None, headers=None):
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.srv.url + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def enrol(self, admin, user_id, role, clearance, comps=()):
        status, made = self.call("POST", "/v1/users", admin, {
            "user_id": user_id, "role": role, "clearance": clearance,
            "compartments": list(comps), **({} if role == "agent" else {"password": PW})})
        assert status == 201, made
        return {"user_id": user_id, "password": made["password"] or PW,
                "totp_secret": made["totp_secret"]}

    def login(self, record, level=None, code=None):
        body = {"user_id": record["user_id"], "password": record["password"]}
        if level is not None:
            body["clearance_required"] = level
        if record["totp_secret"] and code is not None:
            body["mfa_token"] = code
        elif record["totp_secret"]:             # a code is accepted once: the next step,
            step = max(int(time.time()) // 30, self.steps.get(record["user_id"], -1) + 1)
            while step > int(time.time()) // 30 + 1:     # waiting while it is ahead
                time.sleep(1.0)
            self.steps[record["user_id"]] = step
            body["mfa_token"] = totp_now(record["totp_secret"], step * 30)
        return self.call("POST", "/v1/auth/login", body=body)

    def token(self, record, level=None, fresh=False):
        key = (record["user_id"], level)
        if fresh or key not in self.tokens:
            status, session = self.login(record, level)
            assert status == 200, session
            self.tokens[key] = session["token"]
        return self.tokens[key]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("probes")
    srv = ServerProcess(str(base / "data"), SETTINGS,
                        args=("--audit-witness", str(base / "witness.jsonl"))).start()
    try:
        api = Api(srv)
        admin, admin0 = srv.token(3), srv.token(0)
        users = {name: api.enrol(admin, name, role, level, comps) for name, role, level, comps in (
            ("analyst-u", "analyst", 0, ()), ("analyst-u2", "analyst", 0, ()),
            ("analyst-ts", "analyst", 3, ("INTEL",)), ("operator-u", "operator", 0, ()),
            ("operator-s", "operator", 2, ()), ("agent-s", "agent", 2, ()))}
        yield api, srv, users, admin, admin0, base
    finally:
        srv.kill()


def test_an_unclassified_analyst_cannot_read_or_submit_top_secret_intel(world):
    api, _, users, *_ = world
    ts = api.token(users["analyst-ts"])
    status, _ = api.call("POST", "/v1/tasks", ts, {"task_id": "ts-intel", "classification": 3,
                                                   "compartments": ["INTEL"],
                                                   "task_description": "the crown jewels"})
    assert status == 201
    low = api.token(users["analyst-u"])
    status, body = api.call("GET", "/v1/tasks/ts-intel", low)
    assert (status, body["error"]["reason"]) == (403, "mls-read")
    assert "crown jewels" not in json.dumps(body)
    status, body = api.call("POST", "/v1/tasks", low, {"classification": 3,
                                                       "compartments": ["INTEL"]})
    assert (status, body["error"]["reason"]) == (403, "mls-write")
    _, page = api.call("GET", "/v1/tasks", low)
    assert "ts-intel" not in {t["task_id"] for t in page["items"]}


def test_an_unclassified_operator_cannot_register_a_secret_agent(world):
    api, _, users, *_ = world
    low = api.token(users["operator-u"])
    status, body = api.call("POST", "/v1/agents", low, {"agent_id": "agent-x",
                                                        "security_clearance": 2})
    assert (status, body["error"]["reason"]) == (403, "mls-read")


def test_a_secret_agent_never_receives_nor_completes_top_secret_work(world):
    api, _, users, admin, *_ = world
    op = api.token(users["operator-s"])
    status, body = api.call("POST", "/v1/agents", admin, {"agent_id": "agent-s",
                                                          "security_clearance": 3,
                                                          "capabilities": ["general"]})
    assert (status, body["error"]["reason"]) == (403, "agent-account")   # above its account
    status, _ = api.call("POST", "/v1/agents", op, {"agent_id": "agent-s",
                                                    "security_clearance": 2,
                                                    "capabilities": ["general"]})
    assert status == 201
    ts = api.token(users["analyst-ts"])
    status, _ = api.call("POST", "/v1/tasks", ts, {"task_id": "ts-work", "classification": 3,
                                                   "required_capabilities": ["general"]})
    assert status == 201
    agent = api.token(users["agent-s"])
    for _ in range(50):
        _, task = api.call("GET", "/v1/tasks/ts-work", admin)
        if task["state"] != "pending":
            break
        time.sleep(0.05)
    assert task["state"] == "rejected" and task["agents"] == []        # nobody cleared
    assert api.call("GET", "/v1/agents/agent-s/assignments", agent) == (200, [])
    status, body = api.call("POST", "/v1/agents/agent-s/outcomes", agent,
                            {"task_id": "ts-work", "success": True})
    assert (status, body["error"]["reason"]) == (403, "mls-read")


def test_analysts_cancel_only_their_own_tasks(world):
    api, _, users, *_ = world
    mine, theirs = api.token(users["analyst-u"]), api.token(users["analyst-u2"])
    assert api.call("POST", "/v1/tasks", mine, {"task_id": "mine"})[0] == 201
    status, body = api.call("POST", "/v1/tasks/mine/cancel", theirs)
    assert (status, body["error"]["reason"]) == (403, "owner")
    assert api.call("POST", "/v1/tasks/mine/cancel", mine)[0] == 200


def test_administration_is_for_admins_only_and_every_refusal_is_audited(world):
    api, srv, users, *_ = world
    low = api.token(users["analyst-u"])
    for method, path in (("GET", "/v1/users"), ("POST", "/v1/keys/rotate"),
                         ("GET", "/v1/compliance"), ("POST", "/v1/users/admin/disable")):
        status, body = api.call(method, path, low, {} if method == "POST" else None)
        assert (status, body["error"]["reason"]) == (403, "role"), path
    records = _audit(srv.data_dir)
    denied = [r for r in records if r["kind"] == "authz.decision" and r["actor"] == "analyst-u"]
    assert len(denied) >= 4 and all(r["outcome"] == "denied" for r in denied)


def _audit(data_dir):
    out = []
    with open(os.path.join(data_dir, "security", "audit", "log.jsonl"), "rb") as fh:
        for line in fh:
            if not line.startswith(b"anchor "):
                out.append(json.loads(line.split(b" ", 1)[1]))
    return out


def test_keys_live_on_the_token_and_nothing_in_the_data_dir_opens_them(world):
    api, srv, _, admin, *_ = world
    _, keys = api.call("GET", "/v1/keys", admin)
    assert keys["signer"]["backend"] == "pkcs11" and keys["signer"]["non_extractable"]
    assert keys["countersigner"]["algorithm"] == "ml-dsa-65"
    sec = os.path.join(srv.data_dir, "security")
    assert not any(n.startswith("keystore") for n in os.listdir(sec))
    record = json.loads(_read(os.path.join(sec, "signer.json")))
    data = os.path.abspath(srv.data_dir)
    assert os.path.commonpath([record["pin_file"], data]) != data     # the PIN lives elsewhere
    pin = _read(record["pin_file"]).strip()
    for root, _, files in os.walk(srv.data_dir):
        for name in files:
            assert pin.encode() not in _read(os.path.join(root, name), "rb")


def _read(path, mode="r"):
    with open(path, mode) as fh:
        return fh.read()


def test_the_bootstrap_credential_is_gone_and_the_data_dir_is_private(world):
    _, srv, *_ = world
    assert not os.path.exists(os.path.join(srv.data_dir, "admin-credential.json"))
    for name in ("", "wal", "snap", "security", "tls", "security/audit"):
        mode = stat.S_IMODE(os.stat(os.path.join(srv.data_dir, name)).st_mode)
        assert mode == 0o700, (name, oct(mode))


def test_no_500s_from_the_reported_inputs(world):
    api, _, users, *_ = world
    record = users["analyst-u2"]
    status, body = api.login(record, code="１２３４５６")              # right password
    assert (status, body["error"]["code"]) == (401, "invalid_credentials")
    kid = base64.urlsafe_b64encode(json.dumps({"jti": "j", "sub": "s", "iat": 1, "exp": 2,
                                               "kid": ["a"]}).encode()).decode().rstrip("=")
    status, body = api.call("GET", "/v1/status", f"uqo1.{kid}.AAAA")
    assert (status, body["error"]["code"]) == (401, "token_invalid")
    deep = b'{"user_id": "a", "password": "p", "clearance_required": 1.0, "x": ' + \
        b"[" * 20000 + b"]" * 20000 + b"}"
    status, body = api.call("POST", "/v1/auth/login", raw=deep)
    assert (status, body["error"]["code"]) == (400, "malformed_body")


def test_a_wrong_code_reads_like_a_wrong_password(world):
    api, _, users, *_ = world
    record = users["analyst-u2"]
    wrong_code = api.login(record, code="000000")
    wrong_password = api.login({**record, "password": "not the password"})
    assert wrong_code == wrong_password == (401, {"error": {
        "code": "invalid_credentials", "message": "invalid user or password", "field": None}})


def test_unknown_names_lock_out_exactly_like_real_ones(world):
    api, _, _, admin, *_ = world
    api.enrol(admin, "analyst-lock", "analyst", 0)
    for name in ("nobody-at-all", "analyst-lock"):
        answers = [api.login({"user_id": name, "password": "guess guess guess",
                              "totp_secret": None})[1]["error"]["code"] for _ in range(6)]
        assert answers == ["invalid_credentials"] * 5 + ["account_locked"], name


def test_garbage_tokens_are_counted_not_each_written(world):
    api, srv, _, admin, *_ = world
    before = sum(r["kind"] == "auth.token" for r in _audit(srv.data_dir))
    _, status = api.call("GET", "/v1/status", admin)
    events = status["security"]["security_events_24h"]
    t0 = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda i: api.call("GET", "/v1/status", f"uqo1.junk{i}.x")[0],
                              range(3000)))
    elapsed = time.monotonic() - t0
    assert set(codes) == {401}
    time.sleep(0.5)                                   # the sampled records reach the disk
    written = sum(r["kind"] == "auth.token" for r in _audit(srv.data_dir)) - before
    assert written >= 1                               # sampled, not silenced
    assert written <= 10 + elapsed + 1                # the burst, then ~1 a second
    _, status = api.call("GET", "/v1/status", admin)
    assert status["security"]["security_events_24h"] - events <= written
    metrics = urllib.request.urlopen(srv.url + "/metrics", timeout=30).read().decode()
    line = next(m for m in metrics.splitlines()
                if m.startswith('uqo_auth_failures_total{code="token_invalid"}'))
    assert float(line.split()[-1]) >= 3000


def test_tokens_die_with_the_account_now_and_across_restarts(world):
    api, srv, users, admin, _, base = world
    record = users["analyst-u"]
    token, kept = api.token(record, fresh=True), api.token(users["operator-u"])
    assert api.call("POST", "/v1/users/analyst-u/disable", admin)[0] == 200
    assert api.call("GET", "/openapi.json", token)[0] == 401
    srv.terminate()
    again = ServerProcess(srv.data_dir, SETTINGS).start()
    api.srv = again
    try:
        assert api.call("GET", "/openapi.json", token)[0] == 401
        assert api.call("GET", "/openapi.json", kept)[0] == 200     # others unaffected
        assert api.call("POST", "/v1/users/analyst-u/enable", admin)[0] == 200
        assert api.call("GET", "/openapi.json", token)[0] == 401    # enabling revives none
        fresh = api.token(record, fresh=True)
    finally:
        again.terminate()
    _cli("users", "revoke", "analyst-u", "--data-dir", os.path.join(srv.data_dir, "security"),
         env=again._env())
    shutil.copy(os.path.join(srv.data_dir, "security", "audit", "log.jsonl"), base / "copy")
    third = ServerProcess(srv.data_dir, SETTINGS).start()
    api.srv = third
    try:
        assert api.call("GET", "/openapi.json", fresh)[0] == 401    # revoked while stopped
        assert api.call("GET", "/openapi.json", kept)[0] == 200
    finally:
        third.terminate()
    witness = _cli("audit", "verify", "--data-dir", os.path.join(srv.data_dir, "security"),
                   "--witness", str(base / "witness.jsonl"), env=third._env())
    assert "INTACT" in witness and "witnessed checkpoints match" in witness


def _cli(*args, env):
    result = subprocess.run([sys.executable, "-m", "uqo", *args], capture_output=True,
                            text=True, env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout
