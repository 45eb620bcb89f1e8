// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";

import {Field} from "./Field.sol";

/// @title The reward list of an epoch, as the settlement contract receives it in calldata.
/// @notice The list is the packed bytes `address (20 bytes) ‖ amount (uint256, 32 bytes)` per entry
/// (`abi.encodePacked(address, uint256)`), addresses strictly increasing: exactly the bytes `zkattr prove`
/// writes as `rewards.bin`. From them the contract derives what the proof is checked against (DESIGN §4,
/// item 6): `r = keccak256(list) mod p` and `y = sum_k e_k r^k` with `e_{2j} = address_j`,
/// `e_{2j+1} = amount_j`; and what claims are checked against: the keccak Merkle root over the leaves
/// `keccak256(bytes.concat(keccak256(abi.encode(j, address_j, amount_j))))` (OpenZeppelin's leaf convention;
/// the entry's index `j` is in the leaf so claims are recorded in a bitmap), pairs hashed in sorted order
/// (OpenZeppelin `Hashes.commutativeKeccak256`), an odd node at the end of a level carried up unchanged.
library RewardList {
    /// Bytes per entry.
    uint256 internal constant ENTRY = 52;

    struct Digest {
        uint256 r;
        uint256 y;
        uint256 total;
        bytes32 root;
        uint256 entries;
    }

    /// The list is empty or its length is not a multiple of 52 bytes.
    error MalformedList(uint256 length);
    /// Entry `index` does not have an address above the previous entry's (order, duplicates).
    error NotStrictlyIncreasing(uint256 index);
    /// Entry `index` has an amount of 2^128 or more (the statement's amounts are 128-bit).
    error AmountTooLarge(uint256 index);

    /// The leaf of entry `index`, `(account, amount)`, in the claims tree.
    function leaf(uint256 index, address account, uint256 amount) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(index, account, amount))));
    }

    /// Checks the list's form and computes `r`, `y`, the sum of the amounts and the claims root. Nothing is
    /// allocated per entry: one array of leaves, then the tree's levels in place.
    function digest(bytes calldata list) internal pure returns (Digest memory d) {
        uint256 len = list.length;
        if (len == 0 || len % ENTRY != 0) revert MalformedList(len);
        uint256 n = len / ENTRY;
        d.entries = n;
        d.r = uint256(keccak256(list)) % Field.P;
        bytes32[] memory nodes = new bytes32[](n);
        uint256 failed;
        (d.y, d.total, failed) = _leaves(list, d.r, nodes);
        if (failed != 0) {
            if (failed >> 255 != 0) revert NotStrictlyIncreasing(failed ^ (1 << 255));
            revert AmountTooLarge(failed - 1);
        }
        d.root = _root(nodes);
    }

    /// One pass from the last entry to the first: `y` by Horner's rule, the total, the leaves into `nodes`.
    /// `failed` is 0, or `2^255 + index` of an entry not above its predecessor, or `index + 1` of an amount
    /// of 2^128 or more.
    function _leaves(bytes calldata list, uint256 r, bytes32[] memory nodes)
        private
        pure
        returns (uint256 y, uint256 total, uint256 failed)
    {
        assembly ("memory-safe") {
            let p := 21888242871839275222246405745257275088548364400416034343698204186575808495617
            let scratch := mload(0x40) // temporary, above everything allocated
            let next := shl(160, 1) // above every address
            for { let j := mload(nodes) } gt(j, 0) {} {
                j := sub(j, 1)
                let at := add(list.offset, mul(j, 52))
                let account := shr(96, calldataload(at))
                let amount := calldataload(add(at, 20))
                if iszero(lt(account, next)) {
                    failed := or(shl(255, 1), add(j, 1))
                    break
                }
                if shr(128, amount) {
                    failed := add(j, 1)
                    break
                }
                next := account
                total := add(total, amount) // at most n * 2^128
                y := addmod(mulmod(y, r, p), amount, p)
                y := addmod(mulmod(y, r, p), account, p)
                mstore(scratch, j)
                mstore(add(scratch, 0x20), account)
                mstore(add(scratch, 0x40), amount)
                mstore(scratch, keccak256(scratch, 0x60))
                mstore(add(nodes, shl(5, add(j, 1))), keccak256(scratch, 0x20))
            }
        }
    }

    /// The root over `nodes` (overwritten level by level): sorted-pair keccak, an odd last node carried up.
    function _root(bytes32[] memory nodes) private pure returns (bytes32 top) {
        assembly ("memory-safe") {
            let base := add(nodes, 0x20)
            for { let m := mload(nodes) } gt(m, 1) {} {
                let half := shr(1, m)
                for { let i := 0 } lt(i, half) { i := add(i, 1) } {
                    let a := mload(add(base, shl(6, i)))
                    let b := mload(add(base, add(shl(6, i), 0x20)))
                    if gt(a, b) {
                        let t := a
                        a := b
                        b := t
                    }
                    mstore(0x00, a)
                    mstore(0x20, b)
                    mstore(add(base, shl(5, i)), keccak256(0x00, 0x40))
                }
                if and(m, 1) {
                    mstore(add(base, shl(5, half)), mload(add(base, shl(5, sub(m, 1)))))
                    half := add(half, 1)
                }
                m := half
            }
            top := mload(base)
        }
    }

    /// The Merkle root over `leaves` (overwritten), in plain Solidity: the reference `digest`'s tree is
    /// tested against.
    function root(bytes32[] memory leaves) internal pure returns (bytes32) {
        uint256 n = leaves.length;
        while (n > 1) {
            uint256 half = n / 2;
            for (uint256 i = 0; i < half; ++i) {
                leaves[i] = Hashes.commutativeKeccak256(leaves[2 * i], leaves[2 * i + 1]);
            }
            if (n % 2 == 1) {
                leaves[half] = leaves[n - 1];
                n = half + 1;
            } else {
                n = half;
            }
        }
        return leaves[0];
    }
}
