"""A small HTTP/1.1 load generator for the benchmarks: keep-alive connections on loopback.

Requests are prepared as raw bytes before a run (DPoP proofs are signed in advance), so the
generator spends its time on sockets, not on building requests. Two modes:

- :func:`closed_loop`: ``connections`` clients each send the next request as soon as the previous
  answer arrived (the maximum rate);
- :func:`open_loop`: requests are scheduled at a fixed rate; latency counts from the scheduled
  time, so a slow answer also delays (and is charged to) the requests queued behind it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

__all__ = ["LoadResult", "closed_loop", "open_loop", "raw_request"]


def raw_request(
    method: str, host: str, path: str, *, headers: dict[str, str] | None = None, body: bytes = b""
) -> bytes:
    """One HTTP/1.1 request, ready to write."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass
class LoadResult:
    """What a run measured."""

    sent: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 400)

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class _Client(asyncio.Protocol):
    """One keep-alive connection: write a request, wait for one complete answer."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._waiter: asyncio.Future[int] | None = None
        self._transport: asyncio.Transport | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionError("connection closed"))

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self._parse()

    def _parse(self) -> None:
        if self._waiter is None or self._waiter.done():
            return
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self._buffer[:end]).decode("latin-1")
        status = int(head[9:12])
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
                break
        if len(self._buffer) < end + 4 + length:
            return
        del self._buffer[: end + 4 + length]
        self._waiter.set_result(status)

    async def request(self, data: bytes) -> int:
        assert self._transport is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self._transport.write(data)
        return await self._waiter

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def _connect(host: str, port: int) -> _Client:
    _, client = await asyncio.get_running_loop().create_connection(_Client, host, port)
    return client


async def closed_loop(
    host: str, port: int, requests: Iterator[bytes], *, connections: int, duration: float
) -> LoadResult:
    """Send as fast as answers come back, on ``connections`` connections, until ``duration``
    seconds pass or ``requests`` runs out."""
    result = LoadResult()
    clients = [await _connect(host, port) for _ in range(connections)]
    started = time.perf_counter()
    deadline = started + duration

    async def worker(client: _Client) -> None:
        while time.perf_counter() < deadline:
            data = next(requests, None)
            if data is None:
                return
            sent = time.perf_counter()
            result.sent += 1
            try:
                status = await client.request(data)
            except ConnectionError:
                result.statuses[0] = result.statuses.get(0, 0) + 1
                return
            result.latencies.append(time.perf_counter() - sent)
            result.statuses[status] = result.statuses.get(status, 0) + 1

    await asyncio.gather(*(worker(c) for c in clients))
    result.elapsed = time.perf_counter() - started
    for client in clients:
        client.close()
    return result


async def open_loop(
    host: str, port: int, requests: Iterator[bytes], *, rate: float, connections: int, duration: float
) -> LoadResult:
    """Schedule ``rate`` requests per second, spread over ``connections`` connections; latency is
    measured from each request's scheduled time (no coordinated omission)."""
    result = LoadResult()
    clients = [await _connect(host, port) for _ in range(connections)]
    per_connection = rate / connections
    started = time.perf_counter()
    deadline = started + duration

    async def worker(index: int, client: _Client) -> None:
        scheduled = started + index / rate
        while scheduled < deadline:
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            data = next(requests, None)
            if data is None:
                return
            result.sent += 1
            try:
                status = await client.request(data)
            except ConnectionError:
                result.statuses[0] = result.statuses.get(0, 0) + 1
                return
            result.latencies.append(time.perf_counter() - scheduled)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            scheduled += 1 / per_connection

    await asyncio.gather(*(worker(i, c) for i, c in enumerate(clients)))
    result.elapsed = time.perf_counter() - started
    for client in clients:
        client.close()
    return result


def cycle_prepared(make: Callable[[int], bytes], count: int) -> Sequence[bytes]:
    """``count`` requests made in advance by ``make(i)``."""
    return [make(i) for i in range(count)]
