"""``PbftLog``: the ``Log`` interface over PBFT replicas that do not trust each other.

Use cases::

    log = PbftLog(PbftOptions(me="replica-1", replicas={"replica-1": url1, ...},
                              data_dir=..., listen=("127.0.0.1", 7401)),
                  signer, ring, server_ssl=..., client_ssl=...)
    await log.open(CommandApplier(StateMachine()))   # snapshot, records, then the network
    results = await log.propose([payload, ...])      # committed by 2f+1, applied here
    log.status(); log.is_leader                      # any replica can propose
    await log.close()

The driver of one ``PbftCore``: every message and tick goes through one task (the core is
single-threaded), and each ``Ready`` is handled in etcd-raft's order: persist the records
(fdatasync when ``Ready.sync``, inline: see ``_handle_ready``), then send, then apply the executed batches to the applier, then
``advance``. Checkpoints snapshot the applier and hand its digest to the core; a replica
behind a stable checkpoint fetches the state from a peer that signed it and restores it only
if the core accepts the digest.

Proposals: this replica is a PBFT client named after itself, signing with its replica key.
A client has one request outstanding (OSDI '99 §4.1), so proposals queue while one is in
flight and the next request carries everything queued (group commit). ``propose`` resolves
when the request executed here, with the applier's result for each payload. Entries are
numbered consecutively over every executed payload; an entry's ``term`` is the PBFT sequence
number that ordered it (the same at every replica, whichever view committed it there).
A payload the applier cannot decode is refused with a ``ControlError`` at every replica alike,
so a Byzantine client (any replica is one) cannot make correct replicas diverge. If this
replica's own request executed inside a state it fetched (it was catching up), the command
is committed but its result was computed elsewhere: each payload then resolves to
``ControlError("result_unavailable")``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aiohttp import web

from ..errors import ControlError
from ..log import Applier, Log
from .config import Config
from .core import PbftCore
from .execution import ExecutionMixin, decode_app, encode_app  # noqa: F401 - encode_app re-exported
from .messages import Request, sign
from .metrics import PbftMetrics
from .storage import PbftStorage
from .transport import Transport

_LOG = logging.getLogger(__name__)
# a tick due within this much counts as due: uvloop (libuv) keeps timers in whole
# milliseconds and may fire a call_at up to 1 ms before its time; without the slack the driver
# woke, found the tick not yet due and re-armed the timer ~175 times per tick (0.5 ms of CPU
# per tick per replica, idle or not)
_TIMER_SLACK_S = 0.001


# Core settings for real replicas (tick_s = 10 ms): view-change timer 1 s, retransmission every
# 100 ms, a checkpoint every 64 sequence numbers, a window of 256.
DRIVER_CORE = {"view_change_ticks": 100, "status_ticks": 10, "checkpoint_interval": 64,
               "log_size": 256, "max_batch": 64, "max_inflight": 8}


@dataclass(frozen=True)
class PbftOptions:
    """Who we are and where the others are. ``replicas`` maps every replica name (including
    ``me``) to its base URL; replica indexes follow the sorted names. ``tick_s``: the wall
    time of one core tick; ``max_payloads``: payloads per request; ``core``: ``Config``
    fields over ``DRIVER_CORE`` (n and replica are filled in)."""

    me: str
    replicas: dict[str, str]
    data_dir: str
    listen: tuple[str, int] | None = None
    tick_s: float = 0.01
    max_payloads: int = 10_000
    fsync: bool = True
    core: dict = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return sorted(self.replicas)




class PbftLog(ExecutionMixin, Log):
    def __init__(self, options: PbftOptions, signer, ring, server_ssl=None, client_ssl=None,
                 metrics: PbftMetrics | None = None,
                 send_filter: Callable[[int | None, bytes], list] | None = None,
                 extra_routes: Callable[[web.Application], None] | None = None):
        """``send_filter`` (fault injection in tests and benchmarks only) rewrites each
        outgoing message into a list of (replica index or None, bytes); ``extra_routes`` adds
        routes to the replica's own server when ``options.listen`` is set."""
        names = options.names
        if options.me not in options.replicas:
            raise ValueError(f"me ({options.me!r}) must be one of the replicas {names}")
        self.opts, self.names = options, names
        self.index = names.index(options.me)
        # where a replica's time goes (status()["busy_s"]): signing, verifying, fsync, ...
        self.busy: dict[str, float] = dict.fromkeys(
            ("sign", "verify", "core", "persist", "send", "execute", "idle", "appends", "syncs"), 0.0)
        self.signer, self.ring = _Timed(signer, self.busy, "sign"), _Timed(ring, self.busy,
                                                                            "verify")
        self.config = Config(n=len(names), replica=self.index,
                             **{**DRIVER_CORE, **options.core})
        self.server_ssl, self.client_ssl = server_ssl, client_ssl
        self.metrics, self.send_filter, self.extra_routes = metrics, send_filter, extra_routes
        self.storage = PbftStorage(options.data_dir, fsync=options.fsync)
        self.core: PbftCore | None = None
        self.transport: Transport | None = None
        self._applier: Applier | None = None
        self._io = ThreadPoolExecutor(1, thread_name_prefix="uqo-pbft-io")
        self._inbox: deque[bytes] = deque()
        self._states: deque[tuple[int, bytes, bytes]] = deque()
        self._wake = asyncio.Event()
        self._queue: deque[tuple[Sequence[bytes], asyncio.Future]] = deque()
        self._outstanding: tuple[int, list] | None = None
        self._task: asyncio.Task | None = None
        self._fetching: asyncio.Task | None = None
        self._runner: web.AppRunner | None = None
        self._snap: tuple[int, bytes, bytes] | None = None
        self._failed: BaseException | None = None
        self.applied_index = self._last_ts = 0
        self._closing, self._view_seen = False, (0, True)
        self.inbox_limit, self.inbox_drops = 100_000, 0
        self.dropped: dict[str, int] = {}
        self.executed_requests = self.proposals = self.state_installs = 0

    # ---- lifecycle ---------------------------------------------------------------------
    async def open(self, applier: Applier) -> None:
        loop = asyncio.get_running_loop()
        self._applier = applier
        seq, app, table = await loop.run_in_executor(self._io, self.storage.load_snapshot)
        if app is not None:
            snap = decode_app(app)
            applier.restore(snap)
            self.applied_index = snap.meta.index
            self._snap = (seq, app, table)
        records = await loop.run_in_executor(self._io, self.storage.load_records)
        self.core = PbftCore(self.config, self.signer, self.ring, records=records,
                             executed=seq, client_table=table)
        peers = {n: u for n, u in self.opts.replicas.items() if n != self.opts.me}
        self.transport = Transport(self.opts.me, peers, self._deliver, self.client_ssl,
                                   serve_state=self._serve_state)
        await self.transport.start()
        try:
            if self.opts.listen is not None:
                await self._listen(*self.opts.listen)
            await self._handle_ready()
        except BaseException:
            await self.transport.close()
            if self._runner is not None:
                await self._runner.cleanup()
            raise
        self._task = asyncio.create_task(self._run(), name=f"pbft-{self.opts.me}")

    async def _listen(self, host: str, port: int) -> None:
        app = self.transport.app()
        if self.extra_routes is not None:
            self.extra_routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port, ssl_context=self.server_ssl).start()

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        for task in (self._task, self._fetching):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._fail_pending(ControlError.unavailable("the PBFT log is closing"))
        if self.transport is not None:
            await self.transport.close()
        if self._runner is not None:
            await self._runner.cleanup()
        await asyncio.get_running_loop().run_in_executor(self._io, self.storage.close)
        self._io.shutdown(wait=True)

    # ---- inputs ------------------------------------------------------------------------
    def _deliver(self, peer: str, data: bytes) -> None:
        if len(self._inbox) >= self.inbox_limit:
            self.inbox_drops += 1
            return
        self._inbox.append(data)
        self._wake.set()

    async def propose(self, payloads: Sequence[bytes]) -> list[Any]:
        if self._failed is not None:
            raise ControlError.unavailable(f"the PBFT log failed: {self._failed}")
        if self._closing or self._task is None:
            raise ControlError.unavailable("the PBFT log is not open")
        if not payloads:
            return []
        fut = asyncio.get_running_loop().create_future()
        self._queue.append(([bytes(p) for p in payloads], fut))
        self._wake.set()
        return await fut

    def _propose_queued(self) -> None:
        """One request outstanding per client (§4.1): send the next when the last executed."""
        if self._outstanding is not None or not self._queue:
            return
        taken, payloads = [], []
        while self._queue and (not payloads
                               or len(payloads) + len(self._queue[0][0]) <= self.opts.max_payloads):
            items, fut = self._queue.popleft()
            taken.append((len(items), fut))
            payloads.extend(items)
        ts = max(self._last_ts + 1, self.core.client_ts.get(self.opts.me, 0) + 1,
                 time.time_ns() // 1000)
        self._last_ts = ts
        request = sign(self.signer, Request(self.opts.me, ts, msgspec.msgpack.encode(payloads)))
        self._outstanding = (ts, taken)
        self.proposals += 1
        self.core.propose(request, signed_here=True)

    # ---- the loop ----------------------------------------------------------------------
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_tick = loop.time() + self.opts.tick_s
        try:
            while not self._closing:
                t0 = time.perf_counter()
                # sleep to the tick at which the core has a timer due, not to every tick: a
                # wake-up costs ~0.1 ms of CPU here, 100 per second per replica idle or not
                due = next_tick + (self.core.next_due() - self.core.now - 1) * self.opts.tick_s
                if due - _TIMER_SLACK_S > loop.time() and not self._wake.is_set():
                    # a timer handle, not wait_for: on Python 3.11 wait_for wraps the wait in
                    # a new task, two more trips through the loop on every wake-up
                    timer = loop.call_at(due, self._wake.set)
                    try:
                        await self._wake.wait()
                    finally:
                        timer.cancel()
                t1 = time.perf_counter()
                self._wake.clear()
                # the ticks that passed first, so that the messages step at the current tick
                # (a timer they arm counts from now, not from the last wake-up)
                now = loop.time()
                while now + _TIMER_SLACK_S >= next_tick:
                    self.core.tick()
                    next_tick += self.opts.tick_s
                self._step_inbox()
                self._propose_queued()
                self.busy["idle"] += t1 - t0
                self.busy["core"] += time.perf_counter() - t1
                await self._handle_ready()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a disk failure: nothing on disk is trusted
            _LOG.critical("PBFT replica %s failed: %r", self.opts.me, exc, exc_info=True)
            self._failed = exc
            self._fail_pending(ControlError.unavailable(f"the PBFT log failed: {exc}"))

    def _step_inbox(self) -> None:
        for _ in range(min(len(self._inbox), 20_000)):
            self.core.step(self._inbox.popleft())
        while self._states:
            self._install(*self._states.popleft())
        if self._inbox:
            self._wake.set()

    async def _handle_ready(self) -> None:
        core, loop = self.core, asyncio.get_running_loop()
        while core.has_ready():
            rd = core.ready()
            t0 = time.perf_counter()
            if rd.reset:
                await loop.run_in_executor(self._io, self.storage.replace, rd.persist)
            elif rd.persist:
                # fdatasync inline, not in the I/O thread: the core waits for it either way,
                # and the thread's result came back only once the loop's thread let go of the
                # GIL (up to sys.getswitchinterval(), 5 ms, while frames arrive): 5.3 ms per
                # request per replica through the thread against 0.2-0.3 ms for the call
                self.storage.append(rd.persist, sync=rd.sync)
            t1 = time.perf_counter()
            if rd.persist or rd.reset:
                self.busy["appends"] += 1
                self.busy["syncs"] += rd.sync or rd.reset
            for s in rd.sends:
                self._send(s.to, s.data)
            t2 = time.perf_counter()
            for e in rd.execute:
                self._execute(e)
            busy = self.busy
            busy["persist"] += t1 - t0
            busy["send"] += t2 - t1
            busy["execute"] += time.perf_counter() - t2
            for reason, count in rd.dropped.items():
                self.dropped[reason] = self.dropped.get(reason, 0) + count
                if self.metrics is not None:
                    self.metrics.dropped.labels(reason).inc(count)
            if rd.fetch is not None and (self._fetching is None or self._fetching.done()):
                self._fetching = asyncio.create_task(self._fetch(rd.fetch))
            core.advance(rd)
        view = (core.state.view, core.state.normal)
        if view != self._view_seen:
            self._view_seen = view
            _LOG.info("pbft %s: view %d %s (primary %s)%s", self.opts.me, view[0],
                      "normal" if view[1] else "changing", self.names[core.q.primary(view[0])],
                      "" if view[1] else f": {core.view_change_reason}")
        if self.metrics is not None:
            self.metrics.observe(self)

    def _send(self, to: int | None, data: bytes) -> None:
        out = [(to, data)] if self.send_filter is None else self.send_filter(to, data)
        for dest, payload in out:
            if dest is None:
                self.transport.broadcast(payload)
            else:
                self.transport.send(self.names[dest], payload)

    # ---- status ------------------------------------------------------------------------
    @property
    def is_leader(self) -> bool:
        return self.core is not None and self.core.state.normal and self._failed is None

    def status(self) -> dict:
        s = self.core.summary() if self.core is not None else {}
        t = self.transport
        return {"mode": "pbft", "node_id": self.opts.me, "replicas": self.names,
                "is_leader": self.is_leader, "view": s.get("view"), "normal": s.get("normal"),
                "primary": self.names[s["primary"]] if s else None,
                "stable_seq": s.get("stable_seq"), "executed_seq": s.get("executed"),
                "applied_index": self.applied_index, "proposals": self.proposals,
                "executed_requests": self.executed_requests, "dropped": dict(self.dropped),
                "inbox_drops": self.inbox_drops, "diverged": s.get("diverged"),
                "needless_votes": self.core.needless_votes if self.core is not None else 0,
                "state_installs": self.state_installs,
                "busy_s": {k: round(v, 6) for k, v in self.busy.items()},
                "sent": t.sent if t else 0, "received": t.received if t else 0,
                "send_failures": t.send_failures if t else 0,
                "healthy": self._failed is None}


class _Timed:
    """A signer or verifier that adds the seconds its calls take to ``busy[key]`` (the
    signing and verification share of ``status()["busy_s"]``)."""

    def __init__(self, inner, busy: dict[str, float], key: str):
        self._inner, self._busy, self._key = inner, busy, key

    def __getattr__(self, name):
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr
        busy, key = self._busy, self._key

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                busy[key] += time.perf_counter() - t0
        return timed
