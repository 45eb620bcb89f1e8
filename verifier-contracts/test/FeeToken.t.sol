// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {EpochFixture as F} from "./fixtures/EpochFixture.sol";
import {Deployment} from "./utils/Deployment.sol";

/// A token that burns 1% of every transfer (the distributor accepts any ERC20).
contract FeeToken is ERC20 {
    constructor(address holder) ERC20("Fee", "FEE") {
        _mint(holder, 1e27);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from == address(0) || to == address(0)) return super._update(from, to, value);
        uint256 fee = value / 100;
        super._update(from, address(0), fee);
        super._update(from, to, value - fee);
    }
}

/// Funding with a fee-taking token: the pool is what arrived, not what was sent, so a proof can never
/// distribute more than the contract holds for the epoch.
contract FeeTokenTest is Deployment {
    function _deployToken() internal override returns (IERC20) {
        return new FeeToken(address(this));
    }

    function testThePoolIsWhatArrived() public {
        // setUp funded F.POOL; 1% of it was burnt on the way.
        assertEq(dist.epochInfo(F.EPOCH).pool, F.POOL - F.POOL / 100, "pool after the fee");
        assertEq(dist.epochInfo(F.EPOCH).pool, token.balanceOf(address(dist)), "pool = balance");
        dist.fund(F.EPOCH, 100);
        assertEq(token.balanceOf(address(dist)), F.POOL - F.POOL / 100 + 99, "balance");
        assertEq(dist.epochInfo(F.EPOCH).pool, token.balanceOf(address(dist)), "pool = balance after more");
    }
}
