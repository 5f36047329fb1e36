"""Moving PBFT messages between replicas: aiohttp over mutual TLS, MessagePack batches.

Use cases::

    net = Transport(me="replica-1", peers={"replica-2": "https://10.0.0.2:7401", ...},
                    server_ssl=server_context(...), client_ssl=client_context(...),
                    deliver=node.inbox_put)
    app = net.app()                         # POST /pbft/v1/msgs, GET /pbft/v1/state/{seq}
    net.send("replica-2", data); net.broadcast(data)
    await net.fetch_state("replica-2", seq) # (app bytes, client table) or None

The transport only moves bytes: authenticity comes from the signatures the core checks, so a
message is never trusted for having arrived over TLS. Mutual TLS keeps outsiders off the
port and hides the traffic; a request whose client certificate does not name a replica of
this group (``uqo://replica/<name>``) is refused with 403.

Each peer has a bounded outbox drained by one sender task, which writes everything queued as
one MessagePack array (batching) to a WebSocket it keeps open to the peer
(``GET /pbft/v1/stream``, binary frames, no reply per batch); ``POST /pbft/v1/msgs`` takes the
same arrays one request each. A batch whose write fails is dropped (the core retransmits what
matters), the connection is reopened and the sender backs off briefly. A full outbox drops
the newest message and counts it. The stream replaced a POST per batch: at n = 4 the HTTP
request and response around every few hundred bytes cost more CPU than the protocol itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable

import aiohttp
import msgspec
from aiohttp import web
from uqo.security.tls import identity_of

_LOG = logging.getLogger(__name__)
MAX_BODY = 64 << 20
_BATCH = msgspec.msgpack.Decoder(list[bytes])


class Transport:
    def __init__(self, me: str, peers: dict[str, str], deliver: Callable[[str, bytes], None],
                 client_ssl=None, serve_state: Callable[[int], tuple | None] | None = None,
                 outbox_limit: int = 10_000, batch_bytes: int = 4 << 20):
        self.me, self.peers = me, dict(peers)
        self.deliver, self.serve_state = deliver, serve_state
        self.client_ssl = client_ssl
        self.outbox_limit, self.batch_bytes = outbox_limit, batch_bytes
        self._outbox: dict[str, deque[bytes]] = {p: deque() for p in self.peers}
        self._wake: dict[str, asyncio.Event] = {}
        self._tasks: list[asyncio.Task] = []
        self._session: aiohttp.ClientSession | None = None
        self.sent = self.received = self.send_failures = self.outbox_drops = 0
        self.refused = self.bad_batches = 0
        self._streams: set[web.WebSocketResponse] = set()
        self._closing = False
        self._identities: dict[bytes, object] = {}     # DER -> identity (parsed once)

    # ---- server ------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        self.add_routes(app)
        return app

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/pbft/v1/msgs", self._on_msgs)
        app.router.add_get("/pbft/v1/stream", self._on_stream)
        app.router.add_get("/pbft/v1/state/{seq}", self._on_state)
        # aiohttp runs on_shutdown once its sites stopped accepting connections and before it
        # waits (up to its shutdown timeout) for open handlers: a stream a peer opened after
        # close() began is closed there, so no handler keeps the cleanup waiting
        app.on_shutdown.append(self._close_streams)

    def _peer(self, request: web.Request) -> str | None:
        # Every batch is a request on a kept-alive TLS connection; parsing the peer's
        # certificate each time cost ~6% of a replica's CPU, so identities are cached by DER
        # (the handshake verified the chain; the cache holds at most a few hundred entries).
        ssl_object = request.get_extra_info("ssl_object") if request.transport else None
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if not der:
            return None
        ident = self._identities.get(der)
        if ident is None:
            if len(self._identities) > 256:
                self._identities.clear()
            ident = self._identities[der] = identity_of(der) or False
        if ident and ident.kind == "replica" and ident.name in self.peers:
            return ident.name
        return None

    def _refuse(self) -> web.Response:
        """A caller whose certificate is not a replica of this group: counted, 403."""
        self.refused += 1
        return web.json_response({"error": {"code": "forbidden", "field": None,
                                            "message": "not a replica of this group"}},
                                 status=403)

    async def _on_msgs(self, request: web.Request) -> web.Response:
        peer = self._peer(request)
        if peer is None:
            return self._refuse()
        try:
            batch = _BATCH.decode(await request.read())
        except (msgspec.DecodeError, msgspec.ValidationError):
            return web.json_response({"error": {"code": "bad_batch", "field": "body",
                                                "message": "not a MessagePack array of "
                                                           "bytes"}}, status=400)
        self.received += len(batch)
        for data in batch:
            self.deliver(peer, data)
        return web.Response(status=204)

    async def _on_stream(self, request: web.Request) -> web.StreamResponse:
        peer = self._peer(request)
        if peer is None:
            return self._refuse()
        ws = web.WebSocketResponse(max_msg_size=MAX_BODY)
        await ws.prepare(request)
        if self._closing:               # opened while this replica closes: refuse it at once
            await ws.close()
            return ws
        self._streams.add(ws)          # closed by close(): the server's cleanup waits for them
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.BINARY:
                    break
                try:
                    batch = _BATCH.decode(msg.data)
                except (msgspec.DecodeError, msgspec.ValidationError):
                    self.bad_batches += 1
                    continue
                self.received += len(batch)
                for data in batch:
                    self.deliver(peer, data)
        finally:
            self._streams.discard(ws)
        return ws

    async def _on_state(self, request: web.Request) -> web.Response:
        if self._peer(request) is None:
            self.refused += 1
            return web.Response(status=403)
        try:
            seq = int(request.match_info["seq"])
        except ValueError:
            return web.Response(status=400)
        held = self.serve_state(seq) if self.serve_state is not None else None
        if held is None:
            return web.Response(status=404)
        return web.Response(body=msgspec.msgpack.encode(list(held)),
                            content_type="application/msgpack")

    # ---- client ------------------------------------------------------------------------
    async def start(self) -> None:
        self._closing = False
        connector = aiohttp.TCPConnector(ssl=self.client_ssl, limit_per_host=2)
        self._session = aiohttp.ClientSession(connector=connector,
                                              timeout=aiohttp.ClientTimeout(total=10))
        for peer in self.peers:
            self._wake[peer] = asyncio.Event()
            self._tasks.append(asyncio.create_task(self._sender(peer),
                                                   name=f"pbft-send-{peer}"))

    def send(self, peer: str, data: bytes) -> None:
        box = self._outbox.get(peer)
        if box is None:
            return
        if len(box) >= self.outbox_limit:
            self.outbox_drops += 1
            return
        box.append(data)
        wake = self._wake.get(peer)
        if wake is not None:
            wake.set()

    def broadcast(self, data: bytes) -> None:
        for peer in self.peers:
            self.send(peer, data)

    async def _sender(self, peer: str) -> None:
        box, wake, url = self._outbox[peer], self._wake[peer], self.peers[peer]
        ws: aiohttp.ClientWebSocketResponse | None = None
        reader: asyncio.Task | None = None
        try:
            # the flag, not only the cancellation, ends the loop: on Python 3.11 a wait_for
            # whose inner call finishes as the task is cancelled swallows the cancellation
            # (gh-86296), and the task then slept in wake.wait() while close() waited for it
            while not self._closing:
                if not box:
                    wake.clear()
                    await wake.wait()
                    continue
                batch, size = [], 0
                while box and (not batch or size + len(box[0]) <= self.batch_bytes):
                    data = box.popleft()
                    batch.append(data)
                    size += len(data)
                try:
                    if ws is None or ws.closed:
                        ws = await self._session.ws_connect(f"{url}/pbft/v1/stream",
                                                            max_msg_size=MAX_BODY)
                        reader = asyncio.create_task(self._drain(ws))
                    # 10 s plus 1 s per MiB: a VIEW-CHANGE or NEW-VIEW carrying a window of
                    # large batches takes longer than a vote on a loaded host
                    # asyncio.timeout, not wait_for: no task per frame (Python 3.11)
                    async with asyncio.timeout(10 + size / (1 << 20)):
                        await ws.send_bytes(msgspec.msgpack.encode(batch))
                    self.sent += len(batch)
                except (TimeoutError, aiohttp.ClientError, OSError, RuntimeError) as exc:
                    self.send_failures += 1
                    _LOG.debug("pbft: %d messages to %s lost: %r", len(batch), peer, exc)
                    if ws is not None:
                        with contextlib.suppress(Exception):
                            await asyncio.wait_for(ws.close(), 1)
                        ws = None
                    await asyncio.sleep(0.05)
        finally:
            if reader is not None:
                reader.cancel()
            if ws is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(ws.close(), 1)

    @staticmethod
    async def _drain(ws) -> None:
        """Read the stream's (empty) direction: a peer's close or a dropped connection then
        marks ``ws`` closed, and the sender reconnects instead of writing into the void."""
        with contextlib.suppress(Exception):
            async for _ in ws:
                pass

    async def fetch_state(self, peer: str, seq: int) -> tuple[bytes, bytes] | None:
        url = self.peers.get(peer)
        if url is None or self._session is None:
            return None
        try:
            async with self._session.get(f"{url}/pbft/v1/state/{seq}") as resp:
                if resp.status != 200:
                    return None
                app, table = msgspec.msgpack.decode(await resp.read(), type=tuple[bytes, bytes])
                return app, table
        except (TimeoutError, aiohttp.ClientError, OSError, msgspec.DecodeError,
                msgspec.ValidationError):
            return None

    async def _close_streams(self, _app=None) -> None:
        self._closing = True
        streams, self._streams = list(self._streams), set()
        await asyncio.gather(*(asyncio.wait_for(ws.close(), 1) for ws in streams),
                             return_exceptions=True)

    async def close(self) -> None:
        self._closing = True
        for wake in self._wake.values():
            wake.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self._close_streams()
        if self._session is not None:
            await self._session.close()
            self._session = None
