"""A TCP proxy on 127.0.0.1 for fault tests: forward to a real service, then break the way networks do.

- :meth:`TcpProxy.freeze`: connections stay open but nothing is forwarded (a hung server, a
  partition): callers see no answer, only their own timeouts end the wait;
- :meth:`TcpProxy.thaw`: forwarding resumes (bytes held meanwhile are delivered);
- :meth:`TcpProxy.kill`: every connection is reset and new ones are refused (a crashed server);
- :meth:`TcpProxy.revive`: listening again on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

__all__ = ["TcpProxy"]


class TcpProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target``; use ``async with`` or :meth:`start`/:meth:`close`."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            self.port: int = sock.getsockname()[1]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)
        return self

    async def __aenter__(self) -> TcpProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def freeze(self) -> None:
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    async def kill(self) -> None:
        """Reset every connection and stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            with contextlib.suppress(OSError):
                sock = writer.get_extra_info("socket")
                if sock is not None:  # RST rather than FIN, as a crashed peer's kernel sends
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            writer.close()
        self._writers.clear()
        self._flowing.set()

    async def revive(self) -> None:
        await self.start()

    async def close(self) -> None:
        await self.kill()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True)
        for w in (writer, up_writer):
            self._writers.discard(w)
            w.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self._flowing.wait()
                if writer.is_closing():
                    return
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()
