"""A lossy network for tests: a TCP relay that delivers each request to the server and then
drops the connection instead of relaying the server's answer (the server has answered, so it
applied the write; the client sees the connection cut, as when a response is lost).

Use::

    async with LossyRelay("127.0.0.1", server_port) as relay:
        url = relay.url                 # requests sent here reach the server; no answer returns
        relay.lost                      # answers dropped so far

Real sockets both ways; only the answer's bytes are withheld.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Self


class LossyRelay:
    def __init__(self, host: str, port: int):
        self.upstream = (host, port)
        self.lost = 0
        self._server: asyncio.AbstractServer | None = None

    @property
    def url(self) -> str:
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)

        async def requests():
            while data := await reader.read(65536):
                up_writer.write(data)
                await up_writer.drain()

        pump = asyncio.create_task(requests())
        try:
            if await up_reader.read(1):          # the server began its answer: drop it
                self.lost += 1
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
            for w in (writer, up_writer):
                w.close()
