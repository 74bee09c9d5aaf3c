"""Residents' devices: enrolment with a one-time code, adding more phones, listing, removal."""

from __future__ import annotations

import json
from typing import Any

from vcsdk.errors import InvalidInputError, UnsupportedAlgorithmError
from vcsdk.keys import Key
from wallet_server.services._common import Clock, new_id, require_id, require_str, require_text, sha256_hex
from wallet_server.services.auth import Principal
from wallet_server.storage import Device, Store

__all__ = ["DeviceService", "normalize_enrolment_code", "parse_device_key"]

MAX_DEVICE_NAME = 80


def normalize_enrolment_code(code: str) -> str:
    """Upper-case, without the dashes and spaces people type between groups."""
    return "".join(ch for ch in code.upper() if ch not in "- ")


def parse_device_key(jwk: Any) -> Key:
    """A device's public P-256 JWK.

    :raises InvalidInputError: if it is not a JSON object, carries a private part, or is malformed.
    :raises UnsupportedAlgorithmError: if it is not an EC P-256 key.
    """
    if not isinstance(jwk, dict):
        raise InvalidInputError("public_jwk must be a JWK object")
    if "d" in jwk:
        # The device key's private half never leaves the phone.
        raise InvalidInputError("public_jwk must not contain a private key; send the public half only")
    key = Key.from_jwk(jwk)
    if key.curve != "P-256":
        raise UnsupportedAlgorithmError("device keys must be EC P-256 (ES256), as phone secure enclaves make")
    return key


class DeviceService:
    """Registers and removes devices; every method is scoped to one resident.

    :param store: the wallet store.
    :param clock: returns the current UTC time.
    :param max_devices: how many devices one resident may have.
    """

    def __init__(self, store: Store, *, clock: Clock, max_devices: int = 10) -> None:
        self._store = store
        self._clock = clock
        self._max_devices = max_devices

    def _new_device(self, jwk: Any, name: Any, resident_id: str) -> Device:
        key = parse_device_key(jwk)
        label = require_text(name, "name", max_len=MAX_DEVICE_NAME)
        public = json.dumps(key.public_jwk(), separators=(",", ":"), sort_keys=True)
        return Device(new_id("dev"), resident_id, key.thumbprint(), public, label, self._clock())

    async def enrol(self, code: Any, jwk: Any, name: Any) -> Device:
        """Register a resident's device with a one-time enrolment code from the city.

        :raises InvalidInputError: bad code format, key or name.
        :raises NotFoundError: the code is unknown, used or expired.
        :raises ConflictError: the key is already registered.
        :return: the new device.
        """
        text = normalize_enrolment_code(require_str(code, "code", max_len=64))
        device = self._new_device(jwk, name, "")
        return await self._store.enrol_device(sha256_hex(text), device, now=self._clock())

    async def add(self, principal: Principal, jwk: Any, name: Any) -> Device:
        """Register another phone for the calling resident.

        :raises InvalidInputError: bad key or name, or the resident has too many devices.
        :raises ConflictError: the key is already registered.
        """
        device = self._new_device(jwk, name, principal.resident_id)
        if len(await self._store.list_devices(principal.resident_id)) >= self._max_devices:
            raise InvalidInputError(f"a resident may register at most {self._max_devices} devices; remove one first")
        await self._store.add_device(device)
        return device

    async def list(self, principal: Principal) -> tuple[Device, ...]:
        """The calling resident's devices, oldest first."""
        return await self._store.list_devices(principal.resident_id)

    async def remove(self, principal: Principal, device_id: str) -> None:
        """Remove one of the resident's devices; its access and refresh tokens stop working at once.

        :raises NotFoundError: if the resident has no such device.
        """
        await self._store.delete_device(principal.resident_id, require_id(device_id, "device"))
