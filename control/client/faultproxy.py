"""A loopback TCP proxy that can drop traffic: network partitions for fault tests.

Use cases::

    proxy = DropProxy(("127.0.0.1", etcd_port)).start()   # in a thread of its own
    proxy.url                       # http://127.0.0.1:PORT: give it to the replica as etcd
    proxy.partition()               # bytes both ways are read and thrown away; new
                                    # connections are accepted and hang (a black hole)
    proxy.heal()                    # connections cut during the partition are closed (as a
                                    # keepalive timeout would); new ones relay again
    proxy.stop()

Why a proxy and not network namespaces: ``ip netns add`` works on this machine (as root), but
cutting one replica from etcd while its clients still reach it needs a veth pair per replica,
etcd listening on non-loopback addresses and routes between namespaces; the proxy cuts exactly
the replica-to-etcd path, needs no privilege, and behaves the same on every CI machine. A
dropped packet and a dropped byte look alike to the replica: calls hang until their deadline.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Self


class DropProxy:
    def __init__(self, target: tuple[str, int], host: str = "127.0.0.1"):
        self.target, self.host = target, host
        self.port = 0
        self.dropping = False
        self.dropped_bytes = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._conns: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter | None]] = set()
        self._cut: set = set()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Self:
        started = threading.Event()

        def run():
            self._loop = asyncio.new_event_loop()
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._handle, self.host, 0))
            self.port = self._server.sockets[0].getsockname()[1]
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True, name="drop-proxy")
        self._thread.start()
        started.wait(10)
        return self

    def partition(self) -> None:
        self._call(self._partition)

    def heal(self) -> None:
        self._call(self._heal)

    def stop(self) -> None:
        if self._loop is None:
            return
        self._call(self._close_all)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _call(self, fn) -> None:
        fut = asyncio.run_coroutine_threadsafe(fn(), self._loop)
        fut.result(10)

    async def _partition(self) -> None:
        self.dropping = True
        self._cut = set(self._conns)

    async def _heal(self) -> None:
        self.dropping = False
        for pair in self._cut:
            for w in pair:
                if w is not None:
                    w.close()
        self._cut = set()

    async def _close_all(self) -> None:
        self._server.close()
        for pair in list(self._conns):
            for w in pair:
                if w is not None:
                    w.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        if self.dropping:                       # a black hole: accept, never answer
            pair = (writer, None)
            self._conns.add(pair)
            self._cut.add(pair)
            await self._pump(reader, None, pair)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        pair = (writer, up_writer)
        self._conns.add(pair)
        await asyncio.gather(self._pump(reader, up_writer, pair),
                             self._pump(up_reader, writer, pair), return_exceptions=True)
        self._conns.discard(pair)
        for w in pair:
            w.close()

    async def _pump(self, reader, writer, pair) -> None:
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                if self.dropping or writer is None or pair in self._cut:
                    self.dropped_bytes += len(data)
                    continue
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            if writer is not None:
                writer.close()
