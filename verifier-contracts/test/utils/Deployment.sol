// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {DatanetRegistry} from "../../src/DatanetRegistry.sol";
import {ParamsRegistry} from "../../src/ParamsRegistry.sol";
import {RewardDistributor} from "../../src/RewardDistributor.sol";
import {EpochFixture as F} from "../fixtures/EpochFixture.sol";
import {Test} from "./Test.sol";

/// The contracts around the fixture's real proof, deployed in the order the fixture's settlement address
/// assumes (the test contract's nonces 1 to 5), with epoch 1 opened for the sealed snapshot and funded.
abstract contract Deployment is Test {
    IERC20 internal token;
    DatanetRegistry internal datanets;
    ParamsRegistry internal params;
    address internal verifier;
    RewardDistributor internal dist;
    bytes32 internal datanet;

    address internal constant OPERATOR = address(0x0Be7a70);
    address internal constant GUARDIAN = address(0x6a7d);
    address internal constant TREASURY = address(0x7ea5);
    uint64 internal constant WINDOW = 30 days;
    /// The sealed version the fixture's epoch is for, and the root of the version before it.
    uint64 internal constant VERSION = 2;
    uint256 internal constant DECOY_ROOT = 12345;

    /// Nonce 1: the token.
    function _deployToken() internal virtual returns (IERC20);

    function setUp() public virtual {
        token = _deployToken();
        datanets = new DatanetRegistry();
        params = new ParamsRegistry(address(this));
        verifier = deploy(F.verifierCreationCode());
        dist = new RewardDistributor(token, datanets, params, WINDOW, address(this), OPERATOR, GUARDIAN, TREASURY);
        assertEq(
            address(dist),
            F.SETTLEMENT,
            "the fixture was proven for another distributor address: keep the deployment order or regenerate it"
        );
        vm.chainId(F.CHAIN_ID);
        datanet = datanets.register("sample");
        // Version 1 is another snapshot: the epoch is for version 2, whose root the proof was made for, so a
        // distributor that read the wrong version's root would fail every settlement below.
        datanets.seal(datanet, DECOY_ROOT, F.ITEMS);
        datanets.seal(datanet, F.DATANET_ROOT, F.ITEMS);
        params.setVerifier(F.PARAMS_HASH, verifier, true);
        vm.prank(OPERATOR);
        dist.openEpoch(F.EPOCH, datanet, VERSION, F.PARAMS_HASH);
        token.approve(address(dist), type(uint256).max);
        dist.fund(F.EPOCH, F.POOL);
    }

    function deploy(bytes memory creation) internal returns (address a) {
        assembly ("memory-safe") {
            a := create(0, add(creation, 0x20), mload(creation))
        }
        require(a != address(0), "deployment failed");
    }

    function commitments() internal pure returns (RewardDistributor.Commitments memory) {
        return RewardDistributor.Commitments(F.MODEL_COMMITMENT, F.FEATURES_ROOT, F.QUERY_COMMITMENT);
    }

    function settleFixture() internal {
        vm.prank(OPERATOR);
        dist.settle(F.EPOCH, F.POOL, commitments(), F.rewardList(), F.proof());
    }

    /// The list's entries.
    function entries(bytes memory list) internal pure returns (address[] memory accounts, uint256[] memory amounts) {
        uint256 n = list.length / 52;
        accounts = new address[](n);
        amounts = new uint256[](n);
        for (uint256 j = 0; j < n; ++j) {
            uint256 a;
            uint256 v;
            assembly ("memory-safe") {
                let at := add(add(list, 0x20), mul(j, 52))
                a := shr(96, mload(at))
                v := mload(add(at, 20))
            }
            accounts[j] = address(uint160(a));
            amounts[j] = v;
        }
    }

    /// The packed list of `accounts` and `amounts`.
    function pack(address[] memory accounts, uint256[] memory amounts) internal pure returns (bytes memory out) {
        for (uint256 j = 0; j < accounts.length; ++j) {
            out = bytes.concat(out, abi.encodePacked(accounts[j], amounts[j]));
        }
    }

    /// The claims-tree proof of entry `index` (the tree of `RewardList.root`, rebuilt here independently).
    function merkleProof(address[] memory accounts, uint256[] memory amounts, uint256 index)
        internal
        pure
        returns (bytes32[] memory proof)
    {
        uint256 n = accounts.length;
        bytes32[] memory level = new bytes32[](n);
        for (uint256 j = 0; j < n; ++j) {
            level[j] = keccak256(bytes.concat(keccak256(abi.encode(j, accounts[j], amounts[j]))));
        }
        bytes32[] memory path = new bytes32[](64);
        uint256 depth;
        while (n > 1) {
            uint256 sibling = index ^ 1;
            if (sibling < n) path[depth++] = level[sibling];
            uint256 m = (n + 1) / 2;
            bytes32[] memory up = new bytes32[](m);
            for (uint256 i = 0; i < m; ++i) {
                if (2 * i + 1 < n) {
                    (bytes32 a, bytes32 b) = (level[2 * i], level[2 * i + 1]);
                    up[i] = a < b ? keccak256(abi.encode(a, b)) : keccak256(abi.encode(b, a));
                } else {
                    up[i] = level[2 * i];
                }
            }
            level = up;
            n = m;
            index /= 2;
        }
        proof = new bytes32[](depth);
        for (uint256 i = 0; i < depth; ++i) {
            proof[i] = path[i];
        }
    }
}
