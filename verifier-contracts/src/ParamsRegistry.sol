// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Field} from "./Field.sol";

/// @title Governance parameter sets and the verifier of each.
/// @notice Maps `params_hash` (the Poseidon hash of a governance parameter set, DESIGN §6) to the verifier
/// contract generated for that set's circuit shape, and whether it is active. Its owner is the governance
/// TimelockController, so entries change only through a Governor proposal that passed and waited out the
/// timelock.
contract ParamsRegistry is Ownable {
    struct Entry {
        address verifier;
        bool active;
    }

    mapping(uint256 paramsHash => Entry) private _entries;

    event VerifierSet(uint256 indexed paramsHash, address indexed verifier, bool active);

    error NoCode(address verifier);
    error InactiveParams(uint256 paramsHash);

    constructor(address timelock) Ownable(timelock) {}

    /// Sets the verifier of `paramsHash` and whether settlements may use it (only the owner).
    function setVerifier(uint256 paramsHash, address verifier, bool active) external onlyOwner {
        Field.check(paramsHash);
        if (verifier.code.length == 0) revert NoCode(verifier);
        _entries[paramsHash] = Entry(verifier, active);
        emit VerifierSet(paramsHash, verifier, active);
    }

    /// The entry of `paramsHash` (zero when never set).
    function entry(uint256 paramsHash) external view returns (Entry memory) {
        return _entries[paramsHash];
    }

    /// The verifier of `paramsHash`; reverts with `InactiveParams` unless it is set and active.
    function activeVerifier(uint256 paramsHash) external view returns (address) {
        Entry memory e = _entries[paramsHash];
        if (!e.active) revert InactiveParams(paramsHash);
        return e.verifier;
    }
}
