"""Status list bit arrays: IETF Token Status List and W3C Bitstring Status List.

The two formats pack the same idea differently, and mixing them up silently flips statuses:

* **IETF Token Status List** (draft-ietf-oauth-status-list-21 §4.1): ``bits`` of 1, 2, 4 or 8 per
  token; index 0 sits in the *least* significant bits of byte 0; the byte array is compressed with
  DEFLATE in the ZLIB format (RFC 1950) and base64url-encoded without padding (``lst``).
* **W3C Bitstring Status List** v1.0 (§3.1, §3.2): index 0 is the *left-most* (most significant)
  bit of byte 0; the bitstring is GZIP-compressed (RFC 1952) and encoded as a multibase base64url
  string with the ``u`` prefix (``encodedList``); at least 131,072 entries (16 KiB) for herd privacy.

Inflating is always bounded (``max_bytes``): a small compressed bomb raises instead of filling memory.
"""

from __future__ import annotations

import zlib
from typing import Final, Literal

from vcsdk._b64 import b64url_decode, b64url_encode
from vcsdk.errors import InvalidInputError

__all__ = [
    "BITSTRING_MIN_ENTRIES",
    "DEFAULT_MAX_INFLATED_BYTES",
    "Bitstring",
    "StatusBits",
    "TokenStatusList",
    "bounded_inflate",
]

StatusBits = Literal[1, 2, 4, 8]
_ALLOWED_BITS: Final = (1, 2, 4, 8)

#: W3C Bitstring Status List §6.1 (herd privacy): a list has at least 131,072 entries.
BITSTRING_MIN_ENTRIES: Final = 131_072
#: Largest inflated list a verifier accepts by default: 16 MiB is 134 million 1-bit entries.
DEFAULT_MAX_INFLATED_BYTES: Final = 16 * 1024 * 1024

_ZLIB_WBITS: Final = zlib.MAX_WBITS  # RFC 1950 header + trailer
_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS  # RFC 1952 header + trailer


def bounded_inflate(data: bytes, *, container: Literal["zlib", "gzip"], max_bytes: int) -> bytes:
    """Decompress ``data`` but never produce more than ``max_bytes``.

    :param container: ``zlib`` (RFC 1950, IETF) or ``gzip`` (RFC 1952, W3C).
    :param max_bytes: the inflation limit; exceeding it is an error, not a truncation.
    :raises InvalidInputError: on a corrupt stream, trailing data, or output beyond ``max_bytes``.
    :return: the decompressed bytes.
    """
    d = zlib.decompressobj(_ZLIB_WBITS if container == "zlib" else _GZIP_WBITS)
    try:
        out = d.decompress(data, max_bytes + 1)
    except zlib.error:
        raise InvalidInputError(f"status list is not valid {container} data") from None
    if len(out) > max_bytes or d.unconsumed_tail:
        raise InvalidInputError(
            f"status list inflates to more than {max_bytes} bytes; refusing it (possible compression bomb)"
        )
    if not d.eof:
        raise InvalidInputError(f"status list {container} stream is truncated")
    if d.unused_data:
        raise InvalidInputError(f"status list has data after the end of its {container} stream")
    return out


class TokenStatusList:
    """An IETF Token Status List: ``size`` entries of ``bits`` bits each, LSB-first within a byte.

    :param size: the number of entries (rounded up to whole bytes when encoded).
    :param bits: 1, 2, 4 or 8 bits per entry.
    :param data: an existing packed byte array (its length fixes the capacity).
    :raises InvalidInputError: for another ``bits`` value or a negative size.
    """

    __slots__ = ("_data", "bits")

    def __init__(self, size: int = 0, *, bits: int = 1, data: bytes | bytearray | None = None) -> None:
        if bits not in _ALLOWED_BITS:
            raise InvalidInputError(f"status list bits must be one of {list(_ALLOWED_BITS)}, not {bits!r}")
        if size < 0:
            raise InvalidInputError("status list size cannot be negative")
        self.bits: StatusBits = bits  # type: ignore[assignment]
        if data is not None:
            self._data = bytearray(data)
        else:
            self._data = bytearray(-(-size * bits // 8))

    @property
    def size(self) -> int:
        """How many entries the packed array holds."""
        return len(self._data) * 8 // self.bits

    def __len__(self) -> int:
        return self.size

    def get(self, index: int) -> int:
        """The status value at ``index``.

        :raises InvalidInputError: if ``index`` is outside the list.
        """
        self._check_index(index)
        bit = index * self.bits
        return (self._data[bit // 8] >> (bit % 8)) & ((1 << self.bits) - 1)

    def set(self, index: int, value: int) -> None:
        """Set the status value at ``index``.

        :raises InvalidInputError: if ``index`` is outside the list or ``value`` does not fit ``bits``.
        """
        self._check_index(index)
        mask = (1 << self.bits) - 1
        if not isinstance(value, int) or not 0 <= value <= mask:
            raise InvalidInputError(f"status value must be between 0 and {mask} for a {self.bits}-bit list")
        bit = index * self.bits
        byte, shift = bit // 8, bit % 8
        self._data[byte] = (self._data[byte] & ~(mask << shift) & 0xFF) | (value << shift)

    def _check_index(self, index: int) -> None:
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < self.size:
            raise InvalidInputError(f"status index is outside the list (size {self.size})")

    def to_bytes(self) -> bytes:
        """The packed, uncompressed byte array."""
        return bytes(self._data)

    def encode(self) -> str:
        """The ``lst`` value: ZLIB (RFC 1950, best compression) then unpadded base64url."""
        return b64url_encode(zlib.compress(bytes(self._data), 9))

    def to_json(self) -> dict[str, int | str]:
        """The ``status_list`` JSON object ``{"bits": …, "lst": …}`` (§4.2)."""
        return {"bits": self.bits, "lst": self.encode()}

    @classmethod
    def decode(cls, lst: str, *, bits: int, max_bytes: int = DEFAULT_MAX_INFLATED_BYTES) -> TokenStatusList:
        """Parse an ``lst`` value.

        :raises InvalidInputError: on bad base64url, a corrupt or oversized ZLIB stream, or bad ``bits``.
        """
        raw = b64url_decode(lst, what="status list lst")
        return cls(bits=bits, data=bounded_inflate(raw, container="zlib", max_bytes=max_bytes))

    @classmethod
    def from_json(cls, value: object, *, max_bytes: int = DEFAULT_MAX_INFLATED_BYTES) -> TokenStatusList:
        """Parse a ``status_list`` JSON object ``{"bits": …, "lst": …}``.

        :raises InvalidInputError: if the object has the wrong shape or cannot be decoded.
        """
        if not isinstance(value, dict):
            raise InvalidInputError("status_list must be a JSON object")
        bits, lst = value.get("bits"), value.get("lst")
        if not isinstance(bits, int) or isinstance(bits, bool) or not isinstance(lst, str):
            raise InvalidInputError('status_list needs an integer "bits" and a string "lst"')
        return cls.decode(lst, bits=bits, max_bytes=max_bytes)

    def __repr__(self) -> str:
        return f"TokenStatusList(size={self.size}, bits={self.bits})"


class Bitstring:
    """A W3C Bitstring Status List: MSB-first bits, GZIP, multibase base64url (``u`` prefix).

    :param size: the number of entries; at least :data:`BITSTRING_MIN_ENTRIES` unless ``data`` is given.
    :param status_size: bits per entry (``statusSize``, default 1).
    :param data: an existing uncompressed bitstring.
    :raises InvalidInputError: for a size below the spec's minimum or a bad ``status_size``.
    """

    __slots__ = ("_data", "status_size")

    def __init__(
        self, size: int = BITSTRING_MIN_ENTRIES, *, status_size: int = 1, data: bytes | bytearray | None = None
    ) -> None:
        if not isinstance(status_size, int) or not 1 <= status_size <= 8:
            raise InvalidInputError("statusSize must be an integer between 1 and 8")
        self.status_size = status_size
        if data is not None:
            self._data = bytearray(data)
        else:
            if size < BITSTRING_MIN_ENTRIES:
                raise InvalidInputError(f"a bitstring status list has at least {BITSTRING_MIN_ENTRIES} entries")
            self._data = bytearray(-(-size * status_size // 8))

    @property
    def size(self) -> int:
        """How many entries the bitstring holds."""
        return len(self._data) * 8 // self.status_size

    def __len__(self) -> int:
        return self.size

    def _check_index(self, index: int) -> None:
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < self.size:
            raise InvalidInputError(f"status list index is outside the list (size {self.size})")

    def get(self, index: int) -> int:
        """The status value at ``index`` (left-most bits first).

        :raises InvalidInputError: if ``index`` is outside the list.
        """
        self._check_index(index)
        value = 0
        start = index * self.status_size
        for pos in range(start, start + self.status_size):
            value = (value << 1) | ((self._data[pos // 8] >> (7 - pos % 8)) & 1)
        return value

    def set(self, index: int, value: int) -> None:
        """Set the status value at ``index``.

        :raises InvalidInputError: if ``index`` is outside the list or ``value`` does not fit.
        """
        self._check_index(index)
        if not isinstance(value, int) or not 0 <= value < (1 << self.status_size):
            raise InvalidInputError(f"status value must fit in {self.status_size} bit(s)")
        start = index * self.status_size
        for i, pos in enumerate(range(start, start + self.status_size)):
            bit = (value >> (self.status_size - 1 - i)) & 1
            mask = 0x80 >> (pos % 8)
            if bit:
                self._data[pos // 8] |= mask
            else:
                self._data[pos // 8] &= ~mask & 0xFF

    def to_bytes(self) -> bytes:
        """The uncompressed bitstring."""
        return bytes(self._data)

    def encode(self) -> str:
        """The ``encodedList`` value: GZIP, base64url without padding, ``u`` multibase prefix."""
        # mtime=0 keeps the encoding deterministic, so the same list always has the same digest.
        import gzip

        return "u" + b64url_encode(gzip.compress(bytes(self._data), compresslevel=9, mtime=0))

    @classmethod
    def decode(
        cls, encoded_list: str, *, status_size: int = 1, max_bytes: int = DEFAULT_MAX_INFLATED_BYTES
    ) -> Bitstring:
        """Parse an ``encodedList`` value.

        :raises InvalidInputError: without the ``u`` prefix, on bad base64url, a corrupt or oversized
            GZIP stream, or fewer than :data:`BITSTRING_MIN_ENTRIES` entries.
        """
        if not isinstance(encoded_list, str) or not encoded_list.startswith("u"):
            raise InvalidInputError('encodedList must be multibase base64url (starting with "u")')
        raw = b64url_decode(encoded_list[1:], what="encodedList")
        data = bounded_inflate(raw, container="gzip", max_bytes=max_bytes)
        if len(data) * 8 < BITSTRING_MIN_ENTRIES * status_size:
            raise InvalidInputError(
                f"bitstring status list is shorter than the {BITSTRING_MIN_ENTRIES} entries the spec requires"
            )
        return cls(status_size=status_size, data=data)

    def __repr__(self) -> str:
        return f"Bitstring(size={self.size}, status_size={self.status_size})"
