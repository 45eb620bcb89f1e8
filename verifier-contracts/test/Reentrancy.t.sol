// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {RewardDistributor} from "../src/RewardDistributor.sol";
import {EpochFixture as F} from "./fixtures/EpochFixture.sol";
import {Deployment} from "./utils/Deployment.sol";

/// A token that, once armed, calls back into a contract whenever that contract sends tokens.
contract ReentrantToken is ERC20 {
    address public target;
    bytes public payload;

    constructor(address holder) ERC20("Reentrant", "RE") {
        _mint(holder, 1e27);
    }

    function arm(address target_, bytes calldata payload_) external {
        target = target_;
        payload = payload_;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (target != address(0) && from == target) {
            address t = target;
            target = address(0);
            (bool ok, bytes memory ret) = t.call(payload);
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(ret, 0x20), mload(ret))
                }
            }
        }
    }
}

/// Funds an epoch from its own balance; armed on the token, `again` funds once more while a payment of the
/// funder's is under way.
contract Funder {
    RewardDistributor internal immutable dist;
    uint64 internal immutable epoch;

    constructor(RewardDistributor dist_, IERC20 token, uint64 epoch_) {
        dist = dist_;
        epoch = epoch_;
        token.approve(address(dist_), type(uint256).max);
    }

    function fund(uint256 amount) external {
        dist.fund(epoch, amount);
    }

    function again() external {
        dist.fund(epoch, 1e6);
    }
}

/// The distributor with a token that re-enters it on every payment.
contract ReentrancyTest is Deployment {
    function _deployToken() internal override returns (IERC20) {
        return new ReentrantToken(address(this));
    }

    function testAClaimCannotBeReentered() public {
        settleFixture();
        (address[] memory a, uint256[] memory v) = entries(F.rewardList());
        bytes32[] memory p0 = merkleProof(a, v, 0);
        bytes32[] memory p1 = merkleProof(a, v, 1);
        ReentrantToken(address(token)).arm(
            address(dist), abi.encodeCall(RewardDistributor.claim, (F.EPOCH, 1, v[1], p1))
        );
        vm.prank(a[0]);
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        dist.claim(F.EPOCH, 0, v[0], p0);
        assertEq(token.balanceOf(a[0]), 0, "nothing paid");
        assertEq(token.balanceOf(address(dist)), F.POOL, "pool intact");
    }

    function testAClaimOnSomeonesBehalfCannotBeReentered() public {
        settleFixture();
        (address[] memory a, uint256[] memory v) = entries(F.rewardList());
        bytes32[] memory p0 = merkleProof(a, v, 0);
        bytes32[] memory p1 = merkleProof(a, v, 1);
        ReentrantToken(address(token)).arm(
            address(dist), abi.encodeCall(RewardDistributor.claimFor, (F.EPOCH, 1, a[1], v[1], p1))
        );
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        dist.claimFor(F.EPOCH, 0, a[0], v[0], p0);
        assertEq(token.balanceOf(a[0]), 0, "nothing paid");
        assertEq(token.balanceOf(address(dist)), F.POOL, "pool intact");
    }

    function testASweepCannotBeReenteredFromAClaim() public {
        settleFixture();
        (address[] memory a, uint256[] memory v) = entries(F.rewardList());
        bytes32[] memory p0 = merkleProof(a, v, 0);
        ReentrantToken(address(token)).arm(address(dist), abi.encodeCall(RewardDistributor.sweep, (F.EPOCH)));
        vm.prank(a[0]);
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        dist.claim(F.EPOCH, 0, v[0], p0);
        assertEq(token.balanceOf(address(dist)), F.POOL, "pool intact");
    }

    /// Re-entered, `fund` would count the inner amount twice: the outer call measures both arrivals and adds
    /// them to a pool the inner call already raised (3e6 counted for 2e6 received), and the difference would
    /// later be paid from other epochs' funds.
    function testFundingCannotBeReenteredToCountAnAmountTwice() public {
        Funder f = new Funder(dist, token, F.EPOCH);
        token.transfer(address(f), 2e6);
        ReentrantToken(address(token)).arm(address(f), abi.encodeCall(Funder.again, ()));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        f.fund(1e6);
        assertEq(dist.epochInfo(F.EPOCH).pool, F.POOL, "pool unchanged");
        assertEq(token.balanceOf(address(dist)), F.POOL, "nothing arrived");
    }
}
