"""``UnifiedOrchestrator``: the seed's async SDK, over HTTP (MessagePack both ways).

Use cases (the seed's own calls)::

    async with UnifiedOrchestrator("http://127.0.0.1:8080") as uo:
        await uo.register_agent(agent_id="agent-1", capabilities={"general", "analysis"},
                                security_clearance=SecurityLevel.CONFIDENTIAL)
        task_id = await uo.submit_task(task_description="analyze data",
                                       priority=TaskPriority.HIGH, required_agents=1,
                                       required_capabilities={"analysis"},
                                       classification=SecurityLevel.SECRET,
                                       user_credential=credential)
        status = uo.get_system_status()          # synchronous, as the seed calls it
        status["quantum"]["global_coherence"]

Refusals raise ``ControlError`` with the server's ``code``, ``message``, ``field`` and status.
Every call but the login is retried on transient failures with backoff and jitter: reads and
heartbeats are idempotent, and each write (registration, submits, deregistration, outcome,
cancel) sends a fresh ``Idempotency-Key`` (a UUID4) with all its attempts, so the server
applies it once and answers a retry with the first result (docs/control.md); every call passes
a circuit breaker that fails fast while the server is down. Each request is a client span whose context the
server continues (``sdk/tracing.py``; docs/tracing.md). An ``https`` server is trusted through
``ssl`` (an ``ssl.SSLContext``, e.g. ``uqo.control.server.tls.client_tls(ca=..., cert=...,
key=...)`` for an agent's mutual TLS).

Replicas: give several URLs (a list, or one comma-separated string). Calls go to one of them;
a transient failure (refused connection, timeout, 503, an open breaker) moves the client to the
next before the retry, and a 307 from a follower (``follower_writes = "redirect"``) moves it to
the leader it names. Each endpoint has its own breaker.

Byzantine replicas (``uqo serve --consensus pbft``, docs/pbft.md): ``reply_quorum=f+1``. A read
is then answered only by f+1 replicas agreeing (``quorum.py``), and a write is confirmed by
reading the written record back from f+1 replicas (``confirm.py``); the answering replica's
word is not believed. A write not confirmed within ``confirm_timeout_s``, or whose send failed
transiently, is resent under its idempotency key to the next replica, each replica once, and
confirmed again; 503 ``write_unconfirmed`` only after every replica was tried. The key is
recorded in the replicated state with the command, so a write that did land is applied once
and answered, on any replica, with its first result.
Heartbeats and logins are not replicated records and are taken from the replica that answers.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Sequence
from typing import Self

import aiohttp
import msgspec
from uqo.control.errors import ControlError
from uqo.control.state.records import TERMINAL

from . import args as a
from . import confirm as c
from .enums import TaskPriority
from .quorum import quorum_call
from .resilience import CircuitBreaker, in_flight, is_transient, not_delivered, retrying
from .tracing import client_trace_config

_MSGPACK = "application/msgpack"


def _quorum_settings(reply_quorum, confirm_timeout_s, endpoints: int) -> tuple[int, float]:
    """``reply_quorum`` and ``confirm_timeout_s`` checked (``ControlError`` 400 naming it)."""
    if isinstance(reply_quorum, bool) or not isinstance(reply_quorum, int) \
            or not 1 <= reply_quorum <= endpoints:
        raise ControlError.invalid(f"reply_quorum must be in [1, {endpoints}] "
                                   f"(the endpoints), got {reply_quorum!r}", "reply_quorum")
    if isinstance(confirm_timeout_s, bool) or not isinstance(confirm_timeout_s, int | float) \
            or not 0 < confirm_timeout_s < float("inf"):
        raise ControlError.invalid(f"confirm_timeout_s must be a number of seconds > 0, "
                                   f"got {confirm_timeout_s!r}", "confirm_timeout_s")
    return reply_quorum, confirm_timeout_s

class _Transport:
    """The HTTP side of ``UnifiedOrchestrator``: one session, one request with its headers and
    a follower's 307, failover between endpoints, a circuit breaker per endpoint. The
    attributes it reads are set by ``UnifiedOrchestrator.__init__``."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ---- one request ----------------------------------------------------------------------
    def _headers(self, credential=None, key: str | None = None) -> dict:
        headers = {"Accept": _MSGPACK, "Content-Type": _MSGPACK}
        if key is not None:
            headers["Idempotency-Key"] = key
        token = a.credential_token(credential or self.credential)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    async def _once(self, base: str, method: str, path: str, body, params, credential,
                    key=None):
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=self.timeout_s)
            connector = aiohttp.TCPConnector(ssl=self.ssl) if self.ssl is not None else None
            self._session = aiohttp.ClientSession(timeout=timeout, connector=connector,
                                                  trace_configs=[client_trace_config()])
        data = msgspec.msgpack.encode(body) if body is not None else None
        for _ in range(2):                    # a 307 from a follower: once more, at the leader
            async with self._session.request(method, base + path, data=data, params=params,
                                             headers=self._headers(credential, key),
                                             allow_redirects=False) as resp:
                raw = await resp.read()
                if resp.status == 307 and resp.headers.get("Location"):
                    base = self._follow(resp.headers["Location"])
                    continue
                payload = _decode(raw, resp.content_type)
                if resp.status >= 400:
                    raise _error(resp.status, payload)
                return payload
        raise ControlError("redirect_loop", f"{method} {path}: redirected twice", 503)

    def _follow(self, location: str) -> str:
        """Move to the leader a 307 named; its base URL."""
        url = urllib.parse.urlsplit(location)
        base = f"{url.scheme}://{url.netloc}"
        if base not in self.endpoints:
            self.endpoints.append(base)
        self.base_url = base
        return base

    def _failover(self, failed: str) -> None:
        if len(self.endpoints) > 1 and self.base_url == failed:
            i = self.endpoints.index(failed) if failed in self.endpoints else -1
            self.base_url = self.endpoints[(i + 1) % len(self.endpoints)]
            self.failovers += 1

    def _breaker(self, base: str) -> CircuitBreaker:
        if base not in self._breakers:
            self._breakers[base] = CircuitBreaker(self.breaker.failure_threshold,
                                                  self.breaker.reset_timeout_s)
        return self._breakers[base]


class UnifiedOrchestrator(_Transport):
    """An orchestrator server at ``base_url``. ``credential``: sent as a bearer token with
    every call (``user_credential`` of a call overrides it)."""

    def __init__(self, base_url: str | Sequence[str] = "http://127.0.0.1:8080", credential=None,
                 timeout_s: float = 30.0, retries: int = 4, breaker: CircuitBreaker | None = None,
                 ssl=None, reply_quorum: int = 1, confirm_timeout_s: float = 10.0):
        self.endpoints = _endpoints(base_url)
        # PBFT (docs/pbft.md): reads count only when this many replicas answer alike (f+1)
        self.reply_quorum, self.confirm_timeout_s = _quorum_settings(
            reply_quorum, confirm_timeout_s, len(self.endpoints))
        self.base_url = self.endpoints[0]
        self.credential, self.timeout_s, self.retries = credential, timeout_s, retries
        self.breaker = breaker or CircuitBreaker()
        self._breakers = {self.base_url: self.breaker}
        self.failovers = 0
        self.ssl = ssl                      # an ssl.SSLContext for https (None: defaults)
        self._session: aiohttp.ClientSession | None = None

    async def _call(self, method: str, path: str, body=None, params=None, credential=None,
                    retry: bool = True, keyed: bool = False):
        """One call, retried (``retry``) on transient failures; ``keyed``: a write, sent with
        one fresh idempotency key on every attempt, on whichever replica."""
        key = str(uuid.uuid4()) if keyed else None
        if method == "GET" and self.reply_quorum > 1:
            return await quorum_call(self.endpoints, lambda base: self._once(
                base, method, path, body, params, credential), self.reply_quorum)

        async def attempt():
            base = self.base_url
            try:
                return await self._breaker(base).call(self._once, base, method, path, body,
                                                       params, credential, key)
            except Exception as exc:
                if is_transient(exc):
                    self._failover(base)
                raise
        if not retry and self.reply_quorum == 1:
            return await attempt()
        # an unkeyed write (the login) moves on only when it was never delivered; a keyed one
        # also waits out the first attempt still running (409 idempotency_key_in_flight)
        when = _keyed_retry if keyed else is_transient if retry else not_delivered
        async for trial in retrying(attempts=self.retries, when=when):
            with trial:
                return await attempt()

    async def _write(self, method: str, path: str, body=None, credential=None,
                     settle=None, what: str = ""):
        """A keyed write. reply_quorum 1: one replica's answer (retried, ``_call``). Else
        ``settle(answer)`` once the reply quorum confirmed it, resending the same request
        under the same key to the next replica while it does not (``confirm.resend``)."""
        if self.reply_quorum == 1:
            return await self._call(method, path, body, credential=credential, keyed=True)
        key = str(uuid.uuid4())

        async def send(base):
            # the same replica again only while it still runs this key (409 in flight)
            async for trial in retrying(attempts=self.retries, when=in_flight):
                with trial:
                    return await self._breaker(base).call(self._once, base, method, path,
                                                          body, None, credential, key)
        start = self.endpoints.index(self.base_url) if self.base_url in self.endpoints else 0
        order = self.endpoints[start:] + self.endpoints[:start]
        return await c.resend(order, send, settle, what, key, self._failover)

    def _reading(self, path: str, check, what: str, credential=None, keep=False):
        """A ``settle`` for ``_write``: the record at ``path`` once f+1 replicas hold it and
        ``check`` passes (``confirm.py``); ``keep``: the write's answer instead."""
        async def settle(answer):
            record = await c.confirm(lambda: self._call("GET", path, credential=credential),
                                     check, what, self.confirm_timeout_s)
            return answer if keep else record
        return settle

    # ---- authentication -----------------------------------------------------------------
    async def authenticate_user(self, user_id: str, credentials: dict, source_ip=None,
                                context: dict | None = None) -> tuple[bool, dict | None]:
        """The seed's call, against the server: ``(True, session)`` and this client then
        sends the session's token, or ``(False, None)``. ``credentials``: ``{"password",
        "mfa_token"}``; ``context["clearance_required"]`` picks the session level. The
        server takes the source address from the connection (``source_ip`` is ignored)."""
        body = {"user_id": user_id, **(credentials or {})}
        level = (context or {}).get("clearance_required")
        if level is not None:
            body["clearance_required"] = a.level_value(level, "clearance_required")
        try:
            session = await self._call("POST", "/v1/auth/login", body, retry=False)
        except ControlError as exc:
            if exc.status == 401:
                return False, None
            raise
        self.credential = session["token"]
        return True, session

    # ---- agents -------------------------------------------------------------------------
    async def register_agent(self, agent_id: str, capabilities=(), security_clearance=0,
                             compartments=(), capacity: int = 1, failure_domain=None,
                             fitness: float = 1.0) -> dict:
        body = a.agent_body(agent_id, capabilities, security_clearance, compartments,
                            capacity, failure_domain, fitness)
        what = f"registration of agent {agent_id!r}"
        return await self._write("POST", "/v1/agents", body, what=what, settle=self._reading(
            f"/v1/agents/{agent_id}", c.same_agent(body), what))

    async def deregister_agent(self, agent_id: str) -> dict:
        """With reply_quorum > 1 the agent's absence is confirmed; ``requeued_tasks`` stays
        the answering replica's word (read those tasks to check them)."""
        what = f"deregistration of agent {agent_id!r}"
        return await self._write("DELETE", f"/v1/agents/{agent_id}", what=what,
                                 settle=self._reading(f"/v1/agents/{agent_id}", c.absent, what,
                                                      keep=True))

    async def heartbeat(self, agent_id: str, probe_id: str | None = None,
                        healthy: bool = True) -> dict:
        body = {} if probe_id is None else {"probe_id": probe_id, "healthy": bool(healthy)}
        return await self._call("POST", f"/v1/agents/{agent_id}/heartbeat", body)

    async def get_agent(self, agent_id: str) -> dict:
        return await self._call("GET", f"/v1/agents/{agent_id}")

    async def list_agents(self, **filters) -> dict:
        return await self._call("GET", "/v1/agents", params=_params(filters))

    async def get_assignments(self, agent_id: str, wait: float = 0.0) -> list[dict]:
        return await self._call("GET", f"/v1/agents/{agent_id}/assignments",
                                params={"wait": str(wait)})

    async def report_outcome(self, agent_id: str, task_id: str, success: bool,
                             latency_s: float = 0.0, result: str | None = None,
                             reason: str = "") -> dict:
        body = a.outcome_body(task_id, success, latency_s, result, reason)
        what = f"outcome of task {task_id!r} from agent {agent_id!r}"
        return await self._write("POST", f"/v1/agents/{agent_id}/outcomes", body, what=what,
                                 settle=self._reading(f"/v1/tasks/{task_id}",
                                                      c.reported_by(agent_id), what))

    # ---- tasks --------------------------------------------------------------------------
    async def submit_task(self, task_description: str = "", priority=TaskPriority.NORMAL,
                          required_agents: int = 1, required_capabilities=(),
                          classification=0, compartments=(), timeout_s=None, strategy=None,
                          task_id=None, user_credential=None) -> str:
        body = a.task_body(task_description, priority, required_agents, required_capabilities,
                           classification, compartments, timeout_s, strategy, task_id)
        settle = self._reading(f"/v1/tasks/{body.task_id}", c.same_task(body),
                               f"submit of task {body.task_id!r}", user_credential)
        try:
            out = await self._write("POST", "/v1/tasks", body, user_credential, settle,
                                    f"submit of task {body.task_id!r}")
        except ControlError as exc:
            if exc.code != "task_exists" or task_id is not None:
                raise
            out = {"task_id": body.task_id}          # our retried submit landed
            if self.reply_quorum > 1:
                await settle(out)
        return out["task_id"] if self.reply_quorum == 1 else body.task_id

    async def submit_tasks(self, tasks: list[dict], user_credential=None) -> list[str]:
        """Batch submit: each dict holds ``submit_task``'s keyword arguments."""
        bodies = [a.task_body(**t) for t in tasks]
        gate = asyncio.Semaphore(32)                  # a bounded number of reads in flight

        async def one(b):
            async with gate:
                await self._reading(f"/v1/tasks/{b.task_id}", c.same_task(b),
                                    f"submit of task {b.task_id!r}", user_credential)(None)

        async def settle(_answer):                    # every task of the batch confirmed
            errors = [e for e in await asyncio.gather(*(one(b) for b in bodies),
                                                      return_exceptions=True) if e is not None]
            if errors:
                raise errors[0]
            return {"task_ids": [b.task_id for b in bodies]}
        out = await self._write("POST", "/v1/tasks/batch", {"tasks": bodies}, user_credential,
                                settle, f"batch submit of {len(bodies)} task(s)")
        return out["task_ids"]

    async def get_task(self, task_id: str) -> dict:
        return await self._call("GET", f"/v1/tasks/{task_id}")

    async def list_tasks(self, **filters) -> dict:
        return await self._call("GET", "/v1/tasks", params=_params(filters))

    async def cancel_task(self, task_id: str, reason: str = "") -> dict:
        what = f"cancel of task {task_id!r}"
        return await self._write("POST", f"/v1/tasks/{task_id}/cancel", {"reason": reason},
                                 what=what, settle=self._reading(
                                     f"/v1/tasks/{task_id}", c.finished(TERMINAL), what))

    async def wait_for_task(self, task_id: str, timeout_s: float = 30.0,
                            poll_s: float = 0.05) -> dict:
        """Poll until the task is finished (any terminal state) or ``timeout_s`` passes."""
        import time

        deadline = time.monotonic() + timeout_s
        while True:
            task = await self.get_task(task_id)
            if task["state"] in TERMINAL or time.monotonic() >= deadline:
                return task
            await asyncio.sleep(poll_s)

    # ---- status -------------------------------------------------------------------------
    async def status(self) -> dict:
        return await self._call("GET", "/v1/status")

    def get_system_status(self) -> dict:
        """``/v1/status``, synchronously (the seed calls it without ``await``). It blocks the
        calling thread for one request: inside a coroutine prefer ``await status()``."""
        request = urllib.request.Request(self.base_url + "/v1/status",
                                         headers={"Accept": "application/json",
                                                  **_auth(self._headers())})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s,
                                        context=self.ssl) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise _error(exc.code, _decode(exc.read(), "application/json")) from None


def _keyed_retry(exc: BaseException) -> bool:
    return is_transient(exc) or in_flight(exc)


def _endpoints(base_url) -> list[str]:
    items = base_url.split(",") if isinstance(base_url, str) else list(base_url or ())
    out = [x.strip().rstrip("/") for x in items if isinstance(x, str) and x.strip()]
    bad = [x for x in out if not x.startswith(("http://", "https://"))]
    if not out or bad or len(out) != len([x for x in items if not isinstance(x, str)
                                          or x.strip()]):
        raise ControlError.invalid(f"base_url must be an http(s) URL or several, got "
                                   f"{base_url!r}", "base_url")
    return out


def _auth(headers: dict) -> dict:
    return {k: v for k, v in headers.items() if k == "Authorization"}


def _params(filters: dict) -> dict:
    return {k: str(v) for k, v in filters.items() if v is not None}


def _decode(raw: bytes, content_type: str):
    if not raw:
        return None
    if content_type == _MSGPACK:
        return msgspec.msgpack.decode(raw)
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def _error(status: int, payload) -> ControlError:
    err = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(err, dict):
        return ControlError(err.get("code", "error"), err.get("message", ""), status,
                            err.get("field"))
    return ControlError("http_error", f"HTTP {status}: {payload!r}", status)
