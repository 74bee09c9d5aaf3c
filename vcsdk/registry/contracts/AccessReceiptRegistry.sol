// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title Access-receipt anchors: Merkle roots of batches of salted receipt digests
/// @notice A wallet server anchors one root per batch of access receipts. Anyone can read the root
///         of a batch and check an RFC 6962 inclusion proof against it off chain. Nothing personal
///         is stored or logged here: no receipt, no claim, no pseudonym, only 32-byte digests.
/// @dev Gas: a new batch costs one storage slot (the root, which a proof check must read with
///      `rootOf`) plus one event; the batch size and anchoring block live only in the event.
contract AccessReceiptRegistry {
    /// @notice The account that adds and removes anchorers.
    address public owner;

    /// @notice Accounts allowed to anchor batches.
    mapping(address => bool) public isAnchorer;

    /// @dev batchId => Merkle root; zero means "not anchored".
    mapping(bytes32 => bytes32) private roots;

    /// @notice A batch was anchored; `size` is the number of receipts (leaves) in it.
    event BatchAnchored(bytes32 indexed batchId, bytes32 root, uint32 size);
    event AnchorerChanged(address indexed account, bool allowed);
    event OwnerChanged(address indexed previousOwner, address indexed newOwner);

    error NotOwner();
    error NotAnchorer();
    error EmptyRoot();
    error EmptyBatch();
    error ZeroAddress();
    /// @notice The batch id is already anchored with another root.
    error BatchConflict(bytes32 batchId, bytes32 anchoredRoot);

    constructor() {
        owner = msg.sender;
        isAnchorer[msg.sender] = true;
        emit OwnerChanged(address(0), msg.sender);
        emit AnchorerChanged(msg.sender, true);
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    /// @notice Allow or disallow `account` to anchor batches.
    function setAnchorer(address account, bool allowed) external onlyOwner {
        if (account == address(0)) revert ZeroAddress();
        isAnchorer[account] = allowed;
        emit AnchorerChanged(account, allowed);
    }

    /// @notice Hand the registry to a new owner.
    function transferOwnership(address newOwner) external onlyOwner {
        if (newOwner == address(0)) revert ZeroAddress();
        emit OwnerChanged(owner, newOwner);
        owner = newOwner;
    }

    /// @notice Anchor the Merkle root of one batch. Idempotent: the same batch id with the same
    ///         root again is a no-op (no event), so a sender that crashed may simply re-send.
    /// @return anchoredNow true when this call stored the root, false when it was already there.
    function anchor(bytes32 batchId, bytes32 root, uint32 size) external returns (bool anchoredNow) {
        if (!isAnchorer[msg.sender]) revert NotAnchorer();
        if (root == bytes32(0)) revert EmptyRoot();
        if (size == 0) revert EmptyBatch();
        bytes32 existing = roots[batchId];
        if (existing == root) return false;
        if (existing != bytes32(0)) revert BatchConflict(batchId, existing);
        roots[batchId] = root;
        emit BatchAnchored(batchId, root, size);
        return true;
    }

    /// @notice The root anchored for `batchId`, or zero if none.
    function rootOf(bytes32 batchId) external view returns (bytes32) {
        return roots[batchId];
    }
}
