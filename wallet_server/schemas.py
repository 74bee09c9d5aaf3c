"""JSON wire shapes: JSON Schemas for the OpenAPI document and the functions that fill them.

Handlers serialise only through these functions, so the document and the answers cannot drift
apart unnoticed (the schemathesis suite checks every response against them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vcsdk.trust import Accreditation
from wallet_server.services import Challenge, CredentialSummary, CredentialView, TokenPair
from wallet_server.services.admin import Administrator, IssuedEnrolmentCode
from wallet_server.services.issuance import IssuanceOutcome
from wallet_server.services.receipts import AnchoringOverview
from wallet_server.services.registrations import RegisteredService, Release
from wallet_server.storage import Device, IssuedCredential, Offer, Resident, StatusListRecord

__all__ = [
    "BACK_OFFICE_SCHEMAS",
    "SCHEMAS",
    "accreditation_json",
    "admin_json",
    "anchoring_json",
    "challenge_json",
    "credential_json",
    "credential_summary_json",
    "device_json",
    "enrolment_code_json",
    "issuance_outcome_json",
    "issued_credential_json",
    "offer_json",
    "release_json",
    "resident_json",
    "service_registration_json",
    "status_list_json",
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

_INT: Schema = {"type": "integer"}
_NULLABLE_TIME: Schema = {"type": ["string", "null"], "format": "date-time"}
_TEXT = {"type": "string", "minLength": 1, "maxLength": 300}
_NAME_PART = {"type": "string", "minLength": 1, "maxLength": 100}

_PATH_STEP: Schema = {"type": ["string", "integer", "null"], "maxLength": 200}
_CLAIM_SET: Schema = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": 64},
        "vct": {"type": "string", "minLength": 1, "maxLength": 512},
        "paths": {
            "type": "array", "minItems": 1, "maxItems": 64,
            "items": {"type": "array", "minItems": 1, "maxItems": 16, "items": _PATH_STEP},
            "description": "DCQL claims path pointers the service may ask for (a prefix allows what is below it).",
        },
    },
    "required": ["id", "vct", "paths"],
}
_PURPOSE: Schema = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": 64},
        "description": {"type": "string", "minLength": 1, "maxLength": 500},
    },
    "required": ["id", "description"],
}
_PERIOD: Schema = {"type": "string", "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$", "description": "a month, YYYY-MM"}

_DISTRICT: Schema = {
    "type": "object",
    "properties": {
        "district": {"type": "string", "minLength": 1, "maxLength": 64},
        "city": {"type": "string", "minLength": 1, "maxLength": 100},
        "postal_code_prefixes": {
            "type": "array", "maxItems": 64, "items": {"type": "string", "minLength": 1, "maxLength": 8},
        },
    },
    "required": ["district", "city", "postal_code_prefixes"],
}
_ELECTION: Schema = {
    "type": "object",
    "description": "An election as vcsdk.voting.Election.to_json writes it.",
    "properties": {
        "election_id": {"type": "string"},
        "title": {"type": "string"},
        "choices": {"type": "array", "items": {"type": "string"}},
        "districts": {"type": "array", "items": _DISTRICT},
        "election_day": {"type": "string", "format": "date"},
        "opens_at": _TIME,
        "closes_at": _TIME,
        "minimum_age": _INT,
    },
}

#: The city's elections (vcsdk.voting): creation, the on-chain key commitment, the period, the tally.
ELECTION_SCHEMAS: dict[str, Schema] = {
    "ElectionCreate": {
        "type": "object",
        "description": "A new election; its token keys are generated and kept sealed by the server.",
        "properties": {
            "election_id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,62}$"},
            "title": {"type": "string", "minLength": 1, "maxLength": 200},
            "choices": {
                "type": "array", "minItems": 2, "maxItems": 64,
                "items": {"type": "string", "minLength": 1, "maxLength": 200},
            },
            "districts": {"type": "array", "maxItems": 64, "items": _DISTRICT},
            "election_day": {"type": "string", "format": "date", "maxLength": 10},
            "opens_at": {**_TIME, "maxLength": 40, "description": "with a time zone; later than now"},
            "closes_at": {**_TIME, "maxLength": 40},
            "minimum_age": {"type": "integer", "minimum": 0, "maximum": 150},
            "per_district": {"type": "boolean", "description": "one token key per district (else one key)"},
            "voting_service_url": {"type": "string", "minLength": 1, "maxLength": 1024,
                                   "description": "The voting service's base URL (its GET / and /results)."},
            "voting_service_name": {"type": "string", "minLength": 1, "maxLength": 200},
        },
        "required": ["election_id", "title", "choices", "districts", "election_day", "opens_at", "closes_at",
                     "voting_service_url"],
    },
    "ElectionCommit": {
        "type": "object",
        "properties": {
            "anchorer": {"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$",
                         "description": "The voting service's account, allowed to anchor ballot batches."},
        },
    },
    "Election": _obj(
        {
            "election_id": {"type": "string"},
            "state": {"type": "string", "enum": ["draft", "committed", "open", "closed", "published"]},
            "election": _ELECTION,
            "per_district": {"type": "boolean"},
            "token_keys": {"type": "array", "items": {"type": "object"},
                           "description": "vcsdk.voting.TokenKey.to_json of each key"},
            "voting_service_url": {"type": "string"},
            "voting_service_name": {"type": ["string", "null"]},
            "token_issuer": {"type": "string", "description": "The ballot-token issuer's URL (its audience)."},
            "credential_issuer": {"type": "string", "description": "The eligibility credential's OpenID4VCI issuer."},
            "anchor": {
                "type": ["object", "null"],
                "description": "The anchor contract holding the token key commitments, once committed.",
            },
            "tally": {"type": ["object", "null"], "description": "The verified tally, once published."},
            "ballot_page": {"type": ["string", "null"],
                            "description": "The web wallet's ballot page for the election (committed or open)."},
            "created_by": {"type": "string"},
            "created_at": _TIME,
            "updated_at": _TIME,
        }
    ),
    "ElectionList": _obj({"items": {"type": "array", "items": {"$ref": "#/components/schemas/Election"}}}),
    "EligibilityOfferRequest": {
        "type": "object",
        "description": "The identity the resident states, checked against the resident registry.",
        "properties": {
            "family_name": {"type": "string", "minLength": 1, "maxLength": 100},
            "given_name": {"type": "string", "minLength": 1, "maxLength": 100},
            "birthdate": {"type": "string", "format": "date", "maxLength": 10},
            "address": {"type": "string", "minLength": 1, "maxLength": 300},
        },
        "required": ["family_name", "given_name", "birthdate", "address"],
    },
    "EligibilityOfferOutcome": _obj(
        {
            "outcome": {"type": "string", "enum": ["offered", "not_eligible"]},
            "offer_uri": {"type": ["string", "null"], "description": "openid-credential-offer:// link"},
            "tx_code": {"type": ["string", "null"], "description": "The PIN, shown once; deliver it separately."},
            "district": {"type": ["string", "null"]},
            "reason": {"type": ["string", "null"], "description": "why nothing is offered"},
        }
    ),
}

#: The city's registered services and open-data releases.
SERVICE_SCHEMAS: dict[str, Schema] = {
    "ServiceRegistrationRequest": {
        "type": "object",
        "description": "What a service may ask and why; the city signs it (vcsdk.registration).",
        "properties": {
            "service_did": {"type": "string", "minLength": 1, "maxLength": 300},
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "purposes": {"type": "array", "minItems": 1, "maxItems": 32, "items": _PURPOSE},
            "claim_sets": {"type": "array", "minItems": 1, "maxItems": 32, "items": _CLAIM_SET},
            "retention_days": {"type": "integer", "minimum": 0, "maximum": 36500},
            "receipt_endpoint": {"type": "string", "minLength": 1, "maxLength": 1024},
            "privacy_policy": {"type": "string", "minLength": 1, "maxLength": 1024},
            "jurisdiction": {"type": "string", "minLength": 2, "maxLength": 6},
            "recipients": {
                "type": "array", "maxItems": 32, "items": {"type": "string", "minLength": 1, "maxLength": 200},
            },
            "valid_days": {"type": "integer", "minimum": 1, "maximum": 3650},
        },
        "required": ["service_did", "name", "purposes", "claim_sets", "retention_days", "receipt_endpoint",
                     "privacy_policy"],
    },
    "SsoClientRequest": {
        "type": "object",
        "description": "The OpenID Connect settings of a registered service (vcsdk.sso): redirect URIs (exact "
                       "match), how it authenticates at the token endpoint, where logout may send the browser.",
        "properties": {
            "registration_id": {"type": "string", "minLength": 1, "maxLength": 128},
            "redirect_uris": {
                "type": "array", "minItems": 1, "maxItems": 10, "items": {"type": "string", "maxLength": 1024},
            },
            "token_endpoint_auth_method": {"type": "string", "enum": ["client_secret_basic", "private_key_jwt"]},
            "jwks": {"type": "object", "description": "The client's public keys, for private_key_jwt."},
            "post_logout_redirect_uris": {
                "type": "array", "maxItems": 10, "items": {"type": "string", "maxLength": 1024},
            },
            "backchannel_logout_uri": {"type": "string", "maxLength": 1024},
            "id_token_signed_response_alg": {
                "type": "string", "enum": ["ES256", "RS256"],
                "description": "How the client's ID tokens are signed: ES256 (the city's P-256 key, the default) "
                               "or RS256 (the provider's RSA key).",
            },
        },
        "required": ["registration_id", "redirect_uris"],
        "additionalProperties": False,
    },
    "SsoClient": _obj(
        {
            "client_id": {"type": "string"},
            "client_secret": {"type": "string", "description": "Shown once (client_secret_basic)."},
            "registration_id": {"type": "string"},
            "issuer": {"type": "string", "description": "The provider's issuer URL (discovery under it)."},
            "redirect_uris": {"type": "array", "items": {"type": "string"}},
            "token_endpoint_auth_method": {"type": "string"},
            "post_logout_redirect_uris": {"type": "array", "items": {"type": "string"}},
            "id_token_signed_response_alg": {"type": "string", "enum": ["ES256", "RS256"]},
        },
        required=["client_id", "registration_id", "issuer", "redirect_uris", "token_endpoint_auth_method"],
    ),
    "ServiceRegistration": _obj(
        {
            "id": _ID,
            "service_did": {"type": "string"},
            "name": {"type": "string"},
            "purposes": {"type": "array", "items": _PURPOSE},
            "claim_sets": {"type": "array", "items": _CLAIM_SET},
            "retention_days": _INT,
            "receipt_endpoint": {"type": "string"},
            "privacy_policy": {"type": "string"},
            "jurisdiction": {"type": "string"},
            "recipients": {"type": "array", "items": {"type": "string"}},
            "issued_at": _TIME,
            "expires_at": _TIME,
            "created_by": {"type": "string"},
            "registration": {"type": "string", "description": "The signed registration (compact JWS) for the service."},
            "withdrawable": {
                "type": "boolean",
                "description": "It carries an entry in the city's status lists (registrations signed before had none).",
            },
            "withdrawn_at": {"type": ["string", "null"], "format": "date-time"},
            "withdrawn_by": {"type": ["string", "null"]},
        }
    ),
    "ServiceRegistrationPage": _obj(
        {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/ServiceRegistration"}},
            "next_cursor": {"type": ["string", "null"]},
        }
    ),
    "OpenDataExportRequest": {
        "type": "object",
        "properties": {
            "period": _PERIOD,
            "epsilon": {"type": "number", "minimum": 0.001, "maximum": 10},
            "k_threshold": {"type": "integer", "minimum": 10, "maximum": 1000000, "description": "at least 10"},
        },
        "required": ["period", "epsilon"],
    },
    "OpenDataRelease": _obj(
        {
            "id": {"type": "string"},
            "period": {"type": "string"},
            "seq": _INT,
            "epsilon": {"type": "string"},
            "k_threshold": _INT,
            "created_by": {"type": "string"},
            "created_at": _TIME,
            "statistics": {
                "type": "object",
                "description": "The release as published: parameters (mechanism, epsilon, sensitivity, noise "
                "scale, k, period, guarantee) and every cell (count null when suppressed).",
            },
        }
    ),
    "OpenDataReleaseList": _obj(
        {"items": {"type": "array", "items": {"$ref": "#/components/schemas/OpenDataRelease"}}}
    ),
    "PrivacyLedger": {
        "type": "object",
        "description": "The budget ledger (vcsdk-privacy-ledger-1): budget per month and every release's epsilon.",
        "properties": {
            "version": {"type": "string"},
            "budget_per_period": {"type": "string"},
            "entries": {"type": "array", "items": {"type": "object"}},
        },
        "required": ["version", "budget_per_period", "entries"],
    },
}

#: The city back office: issuance after KYC, issued credentials, status lists, accreditation.
BACK_OFFICE_SCHEMAS: dict[str, Schema] = {
    "IssuanceRequest": {
        "type": "object",
        "description": "The resident's claimed identity, checked against the resident registry.",
        "properties": {
            "resident_id": _ID,
            "family_name": _NAME_PART,
            "given_name": _NAME_PART,
            "birthdate": {"type": "string", "format": "date", "minLength": 10, "maxLength": 10},
            "address": _TEXT,
            "device_id": {**_ID, "description": "The device KYC checks the key of; the newest by default."},
        },
        "required": ["resident_id", "family_name", "given_name", "birthdate", "address"],
    },
    "IssuanceOffer": _obj(
        {
            "id": _ID,
            "resident_id": _ID,
            "configuration_id": {"type": "string"},
            "offer_uri": {"type": "string", "description": "openid-credential-offer:// URI (offer by reference)"},
            "created_at": _TIME,
            "expires_at": _TIME,
            "state": {"type": "string", "enum": ["pending", "redeemed", "declined", "expired"]},
        }
    ),
    "IssuanceOutcome": _obj(
        {
            "outcome": {"type": "string", "enum": ["verified", "partial_match", "no_match", "not_active"]},
            "offer": {"oneOf": [{"$ref": "#/components/schemas/IssuanceOffer"}, {"type": "null"}]},
            "tx_code": {"type": ["string", "null"], "description": "Deliver out of band; shown once."},
            "matched_fields": {"type": "array", "items": {"type": "string"}},
            "status": {"type": ["string", "null"], "description": "For not_active: moved_out or deceased."},
        }
    ),
    "IssuedCredential": _obj(
        {
            "id": _ID,
            "offer_id": _ID,
            "resident_id": _ID,
            "configuration_id": {"type": "string"},
            "vct": {"type": "string"},
            "status_list_id": _INT,
            "status_index": _INT,
            "issued_at": _TIME,
            "expires_at": _NULLABLE_TIME,
            "state": {"type": "string", "enum": ["valid", "suspended", "revoked"]},
            "updated_at": _TIME,
        }
    ),
    "IssuedCredentialPage": _obj(
        {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/IssuedCredential"}},
            "next_cursor": {"type": ["string", "null"]},
        }
    ),
    "IssuedCredentialList": _obj(
        {"items": {"type": "array", "items": {"$ref": "#/components/schemas/IssuedCredential"}}}
    ),
    "StatusList": _obj(
        {
            "id": _INT,
            "uri": {"type": "string"},
            "size": _INT,
            "allocated": _INT,
            "version": _INT,
            "published_at": _NULLABLE_TIME,
            "published_version": {"type": ["integer", "null"]},
            "anchored_version": {"type": ["integer", "null"]},
        }
    ),
    "StatusListList": _obj({"items": {"type": "array", "items": {"$ref": "#/components/schemas/StatusList"}}}),
    "AccreditationRequest": {
        "type": "object",
        "properties": {
            "issuer": {**_TEXT, "description": "The issuer's DID."},
            "credential_type": {**_TEXT, "description": "A vct or W3C credential type."},
            "valid_from": {"type": "string", "format": "date-time", "maxLength": 40},
            "valid_until": {"type": "string", "format": "date-time", "maxLength": 40},
        },
        "required": ["issuer", "credential_type"],
    },
    "AccreditationRef": _obj({"issuer": _TEXT, "credential_type": _TEXT}),
    "Accreditation": _obj(
        {
            "issuer": {"type": "string"},
            "credential_type": {"type": "string"},
            "state": {"type": "string", "enum": ["accredited", "suspended", "revoked"]},
            "valid_from": _TIME,
            "valid_until": _NULLABLE_TIME,
            "suspended_since": _NULLABLE_TIME,
            "revoked_at": _NULLABLE_TIME,
        }
    ),
    "City": _obj(
        {
            "did": {"type": "string"},
            "chain_id": _INT,
            "contracts": {"type": "object", "additionalProperties": {"type": "string"}},
            "credential_issuer": {"type": "string"},
        }
    ),
}

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
    "Ready": _obj(
        {
            "status": {"type": "string", "enum": ["ready", "not_ready"]},
            "checks": {
                "type": "object",
                "description": "Each dependency: ok, down (failed or timed out) or not_configured.",
                "additionalProperties": {"type": "string", "enum": ["ok", "down", "not_configured"]},
            },
        }
    ),
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
    "AdminMe": _obj(
        {
            "name": {"type": "string", "description": "The configured token's name."},
            "roles": {"type": "array", "items": {"type": "string", "enum": ["issuer", "operator"]}},
        }
    ),
    "AnchoringBatch": _obj(
        {
            "batch_id": {"type": "string", "description": "hex"},
            "root": {"type": "string", "description": "hex Merkle root (what goes on chain)"},
            "size": _INT,
            "state": {"type": "string", "enum": ["pending", "sent", "final"]},
            "created_at": _TIME,
            "tx_hash": {"type": ["string", "null"]},
            "block_number": {"type": ["integer", "null"]},
            "final_at": _NULLABLE_TIME,
            "attempts": _INT,
        }
    ),
    "Anchoring": _obj(
        {
            "queued": {**_INT, "description": "receipts waiting for a batch"},
            "open_batches": {**_INT, "description": "batches sent or pending, not yet final"},
            "batches": {"type": "array", "items": {"$ref": "#/components/schemas/AnchoringBatch"}},
            "batch_size": _INT,
            "max_age_seconds": _INT,
            "confirmations": _INT,
        }
    ),
    **BACK_OFFICE_SCHEMAS,
    **SERVICE_SCHEMAS,
    **ELECTION_SCHEMAS,
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


def credential_summary_json(view: CredentialView | CredentialSummary) -> dict[str, Any]:
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


def _opt_time(value: datetime | None) -> str | None:
    return None if value is None else _time(value)


def offer_json(offer: Offer) -> dict[str, Any]:
    return {
        "id": offer.id,
        "resident_id": offer.resident_id,
        "configuration_id": offer.configuration_id,
        "offer_uri": offer.offer_uri,
        "created_at": _time(offer.created_at),
        "expires_at": _time(offer.expires_at),
        "state": offer.state,
    }


def issuance_outcome_json(outcome: IssuanceOutcome) -> dict[str, Any]:
    return {
        "outcome": outcome.kind,
        "offer": None if outcome.offer is None else offer_json(outcome.offer),
        "tx_code": outcome.tx_code,
        "matched_fields": list(outcome.matched_fields),
        "status": outcome.status,
    }


def issued_credential_json(credential: IssuedCredential) -> dict[str, Any]:
    return {
        "id": credential.id,
        "offer_id": credential.offer_id,
        "resident_id": credential.resident_id,
        "configuration_id": credential.configuration_id,
        "vct": credential.vct,
        "status_list_id": credential.status_list_id,
        "status_index": credential.status_index,
        "issued_at": _time(credential.issued_at),
        "expires_at": _opt_time(credential.expires_at),
        "state": credential.state,
        "updated_at": _time(credential.updated_at),
    }


def status_list_json(record: StatusListRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "uri": record.uri,
        "size": record.size,
        "allocated": record.allocated,
        "version": record.version,
        "published_at": _opt_time(record.published_at),
        "published_version": record.published_version,
        "anchored_version": record.anchored_version,
    }


def accreditation_json(accreditation: Accreditation) -> dict[str, Any]:
    return {
        "issuer": accreditation.issuer or "",
        "credential_type": accreditation.credential_type or "",
        "state": accreditation.state,
        "valid_from": _time(accreditation.valid_from),
        "valid_until": _opt_time(accreditation.valid_until),
        "suspended_since": _opt_time(accreditation.suspended_since),
        "revoked_at": _opt_time(accreditation.revoked_at),
    }


def admin_json(admin: Administrator) -> dict[str, Any]:
    return {"name": admin.name, "roles": sorted(admin.roles)}


def anchoring_json(overview: AnchoringOverview) -> dict[str, Any]:
    return {
        "queued": overview.queued,
        "open_batches": overview.open_batches,
        "batches": [
            {
                "batch_id": b.batch_id.hex(),
                "root": "0x" + b.root.hex(),
                "size": b.size,
                "state": b.state,
                "created_at": _time(b.created_at),
                "tx_hash": b.tx_hash,
                "block_number": b.block_number,
                "final_at": _opt_time(b.final_at),
                "attempts": b.attempts,
            }
            for b in overview.recent
        ],
        "batch_size": overview.batch_size,
        "max_age_seconds": int(overview.max_age.total_seconds()),
        "confirmations": overview.confirmations,
    }


def service_registration_json(item: RegisteredService) -> dict[str, Any]:
    r = item.registration
    return {
        "id": item.row.id,
        "service_did": r.service_did,
        "name": r.name,
        "purposes": [{"id": p.id, "description": p.description} for p in r.purposes],
        "claim_sets": [{"id": c.id, "vct": c.vct, "paths": [list(p) for p in c.paths]} for c in r.claim_sets],
        "retention_days": r.retention_days,
        "receipt_endpoint": r.receipt_endpoint,
        "privacy_policy": r.privacy_policy,
        "jurisdiction": r.jurisdiction,
        "recipients": list(r.recipients),
        "issued_at": _time(r.issued_at),
        "expires_at": _time(r.expires_at),
        "created_by": item.row.created_by,
        "registration": item.row.token,
        "withdrawable": item.row.status_list_id is not None,
        "withdrawn_at": _time(item.row.withdrawn_at) if item.row.withdrawn_at is not None else None,
        "withdrawn_by": item.row.withdrawn_by,
    }


def release_json(release: Release) -> dict[str, Any]:
    row = release.row
    return {
        "id": row.id,
        "period": row.period,
        "seq": row.seq,
        "epsilon": row.epsilon,
        "k_threshold": row.k_threshold,
        "created_by": row.created_by,
        "created_at": _time(row.created_at),
        "statistics": release.body,
    }
