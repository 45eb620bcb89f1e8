// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {OpenToken} from "../src/OpenToken.sol";
import {RewardDistributor} from "../src/RewardDistributor.sol";
import {EpochFixture as F} from "./fixtures/EpochFixture.sol";
import {Deployment} from "./utils/Deployment.sol";
import {Test} from "./utils/Test.sol";

// The second epoch, open beside the fixture's.
uint64 constant OTHER_EPOCH = 2;

/// Random sequences of everything anyone can do to the fixture's epoch: honest and forged settlements and
/// claims (by the contributors or by a relayer on their behalf), funding, sweeps, time passing; and beside
/// it a second open epoch that is funded and may be cancelled, whose pool must never pay epoch 1.
contract Handler is Test {
    RewardDistributor internal dist;
    IERC20 internal token;
    address internal operator;
    address[] internal accounts;
    uint256[] internal amounts;
    bytes32[][] internal proofs;
    /// Whether a settlement ever succeeded, and whether tokens ever left the distributor before it.
    bool public settledOnce;
    bool public leftBeforeSettlement;

    constructor(
        RewardDistributor dist_,
        IERC20 token_,
        address operator_,
        address[] memory a,
        uint256[] memory v,
        bytes32[][] memory p
    ) {
        dist = dist_;
        token = token_;
        operator = operator_;
        accounts = a;
        amounts = v;
        for (uint256 j = 0; j < p.length; ++j) {
            proofs.push(p[j]);
        }
    }

    function _watch() internal view returns (uint256) {
        return token.balanceOf(address(dist));
    }

    function _after(uint256 before) internal {
        if (!settledOnce && token.balanceOf(address(dist)) < before) leftBeforeSettlement = true;
    }

    function settle(bool forge, uint256 index, uint8 flip) external {
        uint256 before = _watch();
        bytes memory proof = F.proof();
        if (forge) proof[index % proof.length] ^= bytes1(flip | 1);
        vm.prank(operator);
        try dist.settle(
            F.EPOCH, F.POOL, RewardDistributor.Commitments(F.MODEL_COMMITMENT, F.FEATURES_ROOT, F.QUERY_COMMITMENT),
            F.rewardList(), proof
        ) {
            settledOnce = true;
        } catch {}
        _after(before);
    }

    function claimFor(uint256 who, uint256 amount, bool honest, address relayer) external {
        uint256 before = _watch();
        uint256 j = who % accounts.length;
        uint256 value = honest ? amounts[j] : amount;
        vm.prank(relayer);
        try dist.claimFor(F.EPOCH, j, accounts[j], value, proofs[j]) {} catch {}
        _after(before);
    }

    function fundOther(uint256 amount) external {
        amount = amount % 1e24 + 1;
        try dist.fund(OTHER_EPOCH, amount) {} catch {}
    }

    /// The handler holds the admin role (the timelock's, in a deployment) for this one call.
    function cancelOther() external {
        try dist.cancelEpoch(OTHER_EPOCH) {} catch {}
    }

    function claim(uint256 who, uint256 amount, bool honest) external {
        uint256 before = _watch();
        uint256 j = who % accounts.length;
        uint256 value = honest ? amounts[j] : amount;
        vm.prank(accounts[j]);
        try dist.claim(F.EPOCH, j, value, proofs[j]) {} catch {}
        _after(before);
    }

    function fund(uint256 amount) external {
        amount = amount % 1e24 + 1;
        try dist.fund(F.EPOCH, amount) {} catch {}
    }

    function sweep() external {
        uint256 before = _watch();
        try dist.sweep(F.EPOCH) {} catch {}
        _after(before);
    }

    function wait(uint256 dt) external {
        vm.warp(block.timestamp + dt % (40 days));
    }
}

contract InvariantsTest is Deployment {
    Handler internal handler;
    address[] internal accounts;

    function _deployToken() internal override returns (IERC20) {
        return new OpenToken(address(this), 1e27);
    }

    function setUp() public override {
        super.setUp();
        (address[] memory a, uint256[] memory v) = entries(F.rewardList());
        accounts = a;
        bytes32[][] memory p = new bytes32[][](a.length);
        for (uint256 j = 0; j < a.length; ++j) {
            p[j] = merkleProof(a, v, j);
        }
        handler = new Handler(dist, token, OPERATOR, a, v, p);
        token.transfer(address(handler), 1e26);
        vm.prank(address(handler));
        token.approve(address(dist), type(uint256).max);
        vm.prank(OPERATOR);
        dist.openEpoch(OTHER_EPOCH, datanet, VERSION, F.PARAMS_HASH);
        dist.fund(OTHER_EPOCH, 1e18);
        dist.grantRole(dist.DEFAULT_ADMIN_ROLE(), address(handler));
    }

    function targetContracts() public view returns (address[] memory t) {
        t = new address[](1);
        t[0] = address(handler);
    }

    /// sum claimed <= total_rewarded <= pool; the tokens held are exactly each epoch's pool less what was paid
    /// from it, and the treasury holds exactly epoch 1's swept rest and epoch 2's cancelled pool.
    function invariantAccountsAddUp() public view {
        RewardDistributor.Epoch memory e = dist.epochInfo(F.EPOCH);
        RewardDistributor.Epoch memory o = dist.epochInfo(OTHER_EPOCH);
        assertLe(e.claimed, e.totalRewarded, "claimed <= total rewarded");
        assertLe(e.totalRewarded, e.pool, "total rewarded <= pool");
        uint256 paid;
        for (uint256 j = 0; j < accounts.length; ++j) {
            paid += token.balanceOf(accounts[j]);
        }
        assertEq(paid, e.claimed, "contributors hold exactly what was claimed");
        uint256 swept = e.swept ? e.pool - e.claimed : 0;
        uint256 cancelled = o.cancelled ? o.pool : 0;
        assertEq(token.balanceOf(TREASURY), swept + cancelled, "the treasury holds the swept and cancelled pools");
        assertEq(
            token.balanceOf(address(dist)),
            (e.pool - e.claimed - swept) + (o.pool - cancelled),
            "held = each epoch's pool less what left it"
        );
        if (!e.settled) assertEq(paid + swept, 0, "nothing leaves an unsettled epoch");
        assertTrue(!o.settled, "epoch 2 has no proof and never settles");
    }

    function invariantNothingLeavesWithoutASettledProof() public view {
        assertTrue(!handler.leftBeforeSettlement(), "tokens left before a proof settled the epoch");
        RewardDistributor.Epoch memory e = dist.epochInfo(F.EPOCH);
        if (e.settled) assertEq(e.totalRewarded, F.TOTAL_REWARDED, "only the proven list settles");
    }
}
