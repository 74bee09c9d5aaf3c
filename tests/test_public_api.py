"""Each package's public names, pinned: exporting or dropping a name is a deliberate act (httpx does this)."""

from __future__ import annotations

import importlib

import pytest

PUBLIC_API: dict[str, set[str]] = {
    "vcsdk": {"City", "Key", "Service", "__version__"},
    "vcsdk.recipes": {"City", "Service"},
    "vcsdk.blindrsa": {
        "ALLOWED_MODULUS_BITS", "BlindRsaVariant", "Blinded", "PUBLIC_EXPONENT", "RSABSSA_SHA384_PSSZERO_DETERMINISTIC",
        "RSABSSA_SHA384_PSSZERO_RANDOMIZED", "RSABSSA_SHA384_PSS_DETERMINISTIC", "RSABSSA_SHA384_PSS_RANDOMIZED",
        "Randomness", "VARIANTS", "blind", "blind_sign", "finalize", "generate_key", "key_id", "load_private_key",
        "load_public_key", "prepare", "private_key_to_pem", "public_key_to_der", "verify",
    },
    "vcsdk.encoding": {
        "MAX_JSON_DEPTH", "MAX_NUMERIC_DATE", "b64url_decode", "b64url_encode", "canonical_json",
        "from_numeric_date", "json_bytes", "numeric_date", "parse_json", "parse_json_object",
    },
    "vcsdk.egress": {
        "PrivateAddressError", "PublicAddressResolver", "client_host", "egress_refusal", "normal_host",
        "private_host_literal", "public_address",
    },
    "vcsdk.sql": {
        "MigratedSql", "Migration", "PgTimeouts", "PostgresConn", "PostgresMigrated", "SqliteConn", "SqliteMigrated",
        "apply_migrations", "load_migrations", "numbered_placeholders", "open_pg_pool", "pg_connection",
        "pg_transaction", "sqlite_connection", "sqlite_transaction",
    },
    "vcsdk.keys": {
        "ALGORITHM_FOR_CURVE", "AlgorithmPolicy", "AlgorithmPolicySource", "DEFAULT_POLICY", "HEADER_KEY_PARAMS",
        "Key", "Kid", "Signer",
        "UnverifiedJws", "VerifiedJws", "check_jose_header", "decode_jws", "jws_signing_input", "sign_jws",
        "verify_jws", "verify_signature",
    },
    "vcsdk.did": {
        "Did", "DidAttributeChanged", "DidDelegateChanged", "DidDocument", "DidDocumentMetadata", "DidOwnerChanged",
        "DidResolutionMetadata", "DidResolutionResult", "DidUrl", "Erc1056Event", "EthrDid", "EthrDocument",
        "EthrNetwork", "NetworkTable", "build_ethr_document", "decode_erc1056_log", "did_jwk_for", "did_key_for",
        "document_from_json", "key_attribute", "key_from_document", "key_from_verification_method", "parse_did_url",
        "parse_ethr_did", "parse_version_id", "parse_version_time", "resolve_did_jwk", "resolve_did_key",
    },
    "vcsdk.did.erc1056": {
        "ATTRIBUTE_CHANGED_TOPIC", "DELEGATE_CHANGED_TOPIC", "NULL_ADDRESS", "OWNER_CHANGED_TOPIC",
        "add_delegate_digest", "bytes32", "change_owner_digest", "decode_erc1056_log", "revoke_attribute_digest",
        "revoke_delegate_digest", "set_attribute_digest",
    },
    "vcsdk.ethr": {
        "EthrRegistry", "Resolver",
    },
    "vcsdk.credentials": {
        "Bitstring", "BitstringStatusListIssuer", "ClaimPath", "DEFAULT_VERIFICATION_POLICY",
        "InMemoryNonceStore", "IssuerAccreditationChecker", "IssuerKeyResolver", "NonceStore", "PendingPresentation",
        "RESIDENT_IDENTITY_CREDENTIAL", "StateStoreNonces",
        "StaticKeyResolver", "StatusChecker", "StatusListIssuer", "TokenStatusList", "UnverifiedSdJwtVc",
        "VOTING_ELIGIBILITY_CREDENTIAL", "VctRegistry", "VerificationPolicy", "VerifiedCredential",
        "VerifiedPresentation", "VerifiedStatusList", "age_equal_or_over", "age_on", "bitstring_status_entry",
        "build_credential", "credential_schema", "disclosable_paths", "finish_presentation", "issue_sd_jwt_vc",
        "issue_status_list_credential", "issue_status_list_token", "issue_vc_jwt", "issue_vc_sd_jwt", "peek",
        "peek_vc_jwt", "prepare_presentation", "present", "resident_identity_claims", "sd_jwt", "status_claim",
        "status_list", "status_list_digest", "validate_claims", "validate_credential", "verify_credential",
        "verify_jwt_vc_json",
        "verify_presentation", "verify_presentation_with_key", "verify_sd_jwt", "verify_status_list_credential",
        "verify_status_list_token", "verify_vc", "verify_vc_jwt", "verify_vc_sd_jwt", "voting_eligibility_claims",
    },
    "vcsdk.credentials.sd_jwt": {
        "ARRAY_DIGEST_KEY", "ClaimPath", "Disclosure", "KB_JWT_TYP", "LEGACY_SD_JWT_VC_TYP", "Limits",
        "PendingPresentation", "Processed", "SD_ALG_KEY", "SD_DIGESTS_KEY", "SD_HASH_KEY", "SD_JWT_VC_TYP",
        "SdJwtText", "UnverifiedSdJwt", "check_claim_path", "finish_presentation", "hash_function", "issue", "parse",
        "prepare_presentation", "present", "process_disclosures",
    },
    "vcsdk.credentials.status_list": {
        "BITSTRING_STATUS_LIST", "BITSTRING_STATUS_LIST_CREDENTIAL", "BITSTRING_STATUS_LIST_ENTRY", "Bitstring",
        "BitstringEntryRef", "BitstringStatusListIssuer", "DEFAULT_MAX_INFLATED_BYTES", "STATUS_INVALID",
        "STATUS_LIST_TOKEN_TYP", "STATUS_SUSPENDED", "STATUS_VALID", "StatusListClaim", "StatusListIssuer",
        "StatusListReference", "TokenStatusList", "VerifiedStatusList", "parse_bitstring_entry",
        "parse_status_claim", "peek_status_list_token", "raise_for_status", "status_entries", "status_list_digest",
        "verify_status_list_credential", "verify_status_list_token",
    },
    "vcsdk.status": {
        "AnchoredDigest", "FetchedStatusList", "HttpStatusListFetcher", "PublicAddressResolver",
        "PublishedStatusList", "StaticStatusListSource", "StatusDigestSource", "StatusListChecker", "StatusListSource",
        "StatusListStore", "StatusPolicy", "check_status_url", "create_status_app", "status_list_routes",
    },
    "vcsdk.trust": {
        "Accreditation", "AccreditationPolicy", "AccreditationSource", "StatusDigest", "TrustRegistry", "list_id",
        "text_id",
    },
    "vcsdk.registry": {
        "Artifact", "BlockId", "BlockInfo", "CONTRACTS", "Chain", "ChainId", "ContractCall", "ContractHandle",
        "DevChain", "DevJsonRpcChain",
        "DevNode", "EmbeddedChain", "EventLog", "JsonRpcChain", "LogEntry", "LogFilter", "Sender", "Signature",
        "TxResult", "address_topic", "artifact_names", "check_chain", "contracts_hardfork", "deploy_contracts",
        "key_address", "load_artifact", "load_network_config", "sign_hash",
    },
    "vcsdk.kyc": {
        "CheckResult", "JST", "KycCredentialIssuer", "KycApplication", "KycOutcome", "KycPipeline",
        "LocalResidentRegistry", "NoMatch", "NotActive", "PartialMatch", "RegistryClientConfig", "RegistryEntry",
        "ResidentAddress", "ResidentRecord", "ResidentRegistry", "ResidentRegistryClient", "ResidentStatus",
        "SEED_RESIDENTS", "Verified", "WSDL_PATH", "XSD_PATH", "address_matches", "build_resident_identity_claims",
        "create_registry_app", "match_fields", "normalize_address", "normalize_kana", "normalize_name",
        "resident_identity_issuer",
    },
    "vcsdk.receipts": {
        "ACCESS_RECEIPT_TYP", "AccessCounter", "AccessReceipt", "AccessReceiptClaims", "AccessStatistics",
        "BudgetLedger", "CONSENT_HEADER", "CONSENT_RECORD_TYP", "CellDomain", "ConsentEvent", "ConsentRecord",
        "ConsentRecordJson",
        "ConsentState", "ConsentStore", "ConsentType", "Controller", "HeldConsent", "InMemoryConsents",
        "InMemoryKeptReceipts", "InclusionProof", "InclusionProofJson",
        "KeptReceipt", "KeptReceiptStore", "LedgerEntry",
        "LegalBasis", "MAX_BATCH_SIZE", "MIN_K_THRESHOLD", "MerkleTree", "PrivacyLedger", "PrivacyParameters",
        "Pseudonym", "ReceiptDesk", "ReceiptKind", "ReceiptText", "SALT_BYTES", "ServiceCells",
        "WITHDRAWAL_RECEIPT_TYP", "WithdrawalReceiptClaims",
        "accept_withdrawal", "access_statistics", "batch_id_for", "hex32", "issue_access_receipt",
        "issue_withdrawal_receipt", "peek_access_receipt", "peek_consent_record", "presentation_hash", "receipt_leaf",
        "resident_pseudonym", "sign_consent_record", "verify_access_receipt", "verify_access_receipt_resolved",
        "verify_consent_record", "verify_consent_record_resolved", "verify_inclusion", "verify_withdrawal_receipt",
        "verify_withdrawal_receipt_resolved",
    },
    "vcsdk.registration": {
        "ClaimSet", "MAX_REGISTRATION_BYTES", "Purpose", "REGISTRATION_TYP", "RegistrationClaims",
        "RelyingPartyRegistration", "check_registered_request", "check_request",
        "claim_path_name", "issue_registration", "peek_registration", "verify_registration",
        "verify_registration_resolved",
    },
    "vcsdk.sso": {
        "AuthMethod", "ClientStore", "LOGIN_CLAIM", "LoginStarted", "LoginSubject", "OAuthResponse", "OpenIDProvider",
        "SCOPE_CLAIMS", "SsoClient", "SubjectSource", "allowed_scopes", "claim_paths", "login_registration",
        "pairwise_subject", "project_claims", "secret_hash",
    },
    "vcsdk.outbox": {
        "AccessReceiptRegistry", "AnchorChain", "AnchorLocation", "AnchoringState", "Batch", "BatchState", "LedgerFile",
        "PostgresReceiptStore", "ReceiptEntry", "ReceiptEntryJson", "ReceiptOutbox", "ReceiptStore", "ResidentView",
        "STEPS", "SqliteReceiptStore", "StoredReceipt", "TickReport",
    },
    "vcsdk.oid4vc": {
        "AuthorizationRequest", "AuthorizationRequestReference", "AuthorizationServer", "AuthorizationSession",
        "CandidateCredential", "ClaimsQuery", "ClientAttestation", "ConsentCredential", "ConsentScreen",
        "CredentialConfiguration", "CredentialIssuer", "CredentialMatch", "CredentialOffer", "CredentialQuery",
        "CredentialSetQuery", "DcqlClaimPath", "DcqlMatch", "DcqlQuery", "Deferred", "HolderPresentation",
        "HttpRequest",
        "HttpResponse", "InMemoryStateStore", "IssuedCredentials", "IssuerSession", "NotificationEvent",
        "PendingAuthorization", "PendingIssuance", "PreparedPresentation", "PresentationRequest",
        "PresentationResult", "PresentedCredential", "Randomness", "RedisStateStore", "RequestContext", "StateStore",
        "SystemRandomness",
        "TokenResponse", "TxCode", "VerifiedDpopProof", "Verifier", "WalletAttestationTrust", "access_token_hash",
        "build_authorization_response", "build_consent", "build_credential_request", "build_error_response",
        "NO_STORE", "build_token_request", "create_attestation_pop", "create_dpop_proof", "create_key_proof",
        "error_response", "read_form",
        "fetch_credential_offer", "fetch_deferred_credentials", "fetch_request_object", "finish_authorization",
        "finish_issuance", "issue_wallet_attestation", "issuer_routes", "key_proof_signing_input",
        "load_request_object", "match_credential_query", "match_dcql", "notification_request", "notify_issuer",
        "parse_authorization_request_uri", "parse_credential_offer", "parse_credential_offer_uri", "parse_dcql_query",
        "parse_response_uri_answer", "peek_request_object", "prepare_issuance", "receive_credential",
        "refresh_issuance", "render_qr", "renew_issuance", "request_object_request", "run_flow", "select_claims",
        "send", "start_authorization", "verifier_routes", "verify_client_attestation", "verify_dpop_proof",
        "verify_received_credential",
        "verify_request_object",
    },
    "vcsdk.voting": {
        "AnchoredBatch", "BallotAnchor", "BallotChoice", "BallotReceipt", "BallotStore", "BallotToken",
        "BallotTokenIssuer", "CommittedTokenKey", "DistrictRule", "ELIGIBILITY_CLAIMS", "Election", "ElectionTally",
        "EligibilityApplication", "EligibilityDecision", "EligibilityIssuer", "EligibilityOffered", "IssuanceLedger",
        "NotEligible", "PendingToken", "PostgresBallotStore", "PostgresIssuanceLedger", "PublishedElectionJson",
        "SqliteBallotStore", "SqliteIssuanceLedger", "StoredBallot", "StoredBatch", "TOKEN_VARIANT", "TokenKey",
        "VotingInfo", "VotingService", "assess_eligibility", "ballot_commitment", "batch_tree", "begin_token",
        "build_publication", "cast_request", "check_eligibility_claims", "check_token_key", "election_request",
        "finish_token", "generate_token_keys", "parse_cast_answer", "parse_election_answer", "parse_proof_answer",
        "parse_token_answer", "parse_token_keys", "parse_token_nonce", "prepare_ballot", "proof_request", "tally",
        "token_issuer_routes", "token_keys_request", "token_nonce_request", "token_request", "verify_ballot_receipt",
        "verify_ballot_token", "verify_published_election", "voting_routes",
    },
    "wallet_server": {
        "Settings", "create_app", "load_settings",
    },
    "wallet_server.client": {
        "AdminClient", "WalletApiError", "WalletClient",
    },
}


@pytest.mark.parametrize("module", sorted(PUBLIC_API))
def test_public_names_are_pinned(module: str) -> None:
    mod = importlib.import_module(module)
    assert set(mod.__all__) == PUBLIC_API[module]
    assert len(mod.__all__) == len(set(mod.__all__)), "a name is exported twice"
    for name in mod.__all__:
        assert getattr(mod, name) is not None, name


def test_one_public_name_means_one_thing() -> None:
    # A name exported by two packages is the same object in both (no two VerifiedCredential classes).
    seen: dict[str, tuple[str, object]] = {}
    clashes = []
    for module in sorted(PUBLIC_API):
        mod = importlib.import_module(module)
        for name in mod.__all__:
            value = getattr(mod, name)
            if name in seen and seen[name][1] is not value and not isinstance(value, str | int | float | bytes):
                clashes.append(f"{name}: {seen[name][0]} and {module}")
            seen.setdefault(name, (module, value))
    assert clashes == []
