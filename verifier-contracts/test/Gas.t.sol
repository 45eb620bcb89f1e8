// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {OpenToken} from "../src/OpenToken.sol";
import {RewardDistributor} from "../src/RewardDistributor.sol";
import {EpochFixture as F} from "./fixtures/EpochFixture.sol";
import {Deployment} from "./utils/Deployment.sol";

/// Accepts every call: isolates what settlement costs per reward-list entry from the verifier's fixed cost.
contract AcceptingVerifier {
    fallback() external {}
}

/// Settlement gas as the reward list grows (gas snapshots under snapshots/, recorded in docs/gas.md). The
/// verifier's cost does not depend on the list (its public inputs are always 12 words), so it is measured
/// once with the fixture's real proof and here replaced by one that accepts everything.
contract GasTest is Deployment {
    uint256 internal constant ACCEPTING = 12345;

    function _deployToken() internal override returns (IERC20) {
        return new OpenToken(address(this), 1e27);
    }

    function _list(uint256 n) internal pure returns (bytes memory out) {
        out = new bytes(n * 52);
        for (uint256 j = 0; j < n; ++j) {
            // Realistic entries: 20-byte addresses, amounts of 18-decimal tokens.
            address a = address(uint160((j + 1) * (uint256(type(uint160).max) / (n + 1))));
            uint256 v = 1e18 + j;
            assembly ("memory-safe") {
                let at := add(add(out, 0x20), mul(j, 52))
                mstore(at, shl(96, a))
                mstore(add(at, 20), v)
            }
        }
    }

    function _settleAccepting(uint64 epoch, uint256 n) internal {
        vm.prank(OPERATOR);
        dist.openEpoch(epoch, datanet, 1, ACCEPTING);
        dist.fund(epoch, 1e24);
        bytes memory list = _list(n);
        RewardDistributor.Commitments memory c = commitments();
        vm.prank(OPERATOR);
        dist.settle(epoch, 1e24, c, list, hex"");
        vm.snapshotGasLastCall(string.concat("settle, accepting verifier, ", vm.toString(n), " entries"));
    }

    function testClaimsAreRecordedPerBitmapWord() public {
        params.setVerifier(ACCEPTING, address(new AcceptingVerifier()), true);
        uint256 n = 300;
        _settleAccepting(20, n);
        (address[] memory a, uint256[] memory v) = entries(_list(n));
        uint256[4] memory picks = [uint256(0), 255, 256, 299];
        for (uint256 i = 0; i < picks.length; ++i) {
            uint256 j = picks[i];
            vm.prank(a[j]);
            dist.claim(20, j, v[j], merkleProof(a, v, j));
            assertTrue(dist.isClaimed(20, j), "recorded");
        }
        // Index 256 is bit 0 of the second word: index 0's bit does not cover it, nor the reverse.
        assertTrue(!dist.isClaimed(20, 1) && !dist.isClaimed(20, 257), "neighbours untouched");
        bytes32[] memory p = merkleProof(a, v, 256);
        vm.prank(a[256]);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.AlreadyClaimed.selector, uint64(20), 256));
        dist.claim(20, 256, v[256], p);
    }

    function testSettleGasPerEntry() public {
        params.setVerifier(ACCEPTING, address(new AcceptingVerifier()), true);
        _settleAccepting(10, 20);
        _settleAccepting(11, 200);
        _settleAccepting(12, 2000);
    }
}
