"""JSON wire shapes: JSON Schemas for the OpenAPI document and the functions that fill them.

Handlers serialise only through these functions, so the document and the answers cannot drift
apart unnoticed (the schemathesis suite checks every response against them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from wallet_server.services import Challenge, CredentialView, TokenPair
from wallet_server.services.admin import IssuedEnrolmentCode
from wallet_server.storage import Device, Resident

__all__ = [
    "SCHEMAS",
    "challenge_json",
    "credential_json",
    "credential_summary_json",
    "device_json",
    "enrolment_code_json",
    "resident_json",
    "tokens_json",
]

Schema = dict[str, Any]


def _obj(properties: dict[str, Schema], *, required: list[str] | None = None) -> Schema:
    return {"type": "object", "properties": properties, "required": required or list(properties)}


_ID: Schema = {"type": "string", "minLength": 1, "maxLength": 64}
_TIME: Schema = {"type": "string", "format": "date-time"}
_TOKEN: Schema = {"type": "string", "minLength": 1, "maxLength": 8192}
_UNVERIFIED: Schema = {"type": ["string", "null"], "description": "Read from the token, not verified."}
_NAME: Schema = {"type": "string", "minLength": 1, "maxLength": 80}
_FORMATS = ["dc+sd-jwt", "vc+sd-jwt", "jwt_vc_json", "vc+jwt"]

SCHEMAS: dict[str, Schema] = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details; `code` is the stable vcsdk error code.",
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "code": {"type": "string"},
            "request_id": {"type": "string"},
        },
        "required": ["type", "title", "status", "code"],
    },
    "Health": _obj({"status": {"type": "string", "enum": ["ok"]}}),
    "PublicJwk": {
        "type": "object",
        "description": "The device's EC P-256 public key as a JWK (never the private part).",
        "properties": {
            "kty": {"type": "string", "enum": ["EC"]},
            "crv": {"type": "string", "enum": ["P-256"]},
            "x": {"type": "string"},
            "y": {"type": "string"},
        },
        "required": ["kty", "crv", "x", "y"],
    },
    "Device": _obj(
        {"id": _ID, "name": {"type": "string"}, "jkt": {"type": "string"}, "created_at": _TIME}
    ),
    "DeviceList": _obj({"items": {"type": "array", "items": {"$ref": "#/components/schemas/Device"}}}),
    "DeviceCreate": _obj({"public_jwk": {"$ref": "#/components/schemas/PublicJwk"}, "name": _NAME}),
    "EnrolmentRequest": _obj(
        {
            "code": {"type": "string", "minLength": 1, "maxLength": 64},
            "public_jwk": {"$ref": "#/components/schemas/PublicJwk"},
            "name": _NAME,
        }
    ),
    "Enrolment": _obj({"resident_id": _ID, "device": {"$ref": "#/components/schemas/Device"}}),
    "Challenge": _obj({"nonce": {"type": "string"}, "audience": {"type": "string"}, "expires_at": _TIME}),
    "TokenRequest": _obj({"device_id": _ID, "assertion": _TOKEN}),
    "RefreshRequest": _obj({"refresh_token": {"type": "string", "minLength": 1, "maxLength": 128}}),
    "Tokens": _obj(
        {
            "access_token": {"type": "string"},
            "token_type": {"type": "string", "enum": ["DPoP"]},
            "expires_in": {"type": "integer"},
            "refresh_token": {"type": "string"},
            "resident_id": _ID,
            "device_id": _ID,
        }
    ),
    "Me": _obj({"resident_id": _ID, "device_id": _ID}),
    "CredentialCreate": _obj(
        {
            "credential": {"type": "string", "minLength": 1, "maxLength": 100_000},
            "format": {"type": "string", "enum": _FORMATS},
            "metadata": {"type": "object", "description": "Up to 8 KiB of JSON the app wants back in listings."},
        },
        required=["credential", "format"],
    ),
    "CredentialSummary": _obj(
        {
            "id": _ID,
            "format": {"type": "string"},
            "created_at": _TIME,
            "metadata": {"type": "object"},
            "issuer": _UNVERIFIED,
            "vct": _UNVERIFIED,
        }
    ),
    "Credential": _obj(
        {
            "id": _ID,
            "format": {"type": "string"},
            "created_at": _TIME,
            "metadata": {"type": "object"},
            "issuer": _UNVERIFIED,
            "vct": _UNVERIFIED,
            "credential": {"type": "string"},
        }
    ),
    "CredentialPage": _obj(
        {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/CredentialSummary"}},
            "next_cursor": {"type": ["string", "null"]},
        }
    ),
    "EnrolmentCodeRequest": {
        "type": "object",
        "properties": {"resident_id": {**_ID, "description": "Omit to enrol a new resident."}},
    },
    "EnrolmentCode": _obj({"code": {"type": "string"}, "resident_id": _ID, "expires_at": _TIME}),
    "Resident": _obj({"id": _ID, "status": {"type": "string", "enum": ["active", "suspended"]}, "created_at": _TIME}),
    "ResidentPage": _obj(
        {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Resident"}},
            "next_cursor": {"type": ["string", "null"]},
        }
    ),
}


def _time(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def device_json(device: Device) -> dict[str, Any]:
    return {"id": device.id, "name": device.name, "jkt": device.jkt, "created_at": _time(device.created_at)}


def challenge_json(challenge: Challenge) -> dict[str, Any]:
    return {"nonce": challenge.nonce, "audience": challenge.audience, "expires_at": _time(challenge.expires_at)}


def tokens_json(tokens: TokenPair) -> dict[str, Any]:
    return {
        "access_token": tokens.access_token,
        "token_type": "DPoP",
        "expires_in": tokens.expires_in,
        "refresh_token": tokens.refresh_token,
        "resident_id": tokens.resident_id,
        "device_id": tokens.device_id,
    }


def credential_summary_json(view: CredentialView) -> dict[str, Any]:
    return {
        "id": view.id,
        "format": view.format,
        "created_at": _time(view.created_at),
        "metadata": view.metadata,
        "issuer": view.issuer,
        "vct": view.vct,
    }


def credential_json(view: CredentialView) -> dict[str, Any]:
    return {**credential_summary_json(view), "credential": view.credential}


def enrolment_code_json(issued: IssuedEnrolmentCode) -> dict[str, Any]:
    return {"code": issued.code, "resident_id": issued.resident_id, "expires_at": _time(issued.expires_at)}


def resident_json(resident: Resident) -> dict[str, Any]:
    return {"id": resident.id, "status": resident.status, "created_at": _time(resident.created_at)}
