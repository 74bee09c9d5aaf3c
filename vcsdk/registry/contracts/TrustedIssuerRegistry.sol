// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title Trusted issuers and status-list digests of one city
/// @notice The city's governance account accredits issuer DIDs for credential types (the hash of a
///         `vct` or W3C type) with a validity window, and can suspend, unsuspend or revoke an
///         accreditation. Status publishers anchor the SHA-256 digest of each published status
///         list version, so verifiers can detect a status server that serves an old or forked list.
///         Nothing personal is stored: issuer DIDs are public identifiers, lists are digests.
/// @dev Ids are `keccak256(bytes(text))` of the DID, the type and the list URL; the texts appear
///      once, in the `Accredited` event, so `issuer list` can show them.
contract TrustedIssuerRegistry {
    struct Accreditation {
        uint64 validFrom;
        uint64 validUntil; // 0: open-ended
        uint64 suspendedSince; // 0: not suspended
        uint64 revokedAt; // 0: not revoked
    }

    struct StatusAnchor {
        bytes32 digest;
        uint64 version;
        uint64 anchoredAt;
    }

    /// @notice The city's governance account.
    address public governance;

    /// @notice Accounts allowed to anchor status-list digests.
    mapping(address => bool) public isStatusPublisher;

    mapping(bytes32 => mapping(bytes32 => Accreditation)) private accreditations;
    mapping(bytes32 => StatusAnchor) private anchors;

    event Accredited(
        bytes32 indexed issuerId, bytes32 indexed typeId, string issuer, string credentialType,
        uint64 validFrom, uint64 validUntil
    );
    event Suspended(bytes32 indexed issuerId, bytes32 indexed typeId, uint64 since);
    event Unsuspended(bytes32 indexed issuerId, bytes32 indexed typeId);
    event Revoked(bytes32 indexed issuerId, bytes32 indexed typeId, uint64 at);
    event StatusDigestAnchored(bytes32 indexed listId, bytes32 digest, uint64 version);
    event StatusPublisherChanged(address indexed account, bool allowed);
    event GovernanceChanged(address indexed previousGovernance, address indexed newGovernance);

    error NotGovernance();
    error NotStatusPublisher();
    error ZeroAddress();
    error EmptyText();
    error BadWindow();
    error NotAccredited(bytes32 issuerId, bytes32 typeId);
    error AlreadyRevoked(bytes32 issuerId, bytes32 typeId);
    error LengthMismatch();
    error EmptyDigest();
    /// @notice A status list version must be newer than the one anchored (no rollback).
    error StaleVersion(bytes32 listId, uint64 anchoredVersion);

    constructor() {
        governance = msg.sender;
        isStatusPublisher[msg.sender] = true;
        emit GovernanceChanged(address(0), msg.sender);
        emit StatusPublisherChanged(msg.sender, true);
    }

    modifier onlyGovernance() {
        if (msg.sender != governance) revert NotGovernance();
        _;
    }

    /// @notice Hand governance to another account (a multisig, a new city key).
    function transferGovernance(address newGovernance) external onlyGovernance {
        if (newGovernance == address(0)) revert ZeroAddress();
        emit GovernanceChanged(governance, newGovernance);
        governance = newGovernance;
    }

    /// @notice Allow or disallow `account` to anchor status-list digests.
    function setStatusPublisher(address account, bool allowed) external onlyGovernance {
        if (account == address(0)) revert ZeroAddress();
        isStatusPublisher[account] = allowed;
        emit StatusPublisherChanged(account, allowed);
    }

    /// @notice Accredit `issuer` (a DID) for `credentialType` (a vct) from `validFrom` until
    ///         `validUntil` (0: open-ended). Re-accrediting replaces the window and clears any
    ///         suspension or revocation.
    function accredit(string calldata issuer, string calldata credentialType, uint64 validFrom, uint64 validUntil)
        external
        onlyGovernance
    {
        if (bytes(issuer).length == 0 || bytes(credentialType).length == 0) revert EmptyText();
        // validFrom == 0 would read as "no accreditation"; a window starts at a real time.
        if (validFrom == 0 || (validUntil != 0 && validUntil <= validFrom)) revert BadWindow();
        bytes32 issuerId = keccak256(bytes(issuer));
        bytes32 typeId = keccak256(bytes(credentialType));
        accreditations[issuerId][typeId] = Accreditation(validFrom, validUntil, 0, 0);
        emit Accredited(issuerId, typeId, issuer, credentialType, validFrom, validUntil);
    }

    /// @notice Suspend an accreditation from now on (reversible with `unsuspend`).
    function suspend(bytes32 issuerId, bytes32 typeId) external onlyGovernance {
        Accreditation storage a = _existing(issuerId, typeId);
        if (a.suspendedSince == 0) {
            a.suspendedSince = uint64(block.timestamp);
            emit Suspended(issuerId, typeId, a.suspendedSince);
        }
    }

    /// @notice Lift a suspension.
    function unsuspend(bytes32 issuerId, bytes32 typeId) external onlyGovernance {
        Accreditation storage a = _existing(issuerId, typeId);
        if (a.suspendedSince != 0) {
            a.suspendedSince = 0;
            emit Unsuspended(issuerId, typeId);
        }
    }

    /// @notice Withdraw an accreditation from now on (final until re-accredited).
    function revoke(bytes32 issuerId, bytes32 typeId) external onlyGovernance {
        Accreditation storage a = _existing(issuerId, typeId);
        if (a.revokedAt != 0) revert AlreadyRevoked(issuerId, typeId);
        a.revokedAt = uint64(block.timestamp);
        emit Revoked(issuerId, typeId, a.revokedAt);
    }

    function _existing(bytes32 issuerId, bytes32 typeId) private view returns (Accreditation storage a) {
        a = accreditations[issuerId][typeId];
        if (a.validFrom == 0) revert NotAccredited(issuerId, typeId);
    }

    /// @notice The stored accreditation (all zero when there is none).
    function accreditation(bytes32 issuerId, bytes32 typeId)
        external
        view
        returns (uint64 validFrom, uint64 validUntil, uint64 suspendedSince, uint64 revokedAt)
    {
        Accreditation storage a = accreditations[issuerId][typeId];
        return (a.validFrom, a.validUntil, a.suspendedSince, a.revokedAt);
    }

    /// @notice Whether `issuerId` was accredited for `typeId` at time `at` (seconds since the epoch):
    ///         inside the window, not revoked by then, and not suspended by then.
    function isAccredited(bytes32 issuerId, bytes32 typeId, uint64 at) external view returns (bool) {
        Accreditation storage a = accreditations[issuerId][typeId];
        if (a.validFrom == 0 || at < a.validFrom) return false;
        if (a.validUntil != 0 && at >= a.validUntil) return false;
        if (a.revokedAt != 0 && at >= a.revokedAt) return false;
        if (a.suspendedSince != 0 && at >= a.suspendedSince) return false;
        return true;
    }

    /// @notice Anchor the digests of several published status lists in one transaction.
    /// @param listIds keccak256 of each list URL.
    /// @param digests SHA-256 of each list version (entry width byte || uncompressed list).
    /// @param versions each list's version number; must increase per list.
    function anchorStatusDigests(bytes32[] calldata listIds, bytes32[] calldata digests, uint64[] calldata versions)
        external
    {
        if (!isStatusPublisher[msg.sender]) revert NotStatusPublisher();
        if (listIds.length != digests.length || listIds.length != versions.length) revert LengthMismatch();
        for (uint256 i = 0; i < listIds.length; i++) {
            if (digests[i] == bytes32(0)) revert EmptyDigest();
            StatusAnchor storage s = anchors[listIds[i]];
            if (s.anchoredAt != 0 && versions[i] <= s.version) revert StaleVersion(listIds[i], s.version);
            s.digest = digests[i];
            s.version = versions[i];
            s.anchoredAt = uint64(block.timestamp);
            emit StatusDigestAnchored(listIds[i], digests[i], versions[i]);
        }
    }

    /// @notice The latest anchored digest of a status list (zero when none).
    function statusDigest(bytes32 listId) external view returns (bytes32 digest, uint64 version, uint64 anchoredAt) {
        StatusAnchor storage s = anchors[listId];
        return (s.digest, s.version, s.anchoredAt);
    }
}
