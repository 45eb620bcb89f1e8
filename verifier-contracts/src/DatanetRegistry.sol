// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Field} from "./Field.sol";

/// @title Datanets and their sealed snapshot roots.
/// @notice A Datanet owner registers a Datanet by name and seals snapshots: each seal appends version
/// `versions + 1` with its Poseidon Merkle root (`datanet_root` of the statement, DESIGN §4). A sealed root
/// can never be changed or removed; versions are numbered without gaps.
contract DatanetRegistry {
    struct Datanet {
        address owner;
        uint64 versions;
    }

    struct Snapshot {
        uint256 root;
        uint64 items;
        uint64 sealedAt;
    }

    mapping(bytes32 id => Datanet) private _datanets;
    mapping(bytes32 id => mapping(uint64 version => Snapshot)) private _snapshots;

    event DatanetRegistered(bytes32 indexed id, string name, address indexed owner);
    event DatanetOwnerChanged(bytes32 indexed id, address indexed from, address indexed to);
    event SnapshotSealed(bytes32 indexed id, uint64 indexed version, uint256 root, uint64 items);

    error EmptyName();
    error DatanetExists(bytes32 id);
    error UnknownDatanet(bytes32 id);
    error NotDatanetOwner(bytes32 id, address caller);
    error ZeroAddress();
    error EmptySnapshot();
    error ZeroRoot();
    error NotSealed(bytes32 id, uint64 version);

    /// The id of a Datanet name: `keccak256(bytes(name))`.
    function idOf(string calldata name) public pure returns (bytes32) {
        return keccak256(bytes(name));
    }

    /// Registers `name` with the caller as owner.
    function register(string calldata name) external returns (bytes32 id) {
        if (bytes(name).length == 0) revert EmptyName();
        id = idOf(name);
        if (_datanets[id].owner != address(0)) revert DatanetExists(id);
        _datanets[id].owner = msg.sender;
        emit DatanetRegistered(id, name, msg.sender);
    }

    /// Hands the Datanet to `to` (only its owner).
    function transferOwnership(bytes32 id, address to) external {
        _onlyOwner(id);
        if (to == address(0)) revert ZeroAddress();
        _datanets[id].owner = to;
        emit DatanetOwnerChanged(id, msg.sender, to);
    }

    /// Seals the next version of `id` with `root` over `items` items (only its owner).
    function seal(bytes32 id, uint256 root, uint64 items) external returns (uint64 version) {
        _onlyOwner(id);
        Field.check(root);
        if (root == 0) revert ZeroRoot();
        if (items == 0) revert EmptySnapshot();
        version = ++_datanets[id].versions;
        _snapshots[id][version] = Snapshot(root, items, uint64(block.timestamp));
        emit SnapshotSealed(id, version, root, items);
    }

    /// The owner and the number of sealed versions of `id`.
    function datanet(bytes32 id) external view returns (address owner, uint64 versions) {
        Datanet storage d = _datanets[id];
        if (d.owner == address(0)) revert UnknownDatanet(id);
        return (d.owner, d.versions);
    }

    /// The sealed snapshot `version` of `id`; reverts with `NotSealed` when there is none.
    function snapshot(bytes32 id, uint64 version) external view returns (Snapshot memory s) {
        s = _snapshots[id][version];
        if (s.root == 0) revert NotSealed(id, version);
    }

    /// The root of sealed version `version` of `id`; reverts with `NotSealed` when there is none.
    function rootOf(bytes32 id, uint64 version) external view returns (uint256 root) {
        root = _snapshots[id][version].root;
        if (root == 0) revert NotSealed(id, version);
    }

    function _onlyOwner(bytes32 id) private view {
        address owner = _datanets[id].owner;
        if (owner == address(0)) revert UnknownDatanet(id);
        if (owner != msg.sender) revert NotDatanetOwner(id, msg.sender);
    }
}
