"""Reading an HTTP body with a size cap, in one place.

``aiohttp.StreamReader.read(n)`` returns what is buffered (at most ``n`` bytes) as soon as anything
is, not ``n`` bytes: a body that arrives in several network reads would be cut at the first. Every
capped read of a peer's body (a response to an outgoing call, a request to a server of the SDK)
goes through :func:`read_capped`, which reads to the end.
"""

from __future__ import annotations

from aiohttp import StreamReader

__all__ = ["read_capped"]


async def read_capped(stream: StreamReader, cap: int) -> bytes:
    """The whole body, or its first ``cap + 1`` bytes when it is larger than ``cap`` (the caller
    refuses those with its own error); nothing beyond is read.

    :raises ValueError: if ``cap`` is negative.
    """
    if cap < 0:
        raise ValueError("the cap of a body must not be negative")
    chunks: list[bytes] = []
    total = 0
    while total <= cap:
        chunk = await stream.read(cap + 1 - total)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
