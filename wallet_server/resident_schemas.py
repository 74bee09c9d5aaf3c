"""JSON wire shapes of the resident's offers, presentations, consents and receipts.

Merged into :data:`wallet_server.schemas.SCHEMAS` (so the OpenAPI document publishes them and
request bodies are validated against them); the functions below are the only way handlers
serialise these values.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, get_args

from vcsdk.receipts import ConsentRecord
from wallet_server.services.presentations import PresentationView
from wallet_server.services.receipts import ConsentView, PrivacySettings, ReceiptView
from wallet_server.services.wallet import OfferView, ProofSigningRequest
from wallet_server.storage import PresentationState, ViolationRow, ViolationSummary

__all__ = [
    "RESIDENT_SCHEMAS",
    "consent_json",
    "offer_json",
    "presentation_json",
    "privacy_json",
    "proof_request_json",
    "receipt_json",
    "violation_json",
    "violation_summary_json",
]

Schema = dict[str, Any]


def _obj(properties: dict[str, Schema], *, required: list[str] | None = None) -> Schema:
    return {"type": "object", "properties": properties, "required": list(properties) if required is None else required}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _page(item: str) -> Schema:
    return _obj({"items": {"type": "array", "items": _ref(item)}, "next_cursor": {"type": ["string", "null"]}})


_ID: Schema = {"type": "string", "minLength": 1, "maxLength": 64}
_TIME: Schema = {"type": "string", "format": "date-time"}
_STRINGS: Schema = {"type": "array", "items": {"type": "string"}}
_PATH: Schema = {
    "type": "array",
    "description": "A DCQL claims path pointer: names, array indexes, null for every element.",
    "items": {"type": ["string", "integer", "null"]},
}
_SIGNATURE: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": 200,
    "description": "base64url (no padding) of the raw ES256 signature (R || S, 64 bytes) over signing_input.",
}

RESIDENT_SCHEMAS: dict[str, Schema] = {
    "TxCode": _obj(
        {
            "input_mode": {"type": "string", "enum": ["numeric", "text"]},
            "length": {"type": "integer"},
            "description": {"type": "string"},
        },
        required=["input_mode", "length"],
    ),
    "Offer": _obj(
        {
            "id": _ID,
            "state": {"type": "string", "enum": ["pending", "accepting", "redeemed", "declined", "expired", "failed"]},
            "credential_issuer": {"type": "string"},
            "configuration_ids": _STRINGS,
            "tx_code": {
                "anyOf": [_ref("TxCode"), {"type": "null"}],
                "description": "Present when the issuer sent a PIN out of band; ask the resident for it.",
            },
            "created_at": _TIME,
            "expires_at": _TIME,
            "credential_id": {"type": ["string", "null"]},
        }
    ),
    "OfferPage": _page("Offer"),
    "OfferScan": _obj({"offer_uri": {"type": "string", "minLength": 1, "maxLength": 8192}}),
    "OfferAccept": _obj(
        {
            "tx_code": {"type": "string", "minLength": 1, "maxLength": 32},
            "custodial": {
                "type": "boolean",
                "description": "Custodial option only: the server signs with a key it holds for the resident.",
            },
            "keys": {
                "type": "array",
                "minItems": 1,
                "maxItems": 20,
                "items": {"type": "object"},
                "description": "Public JWKs of fresh P-256 keys this phone made, one per credential copy (batch "
                "issuance): each copy is bound to its own key and shown to one service only. Without keys, one "
                "copy bound to the device key.",
            },
        },
        required=[],
    ),
    "ProofSigningRequest": _obj(
        {
            "offer_id": _ID,
            "signing_input": {"type": "string", "description": "Sign these ASCII bytes with the device key (ES256)."},
            "alg": {"type": "string", "enum": ["ES256"]},
            "expires_at": _TIME,
            "signing_inputs": {
                "type": "array",
                "items": _obj({"jwk": {"type": "object"}, "signing_input": {"type": "string"}}),
                "description": "One key proof per copy: sign each with the private half of its jwk.",
            },
        },
        required=["offer_id", "signing_input", "alg", "expires_at"],
    ),
    "OfferAcceptResult": {
        "anyOf": [_ref("ProofSigningRequest"), _ref("CredentialSummary")],
        "description": "What to sign next; or, with the custodial option, the stored credential.",
    },
    "OfferSignature": _obj(
        {
            "signature": _SIGNATURE,
            "signatures": {
                "type": "array",
                "minItems": 1,
                "maxItems": 20,
                "items": _SIGNATURE,
                "description": "One signature per signing input, in order (several copies).",
            },
        },
        required=[],
    ),
    "OfferRefill": _obj(
        {
            "keys": {
                "type": "array",
                "minItems": 1,
                "maxItems": 20,
                "items": {"type": "object"},
                "description": "Public JWKs of fresh P-256 keys this phone made, one per new copy.",
            }
        }
    ),
    "RefillSignatures": _obj(
        {
            "signatures": {
                "type": "array",
                "minItems": 1,
                "maxItems": 20,
                "items": _SIGNATURE,
                "description": "One signature per signing input of the refill, in order.",
            }
        }
    ),
    "PresentationStart": _obj({"request_uri": {"type": "string", "minLength": 1, "maxLength": 8192}}),
    "PresentationSelection": _obj({"query_id": {"type": "string", "maxLength": 200}, "credential_id": _ID}),
    "PresentationConsent": _obj(
        {
            "selections": {"type": "array", "maxItems": 16, "items": _ref("PresentationSelection")},
            "custodial": {"type": "boolean"},
        },
        required=[],
    ),
    "PresentationSignatureItem": _obj({"query_id": {"type": "string", "maxLength": 200}, "signature": _SIGNATURE}),
    "PresentationSignatures": _obj(
        {"signatures": {"type": "array", "minItems": 1, "maxItems": 16, "items": _ref("PresentationSignatureItem")}}
    ),
    "Presentation": _obj(
        {
            "id": _ID,
            "state": {
                "type": "string",
                "enum": list(get_args(PresentationState)),
                "description": "unknown: the server stopped while sending the presentation, so the service may "
                "or may not have received it (outcome.error is delivery_unknown); it is never sent again: start "
                "again from the service's QR code.",
            },
            "created_at": _TIME,
            "expires_at": _TIME,
            "service": _obj({"did": {"type": "string"}, "name": {"type": ["string", "null"]}}),
            "purpose": {"type": ["string", "null"]},
            "satisfiable": {"type": "boolean"},
            "credentials": {
                "type": "array",
                "description": "Per requested credential: the stored credentials that answer it and the exact "
                "claims each would share. The first option is the default.",
                "items": _obj(
                    {
                        "query_id": {"type": "string"},
                        "options": {
                            "type": "array",
                            "items": _obj(
                                {
                                    "credential_id": _ID,
                                    "claims": {"type": "array", "items": _PATH},
                                    "copies_left": {
                                        "type": ["integer", "null"],
                                        "description": "A copy of a batch: how many copies never shown remain "
                                        "after this one. null: bound to the device key, the same in every "
                                        "presentation (linkable).",
                                    },
                                },
                                required=["credential_id", "claims"],
                            ),
                        },
                    }
                ),
            },
            "signing_inputs": {
                "type": "array",
                "items": _obj(
                    {
                        "query_id": {"type": "string"},
                        "credential_id": _ID,
                        "signing_input": {"type": "string"},
                        "alg": {"type": "string", "enum": ["ES256"]},
                        "jwk": {
                            "type": ["object", "null"],
                            "description": "The public key the credential copy is bound to: sign with its "
                            "private half.",
                        },
                    },
                    required=["query_id", "credential_id", "signing_input", "alg"],
                ),
            },
            "outcome": {
                "type": "object",
                "description": "consent_id, claims, receipt_id; redirect_uri (only in the answer that shares, "
                "never stored); error (access_denied, delivery_unknown, or the service's error code), "
                "receipt_error or consent_error codes. "
                "When the wallet refused the request itself (state refused, refused_by wallet): error is "
                "service_not_registered or request_not_registered and reason is a sentence for the resident.",
            },
            "refill": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Batches of credential copies (by offer id) to refill with POST "
                "/v1/offers/{id}/refill: no copy left that may be shown to this service (not offered), or the "
                "one offered is the last.",
            },
            "registration": {
                "type": ["object", "null"],
                "description": "What the city registered the service for: name, purposes (id, description), "
                "retention_days, privacy_policy, jurisdiction, recipients. Null when the wallet refused it.",
            },
        }
    ),
    "PresentationPage": _page("Presentation"),
    "Consent": _obj(
        {
            "id": {"type": "string"},
            "state": {"type": "string", "enum": ["given", "withdrawn"]},
            "service": _obj({"did": {"type": "string"}, "name": {"type": "string"}}),
            "purposes": _STRINGS,
            "claims": _STRINGS,
            "given_at": _TIME,
            "expires_at": {"type": ["string", "null"], "format": "date-time"},
            "withdrawn_at": {"type": ["string", "null"], "format": "date-time"},
            "presentation_id": {"type": "string"},
            "record": {"type": "object", "description": "The ISO/IEC TS 27560 consent record as kept."},
            "withdrawal": {
                "type": ["object", "null"],
                "description": "Once withdrawn: {delivered: true, receipt_id} when the service answered with a "
                "valid withdrawal receipt (anchored like an access receipt); {delivered: false, error} when it "
                "did not (a violation is recorded; withdraw again to retry).",
            },
        },
        required=["id", "state", "service", "purposes", "claims", "given_at", "expires_at", "withdrawn_at",
                  "presentation_id", "record"],
    ),
    "ConsentPage": _page("Consent"),
    "Receipt": _obj(
        {
            "id": {"type": "string"},
            "kind": {
                "type": "string",
                "enum": ["access", "withdrawal"],
                "description": "access: the service read claims; withdrawal: the service confirmed a withdrawal "
                "(no claims, empty purpose).",
            },
            "service_did": {"type": "string"},
            "consent_id": {"type": "string"},
            "claims": _STRINGS,
            "purpose": {"type": "string"},
            "accessed_at": _TIME,
            "state": {"type": "string", "enum": ["queued", "anchoring", "final"]},
            "proof_verified": {
                "type": "boolean",
                "description": "True when the inclusion proof was checked against the root on chain now.",
            },
            "entry": {
                "type": "object",
                "description": "RECEIPT.json: receipt, salt, state and, once batched, proof, root, tx_hash, "
                "block_number (what `vcsdk receipts verify-proof` reads).",
            },
        }
    ),
    "ReceiptPage": _page("Receipt"),
    "Violation": _obj(
        {
            "id": {"type": "string"},
            "service_did": {"type": "string"},
            "kind": {
                "type": "string",
                "enum": ["receipt_missing", "receipt_invalid", "withdrawal_unanswered", "withdrawal_receipt_invalid"],
            },
            "code": {"type": "string", "description": "The error behind it (e.g. signature_invalid)."},
            "ref_id": {"type": "string", "description": "The presentation or consent it concerns."},
            "created_at": _TIME,
        }
    ),
    "ViolationPage": _page("Violation"),
    "PrivacySettings": _obj(
        {
            "refuse_after_violation": {
                "type": "boolean",
                "description": "Refuse a service before the consent screen once it broke a promise (default true).",
            },
            "copy_policy": {
                "type": "string",
                "enum": ["one_time", "per_service"],
                "description": "one_time (default): a fresh credential copy for every presentation; per_service: "
                "one copy per service, shown to that service only.",
            },
        }
    ),
    "PrivacySettingsUpdate": {
        "type": "object",
        "properties": {
            "refuse_after_violation": {"type": "boolean"},
            "copy_policy": {"type": "string", "enum": ["one_time", "per_service"]},
        },
        "additionalProperties": False,
    },
    "ViolationSummary": _obj(
        {
            "items": {
                "type": "array",
                "items": _obj(
                    {
                        "service_did": {"type": "string"},
                        "kind": {"type": "string"},
                        "count": {"type": "integer"},
                        "last_at": _TIME,
                    }
                ),
            }
        }
    ),
}


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def offer_json(view: OfferView) -> dict[str, Any]:
    return {
        "id": view.id,
        "state": view.state,
        "credential_issuer": view.credential_issuer,
        "configuration_ids": list(view.configuration_ids),
        "tx_code": None if view.tx_code is None else view.tx_code.to_dict(),
        "created_at": _time(view.created_at),
        "expires_at": _time(view.expires_at),
        "credential_id": view.credential_id,
    }


def proof_request_json(request: ProofSigningRequest) -> dict[str, Any]:
    return {
        "offer_id": request.offer_id,
        "signing_input": request.signing_input,
        "alg": request.alg,
        "expires_at": _time(request.expires_at),
        "signing_inputs": [
            {"jwk": jwk, "signing_input": text} for jwk, text in zip(request.jwks, request.signing_inputs, strict=True)
        ],
    }


def presentation_json(view: PresentationView) -> dict[str, Any]:
    return {
        "id": view.id,
        "state": view.state,
        "created_at": _time(view.created_at),
        "expires_at": _time(view.expires_at),
        "service": {"did": view.service_did, "name": view.service_name},
        "purpose": view.purpose,
        "satisfiable": view.satisfiable,
        "credentials": [
            {
                "query_id": c["query_id"],
                "options": [
                    {"credential_id": o["credential_id"], "claims": o["claims"], "copies_left": o.get("copies_left")}
                    for o in c["options"]
                ],
            }
            for c in view.credentials
        ],
        "signing_inputs": list(view.signing_inputs),
        "outcome": view.outcome,
        "registration": view.registration,
        "refill": list(view.refill),
    }


def consent_json(view: ConsentView) -> dict[str, Any]:
    record: ConsentRecord = view.record
    return {
        "id": record.record_id,
        "state": record.state,
        "service": {"did": record.controller.did, "name": record.controller.name},
        "purposes": list(record.purposes),
        "claims": list(record.claims_disclosed),
        "given_at": _time(record.given_at),
        "expires_at": _time(record.expires_at),
        "withdrawn_at": _time(record.withdrawn_at),
        "presentation_id": view.presentation_id,
        "record": dict(record.to_json()),
        "withdrawal": view.withdrawal,
    }


def receipt_json(view: ReceiptView) -> dict[str, Any]:
    receipt = view.receipt
    return {
        "id": receipt.receipt_id,
        "kind": receipt.kind,
        "service_did": receipt.service_did,
        "consent_id": receipt.consent_id,
        "claims": list(receipt.claims_accessed),
        "purpose": receipt.purpose,
        "accessed_at": _time(receipt.accessed_at),
        "state": view.entry.state,
        "proof_verified": view.proof_verified,
        "entry": dict(view.entry.to_json()),
    }


def violation_json(row: ViolationRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "service_did": row.service_did,
        "kind": row.kind,
        "code": row.code,
        "ref_id": row.ref_id,
        "created_at": _time(row.created_at),
    }


def violation_summary_json(rows: list[ViolationSummary]) -> dict[str, Any]:
    return {
        "items": [
            {"service_did": r.service_did, "kind": r.kind, "count": r.count, "last_at": _time(r.last_at)} for r in rows
        ]
    }


def privacy_json(settings: PrivacySettings) -> dict[str, Any]:
    return {"refuse_after_violation": settings.refuse_after_violation, "copy_policy": settings.copy_policy}
