// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title The BN254 scalar field that the attribution proof's public inputs live in.
library Field {
    /// The scalar field modulus p of BN254.
    uint256 internal constant P = 21888242871839275222246405745257275088548364400416034343698204186575808495617;

    /// A value is not a canonical field element (it is >= p).
    error NotAFieldElement(uint256 value);

    /// Reverts unless `v < p`.
    function check(uint256 v) internal pure {
        if (v >= P) revert NotAFieldElement(v);
    }
}
