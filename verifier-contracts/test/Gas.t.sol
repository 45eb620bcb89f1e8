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
        dist.settle(epoch, c, list, hex"");
        vm.snapshotGasLastCall(string.concat("settle, accepting verifier, ", vm.toString(n), " entries"));
    }

    function testSettleGasPerEntry() public {
        params.setVerifier(ACCEPTING, address(new AcceptingVerifier()), true);
        _settleAccepting(10, 20);
        _settleAccepting(11, 200);
        _settleAccepting(12, 2000);
    }
}
