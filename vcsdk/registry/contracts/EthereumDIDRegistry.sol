// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title ERC-1056 lightweight identity registry (did:ethr)
/// @notice Every Ethereum address is an identity without registration. Its owner (the address
///         itself until changed) may rotate ownership, add or revoke time-limited delegates and
///         publish or revoke attributes; the DID document is rebuilt off chain from the events.
/// @dev The public interface, event layout, signed-message layout and revert reasons are those
///      of the ERC-1056 reference registry, so existing did:ethr tools (resolvers, controllers,
///      meta-transaction signers) work against this contract unchanged.
contract EthereumDIDRegistry {
    /// @notice Explicit owner of an identity; the zero address means "the identity itself".
    mapping(address => address) public owners;

    /// @notice identity => keccak256(delegateType) => delegate => valid until (unix time).
    mapping(address => mapping(bytes32 => mapping(address => uint256))) public delegates;

    /// @notice Block number of the identity's latest change (the head of its event chain).
    mapping(address => uint256) public changed;

    /// @notice Per-signer counter that makes every signed message usable once.
    mapping(address => uint256) public nonce;

    event DIDOwnerChanged(address indexed identity, address owner, uint256 previousChange);

    event DIDDelegateChanged(
        address indexed identity,
        bytes32 delegateType,
        address delegate,
        uint256 validTo,
        uint256 previousChange
    );

    event DIDAttributeChanged(
        address indexed identity,
        bytes32 name,
        bytes value,
        uint256 validTo,
        uint256 previousChange
    );

    modifier onlyOwner(address identity, address actor) {
        require(actor == identityOwner(identity), "bad_actor");
        _;
    }

    // ---------------------------------------------------------------------------------------
    // Reads
    // ---------------------------------------------------------------------------------------

    /// @notice The address currently controlling `identity`.
    function identityOwner(address identity) public view returns (address) {
        address current = owners[identity];
        if (current != address(0)) {
            return current;
        }
        return identity;
    }

    /// @notice Whether `delegate` is an unexpired delegate of `delegateType` for `identity`.
    function validDelegate(address identity, bytes32 delegateType, address delegate) public view returns (bool) {
        uint256 validUntil = delegates[identity][keccak256(abi.encodePacked(delegateType))][delegate];
        return validUntil > block.timestamp;
    }

    // ---------------------------------------------------------------------------------------
    // Owner
    // ---------------------------------------------------------------------------------------

    function changeOwner(address identity, address newOwner) public {
        _changeOwner(identity, msg.sender, newOwner);
    }

    function changeOwnerSigned(address identity, uint8 sigV, bytes32 sigR, bytes32 sigS, address newOwner) public {
        bytes32 digest = keccak256(
            abi.encodePacked(
                bytes1(0x19),
                bytes1(0),
                this,
                nonce[identityOwner(identity)],
                identity,
                "changeOwner",
                newOwner
            )
        );
        _changeOwner(identity, _recoverOwner(identity, sigV, sigR, sigS, digest), newOwner);
    }

    // ---------------------------------------------------------------------------------------
    // Delegates
    // ---------------------------------------------------------------------------------------

    function addDelegate(address identity, bytes32 delegateType, address delegate, uint256 validity) public {
        _addDelegate(identity, msg.sender, delegateType, delegate, validity);
    }

    function addDelegateSigned(
        address identity,
        uint8 sigV,
        bytes32 sigR,
        bytes32 sigS,
        bytes32 delegateType,
        address delegate,
        uint256 validity
    ) public {
        bytes32 digest = keccak256(
            abi.encodePacked(
                bytes1(0x19),
                bytes1(0),
                this,
                nonce[identityOwner(identity)],
                identity,
                "addDelegate",
                delegateType,
                delegate,
                validity
            )
        );
        _addDelegate(identity, _recoverOwner(identity, sigV, sigR, sigS, digest), delegateType, delegate, validity);
    }

    function revokeDelegate(address identity, bytes32 delegateType, address delegate) public {
        _revokeDelegate(identity, msg.sender, delegateType, delegate);
    }

    function revokeDelegateSigned(
        address identity,
        uint8 sigV,
        bytes32 sigR,
        bytes32 sigS,
        bytes32 delegateType,
        address delegate
    ) public {
        bytes32 digest = keccak256(
            abi.encodePacked(
                bytes1(0x19),
                bytes1(0),
                this,
                nonce[identityOwner(identity)],
                identity,
                "revokeDelegate",
                delegateType,
                delegate
            )
        );
        _revokeDelegate(identity, _recoverOwner(identity, sigV, sigR, sigS, digest), delegateType, delegate);
    }

    // ---------------------------------------------------------------------------------------
    // Attributes
    // ---------------------------------------------------------------------------------------

    function setAttribute(address identity, bytes32 name, bytes memory value, uint256 validity) public {
        _setAttribute(identity, msg.sender, name, value, validity);
    }

    function setAttributeSigned(
        address identity,
        uint8 sigV,
        bytes32 sigR,
        bytes32 sigS,
        bytes32 name,
        bytes memory value,
        uint256 validity
    ) public {
        bytes32 digest = keccak256(
            abi.encodePacked(
                bytes1(0x19),
                bytes1(0),
                this,
                nonce[identityOwner(identity)],
                identity,
                "setAttribute",
                name,
                value,
                validity
            )
        );
        _setAttribute(identity, _recoverOwner(identity, sigV, sigR, sigS, digest), name, value, validity);
    }

    function revokeAttribute(address identity, bytes32 name, bytes memory value) public {
        _revokeAttribute(identity, msg.sender, name, value);
    }

    function revokeAttributeSigned(
        address identity,
        uint8 sigV,
        bytes32 sigR,
        bytes32 sigS,
        bytes32 name,
        bytes memory value
    ) public {
        bytes32 digest = keccak256(
            abi.encodePacked(
                bytes1(0x19),
                bytes1(0),
                this,
                nonce[identityOwner(identity)],
                identity,
                "revokeAttribute",
                name,
                value
            )
        );
        _revokeAttribute(identity, _recoverOwner(identity, sigV, sigR, sigS, digest), name, value);
    }

    // ---------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------

    /// @dev Recovers the signer of `digest`, requires it to be the identity's owner and burns
    ///      the owner's nonce so the same signature cannot be replayed.
    function _recoverOwner(
        address identity,
        uint8 sigV,
        bytes32 sigR,
        bytes32 sigS,
        bytes32 digest
    ) internal returns (address) {
        address signer = ecrecover(digest, sigV, sigR, sigS);
        require(signer == identityOwner(identity), "bad_signature");
        nonce[signer]++;
        return signer;
    }

    function _changeOwner(address identity, address actor, address newOwner) internal onlyOwner(identity, actor) {
        owners[identity] = newOwner;
        emit DIDOwnerChanged(identity, newOwner, changed[identity]);
        changed[identity] = block.number;
    }

    function _addDelegate(
        address identity,
        address actor,
        bytes32 delegateType,
        address delegate,
        uint256 validity
    ) internal onlyOwner(identity, actor) {
        uint256 validTo = block.timestamp + validity;
        delegates[identity][keccak256(abi.encodePacked(delegateType))][delegate] = validTo;
        emit DIDDelegateChanged(identity, delegateType, delegate, validTo, changed[identity]);
        changed[identity] = block.number;
    }

    function _revokeDelegate(
        address identity,
        address actor,
        bytes32 delegateType,
        address delegate
    ) internal onlyOwner(identity, actor) {
        delegates[identity][keccak256(abi.encodePacked(delegateType))][delegate] = block.timestamp;
        emit DIDDelegateChanged(identity, delegateType, delegate, block.timestamp, changed[identity]);
        changed[identity] = block.number;
    }

    function _setAttribute(
        address identity,
        address actor,
        bytes32 name,
        bytes memory value,
        uint256 validity
    ) internal onlyOwner(identity, actor) {
        emit DIDAttributeChanged(identity, name, value, block.timestamp + validity, changed[identity]);
        changed[identity] = block.number;
    }

    function _revokeAttribute(
        address identity,
        address actor,
        bytes32 name,
        bytes memory value
    ) internal onlyOwner(identity, actor) {
        // A validTo of zero is how ERC-1056 readers recognise a revoked attribute.
        emit DIDAttributeChanged(identity, name, value, 0, changed[identity]);
        changed[identity] = block.number;
    }
}
