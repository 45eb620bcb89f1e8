// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

import {DatanetRegistry} from "../src/DatanetRegistry.sol";
import {Field} from "../src/Field.sol";
import {OpenToken} from "../src/OpenToken.sol";
import {ParamsRegistry} from "../src/ParamsRegistry.sol";
import {RewardDistributor} from "../src/RewardDistributor.sol";
import {RewardList} from "../src/RewardList.sol";
import {EpochFixture as F} from "./fixtures/EpochFixture.sol";
import {Deployment} from "./utils/Deployment.sol";

/// Settlement against the fixture's real proof, every way of misusing it, and claims.
contract RewardDistributorTest is Deployment {
    function _deployToken() internal override returns (IERC20) {
        return new OpenToken(address(this), 1e27);
    }

    function settleWith(bytes memory list, bytes memory proof) internal {
        vm.prank(OPERATOR);
        dist.settle(F.EPOCH, F.POOL, commitments(), list, proof);
    }

    // ---- settlement -------------------------------------------------------------------------------------

    function testSettlesWithTheRealProof() public {
        settleFixture();
        vm.snapshotGasLastCall("settle fixture (4 entries, real proof)");
        RewardDistributor.Epoch memory e = dist.epochInfo(F.EPOCH);
        assertTrue(e.settled, "settled");
        assertEq(e.totalRewarded, F.TOTAL_REWARDED, "total");
        assertEq(e.pool, F.POOL, "pool");
        (address[] memory a, uint256[] memory v) = entries(F.rewardList());
        bytes32[] memory leaves = new bytes32[](a.length);
        for (uint256 j = 0; j < a.length; ++j) {
            leaves[j] = RewardList.leaf(j, a[j], v[j]);
        }
        assertEq(e.rewardRoot, RewardList.root(leaves), "reward root");
    }

    function testTheListDigestIsTheProversRAndY() public view {
        RewardList.Digest memory d = this.digest(F.rewardList());
        assertEq(d.r, F.R, "r");
        assertEq(d.y, F.Y, "y");
        assertEq(d.total, F.TOTAL_REWARDED, "total");
    }

    function digest(bytes calldata list) external pure returns (RewardList.Digest memory) {
        return RewardList.digest(list);
    }

    function testOnlyTheOperatorSettles() public {
        bytes memory list = F.rewardList();
        bytes memory proof = F.proof();
        RewardDistributor.Commitments memory c = commitments();
        bytes32 role = dist.OPERATOR_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, address(this), role)
        );
        dist.settle(F.EPOCH, F.POOL, c, list, proof);
    }

    function testAValidProofIsNotReplayedOnTheSameEpoch() public {
        settleFixture();
        bytes memory list = F.rewardList();
        bytes memory proof = F.proof();
        RewardDistributor.Commitments memory c = commitments();
        vm.prank(OPERATOR);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.AlreadySettled.selector, F.EPOCH));
        dist.settle(F.EPOCH, F.POOL, c, list, proof);
    }

    function testAValidProofIsNotReplayedOnAnotherEpoch() public {
        vm.prank(OPERATOR);
        dist.openEpoch(2, datanet, VERSION, F.PARAMS_HASH);
        dist.fund(2, F.POOL);
        bytes memory list = F.rewardList();
        bytes memory proof = F.proof();
        RewardDistributor.Commitments memory c = commitments();
        vm.prank(OPERATOR);
        vm.expectRevert(RewardDistributor.InvalidProof.selector);
        dist.settle(2, F.POOL, c, list, proof);
    }

    function testAValidProofIsNotReplayedOnAnotherContract() public {
        RewardDistributor other =
            new RewardDistributor(token, datanets, params, WINDOW, address(this), OPERATOR, GUARDIAN, TREASURY);
        vm.prank(OPERATOR);
        other.openEpoch(F.EPOCH, datanet, VERSION, F.PARAMS_HASH);
        token.approve(address(other), F.POOL);
        other.fund(F.EPOCH, F.POOL);
        bytes memory list = F.rewardList();
        bytes memory proof = F.proof();
        RewardDistributor.Commitments memory c = commitments();
        vm.prank(OPERATOR);
        vm.expectRevert(RewardDistributor.InvalidProof.selector);
        other.settle(F.EPOCH, F.POOL, c, list, proof);
    }

    function testAValidProofIsNotReplayedOnAnotherChain() public {
        vm.chainId(1);
        bytes memory list = F.rewardList();
        bytes memory proof = F.proof();
        RewardDistributor.Commitments memory c = commitments();
        vm.prank(OPERATOR);
        vm.expectRevert(RewardDistributor.InvalidProof.selector);
        dist.settle(F.EPOCH, F.POOL, c, list, proof);
    }

    function testATamperedProofByteIsRejected() public {
        uint256[4] memory flips = [uint256(0), 200, 1000, F.proof().length - 1];
        for (uint256 i = 0; i < flips.length; ++i) {
            bytes memory proof = F.proof();
            proof[flips[i]] ^= 0x01;
            _expectInvalid(F.rewardList(), proof);
        }
        bytes memory truncated = F.proof();
        assembly ("memory-safe") {
            mstore(truncated, sub(mload(truncated), 32))
        }
        _expectInvalid(F.rewardList(), truncated);
    }

    function testAVerifierWhoseCodeIsGoneIsRefused() public {
        // The registry checked for code when the verifier was set; here it has gone since (as after a
        // SELFDESTRUCT in its creating transaction). A call to it would succeed with any proof: one entry
        // paying the whole pool to the operator, no proof at all.
        vm.etch(verifier, "");
        bytes memory list = abi.encodePacked(OPERATOR, uint256(F.POOL));
        RewardDistributor.Commitments memory c = commitments();
        vm.prank(OPERATOR);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.VerifierHasNoCode.selector, verifier));
        dist.settle(F.EPOCH, F.POOL, c, list, "");
    }

    function testFuzzATamperedProofByteIsRejected(uint256 index, uint8 flip) public {
        vm.assume(flip != 0);
        bytes memory proof = F.proof();
        index = index % proof.length;
        proof[index] ^= bytes1(flip);
        _expectInvalid(F.rewardList(), proof);
    }

    function testTamperedCommitmentsAreRejected() public {
        RewardDistributor.Commitments[3] memory bad;
        for (uint256 i = 0; i < 3; ++i) {
            bad[i] = commitments();
        }
        bad[0].model += 1;
        bad[1].features += 1;
        bad[2].query += 1;
        bytes memory list = F.rewardList();
        bytes memory proof = F.proof();
        for (uint256 i = 0; i < 3; ++i) {
            vm.prank(OPERATOR);
            vm.expectRevert(RewardDistributor.InvalidProof.selector);
            dist.settle(F.EPOCH, F.POOL, bad[i], list, proof);
        }
        // A commitment reduced modulo p by the verifier would alias: values >= p are refused outright.
        for (uint256 i = 0; i < 3; ++i) {
            RewardDistributor.Commitments memory wrapped = commitments();
            uint256 value;
            if (i == 0) value = wrapped.model += Field.P;
            if (i == 1) value = wrapped.features += Field.P;
            if (i == 2) value = wrapped.query += Field.P;
            vm.prank(OPERATOR);
            vm.expectRevert(abi.encodeWithSelector(Field.NotAFieldElement.selector, value));
            dist.settle(F.EPOCH, F.POOL, wrapped, list, proof);
        }
    }

    function testAPoolOtherThanTheProvenOneIsRejected() public {
        bytes memory list = F.rewardList();
        bytes memory proof = F.proof();
        RewardDistributor.Commitments memory c = commitments();
        // One unit less than proven: the public input differs.
        vm.prank(OPERATOR);
        vm.expectRevert(RewardDistributor.InvalidProof.selector);
        dist.settle(F.EPOCH, F.POOL - 1, c, list, proof);
        // More than was funded is refused before the verifier.
        vm.prank(OPERATOR);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.PoolAboveFunded.selector, F.POOL + 1, F.POOL));
        dist.settle(F.EPOCH, F.POOL + 1, c, list, proof);
        vm.prank(OPERATOR);
        vm.expectRevert(RewardDistributor.ZeroAmount.selector);
        dist.settle(F.EPOCH, 0, c, list, proof);
    }

    function testFundingBeyondTheProvenPoolDoesNotBlockSettlementAndIsSwept() public {
        // Anyone may fund; a surplus must not make the proven pool unusable (it is swept later).
        address stranger = address(0x5);
        token.transfer(stranger, 7);
        vm.startPrank(stranger);
        token.approve(address(dist), 7);
        dist.fund(F.EPOCH, 7);
        vm.stopPrank();
        settleFixture();
        vm.warp(block.timestamp + WINDOW + 1);
        dist.sweep(F.EPOCH);
        assertEq(token.balanceOf(TREASURY), F.POOL + 7, "the surplus and the unclaimed rewards go to the treasury");
    }

    function testAListWithOneAmountChangedIsRejected() public {
        (address[] memory a, uint256[] memory v) = entries(F.rewardList());
        v[1] += 1;
        _expectInvalid(pack(a, v), F.proof());
        // Moving one unit between two entries keeps the total and still fails.
        (a, v) = entries(F.rewardList());
        v[0] += 1;
        v[2] -= 1;
        _expectInvalid(pack(a, v), F.proof());
    }

    function testAListWithOneAddressChangedIsRejected() public {
        (address[] memory a, uint256[] memory v) = entries(F.rewardList());
        a[1] = address(uint160(a[1]) + 1); // still between its neighbours
        _expectInvalid(pack(a, v), F.proof());
    }

    function testAReorderedOrDuplicatedListIsRejected() public {
        (address[] memory a, uint256[] memory v) = entries(F.rewardList());
        (a[0], a[1]) = (a[1], a[0]);
        (v[0], v[1]) = (v[1], v[0]);
        bytes memory list = pack(a, v);
        bytes memory proof = F.proof();
        RewardDistributor.Commitments memory c = commitments();
        vm.prank(OPERATOR);
        vm.expectRevert(abi.encodeWithSelector(RewardList.NotStrictlyIncreasing.selector, 1));
        dist.settle(F.EPOCH, F.POOL, c, list, proof);

        (a, v) = entries(F.rewardList());
        a[2] = a[1];
        list = pack(a, v);
        vm.prank(OPERATOR);
        vm.expectRevert(abi.encodeWithSelector(RewardList.NotStrictlyIncreasing.selector, 2));
        dist.settle(F.EPOCH, F.POOL, c, list, proof);
    }

    function testAnAmountOf2To128IsRejected() public {
        (address[] memory a, uint256[] memory v) = entries(F.rewardList());
        v[1] = 1 << 128;
        bytes memory list = pack(a, v);
        bytes memory proof = F.proof();
        RewardDistributor.Commitments memory c = commitments();
        vm.prank(OPERATOR);
        vm.expectRevert(abi.encodeWithSelector(RewardList.AmountTooLarge.selector, 1));
        dist.settle(F.EPOCH, F.POOL, c, list, proof);
    }

    function testAListWithAnEntryOmittedOrAddedIsRejected() public {
        bytes memory list = F.rewardList();
        bytes memory shorter = new bytes(list.length - 52);
        for (uint256 i = 0; i < shorter.length; ++i) {
            shorter[i] = list[i];
        }
        _expectInvalid(shorter, F.proof());
        bytes memory longer = bytes.concat(list, abi.encodePacked(address(type(uint160).max), uint256(0)));
        _expectInvalid(longer, F.proof());
        bytes memory ragged = bytes.concat(list, hex"00");
        bytes memory proof = F.proof();
        RewardDistributor.Commitments memory c = commitments();
        vm.prank(OPERATOR);
        vm.expectRevert(abi.encodeWithSelector(RewardList.MalformedList.selector, ragged.length));
        dist.settle(F.EPOCH, F.POOL, c, ragged, proof);
    }

    function testAnEpochForAnUnsealedSnapshotCannotOpen() public {
        vm.prank(OPERATOR);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.NotSealed.selector, datanet, uint64(3)));
        dist.openEpoch(2, datanet, 3, F.PARAMS_HASH);
        bytes32 unknown = keccak256("nobody");
        vm.prank(OPERATOR);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.NotSealed.selector, unknown, uint64(1)));
        dist.openEpoch(2, unknown, 1, F.PARAMS_HASH);
    }

    function testInactiveParamsCannotOpenOrSettle() public {
        vm.prank(OPERATOR);
        vm.expectRevert(abi.encodeWithSelector(ParamsRegistry.InactiveParams.selector, uint256(7)));
        dist.openEpoch(2, datanet, 1, 7);
        // Governance deactivates the set after the epoch opened: settlement is refused.
        params.setVerifier(F.PARAMS_HASH, verifier, false);
        bytes memory list = F.rewardList();
        bytes memory proof = F.proof();
        RewardDistributor.Commitments memory c = commitments();
        vm.prank(OPERATOR);
        vm.expectRevert(abi.encodeWithSelector(ParamsRegistry.InactiveParams.selector, F.PARAMS_HASH));
        dist.settle(F.EPOCH, F.POOL, c, list, proof);
    }

    function testAnUnfundedOrUnderfundedEpochCannotSettle() public {
        vm.prank(OPERATOR);
        dist.openEpoch(2, datanet, VERSION, F.PARAMS_HASH);
        bytes memory list = F.rewardList();
        bytes memory proof = F.proof();
        RewardDistributor.Commitments memory c = commitments();
        vm.prank(OPERATOR);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.EmptyPool.selector, uint64(2)));
        dist.settle(2, F.POOL, c, list, proof);
        dist.fund(2, 1);
        vm.prank(OPERATOR);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.PoolAboveFunded.selector, F.POOL, 1));
        dist.settle(2, F.POOL, c, list, proof);
        // A list paying more than the pool claimed is refused before the verifier.
        vm.prank(OPERATOR);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.TotalAbovePool.selector, F.TOTAL_REWARDED, 1));
        dist.settle(2, 1, c, list, proof);
    }

    function testOpeningIsTheOperatorsAndOnce() public {
        bytes32 role = dist.OPERATOR_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, address(this), role)
        );
        dist.openEpoch(2, datanet, VERSION, F.PARAMS_HASH);
        vm.prank(OPERATOR);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.EpochExists.selector, F.EPOCH));
        dist.openEpoch(F.EPOCH, datanet, VERSION, F.PARAMS_HASH);
    }

    function testFundingNeedsAnOpenUnsettledEpoch() public {
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.UnknownEpoch.selector, uint64(9)));
        dist.fund(9, 1);
        vm.expectRevert(RewardDistributor.ZeroAmount.selector);
        dist.fund(F.EPOCH, 0);
        settleFixture();
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.AlreadySettled.selector, F.EPOCH));
        dist.fund(F.EPOCH, 1);
    }

    // ---- claims and sweep -------------------------------------------------------------------------------

    function testEveryContributorClaimsTheirAmountOnce() public {
        settleFixture();
        (address[] memory a, uint256[] memory v) = entries(F.rewardList());
        uint256 paid;
        for (uint256 j = 0; j < a.length; ++j) {
            if (v[j] == 0) continue;
            bytes32[] memory proof = merkleProof(a, v, j);
            vm.prank(a[j]);
            dist.claim(F.EPOCH, j, v[j], proof);
            if (j == 0) vm.snapshotGasLastCall("claim (first of its bitmap word)");
            if (j == 1) vm.snapshotGasLastCall("claim (later in its bitmap word)");
            assertEq(token.balanceOf(a[j]), v[j], "balance after claim");
            paid += v[j];
            vm.prank(a[j]);
            vm.expectRevert(abi.encodeWithSelector(RewardDistributor.AlreadyClaimed.selector, F.EPOCH, j));
            dist.claim(F.EPOCH, j, v[j], proof);
        }
        assertEq(paid, F.TOTAL_REWARDED, "everything proven was paid");
        assertEq(dist.epochInfo(F.EPOCH).claimed, paid, "claimed");
        assertEq(token.balanceOf(address(dist)), F.POOL - paid, "the rest stays");
    }

    function testAWrongAmountOrSomeoneElsesProofIsRefused() public {
        settleFixture();
        (address[] memory a, uint256[] memory v) = entries(F.rewardList());
        bytes32[] memory proof = merkleProof(a, v, 0);
        vm.prank(a[0]);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.InvalidClaim.selector, F.EPOCH, a[0], v[0] + 1));
        dist.claim(F.EPOCH, 0, v[0] + 1, proof);
        vm.prank(a[1]);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.InvalidClaim.selector, F.EPOCH, a[1], v[0]));
        dist.claim(F.EPOCH, 0, v[0], proof);
        // The right account and amount under another index (another bitmap bit) fail too.
        vm.prank(a[0]);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.InvalidClaim.selector, F.EPOCH, a[0], v[0]));
        dist.claim(F.EPOCH, 1, v[0], proof);
        vm.prank(a[0]);
        vm.expectRevert(RewardDistributor.ZeroAmount.selector);
        dist.claim(F.EPOCH, 0, 0, proof);
        assertTrue(!dist.isClaimed(F.EPOCH, 0) && !dist.isClaimed(F.EPOCH, 1), "nothing recorded");
    }

    function testFuzzClaimsOutsideTheListAreRefused(address who, uint256 index, uint256 amount, bytes32 sibling)
        public
    {
        settleFixture();
        (address[] memory a, uint256[] memory v) = entries(F.rewardList());
        for (uint256 j = 0; j < a.length; ++j) {
            vm.assume(who != a[j]);
        }
        vm.assume(amount != 0);
        bytes32[] memory proof = merkleProof(a, v, 0);
        proof[0] = sibling;
        vm.prank(who);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.InvalidClaim.selector, F.EPOCH, who, amount));
        dist.claim(F.EPOCH, index, amount, proof);
    }

    function testAnyoneClaimsForAContributorAndOnlyTheContributorIsPaid() public {
        settleFixture();
        (address[] memory a, uint256[] memory v) = entries(F.rewardList());
        bytes32[] memory p0 = merkleProof(a, v, 0);
        address relayer = address(0x4e1a7);
        // The contributor's proof with the relayer's own address, or with another amount: refused.
        vm.prank(relayer);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.InvalidClaim.selector, F.EPOCH, relayer, v[0]));
        dist.claimFor(F.EPOCH, 0, relayer, v[0], p0);
        vm.prank(relayer);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.InvalidClaim.selector, F.EPOCH, a[0], v[0] + 1));
        dist.claimFor(F.EPOCH, 0, a[0], v[0] + 1, p0);
        vm.prank(relayer);
        dist.claimFor(F.EPOCH, 0, a[0], v[0], p0);
        assertEq(token.balanceOf(a[0]), v[0], "the contributor is paid");
        assertEq(token.balanceOf(relayer), 0, "the relayer is not");
        assertTrue(dist.isClaimed(F.EPOCH, 0), "recorded");
        // Neither the contributor nor the relayer claims it again.
        vm.prank(a[0]);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.AlreadyClaimed.selector, F.EPOCH, 0));
        dist.claim(F.EPOCH, 0, v[0], p0);
        vm.prank(relayer);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.AlreadyClaimed.selector, F.EPOCH, 0));
        dist.claimFor(F.EPOCH, 0, a[0], v[0], p0);
        // A contributor's own claim blocks a later one on their behalf.
        bytes32[] memory p1 = merkleProof(a, v, 1);
        vm.prank(a[1]);
        dist.claim(F.EPOCH, 1, v[1], p1);
        vm.prank(relayer);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.AlreadyClaimed.selector, F.EPOCH, 1));
        dist.claimFor(F.EPOCH, 1, a[1], v[1], p1);
        assertEq(token.balanceOf(address(dist)), F.POOL - v[0] - v[1], "paid once each");
    }

    function testNothingIsClaimedBeforeSettlement() public {
        (address[] memory a, uint256[] memory v) = entries(F.rewardList());
        bytes32[] memory proof = merkleProof(a, v, 0);
        vm.prank(a[0]);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.NotSettled.selector, F.EPOCH));
        dist.claim(F.EPOCH, 0, v[0], proof);
    }

    function testTheRestIsSweptToTheTreasuryAfterTheWindow() public {
        settleFixture();
        (address[] memory a, uint256[] memory v) = entries(F.rewardList());
        vm.prank(a[0]);
        dist.claim(F.EPOCH, 0, v[0], merkleProof(a, v, 0));
        uint256 closes = block.timestamp + WINDOW;
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.ClaimWindowOpen.selector, F.EPOCH, closes));
        dist.sweep(F.EPOCH);
        vm.warp(closes + 1);
        bytes32[] memory proof = merkleProof(a, v, 1);
        vm.prank(a[1]);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.ClaimWindowClosed.selector, F.EPOCH, closes));
        dist.claim(F.EPOCH, 1, v[1], proof);
        dist.sweep(F.EPOCH);
        assertEq(token.balanceOf(TREASURY), F.POOL - v[0], "treasury gets the pool less the claims");
        assertEq(token.balanceOf(address(dist)), 0, "nothing left");
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.AlreadySwept.selector, F.EPOCH));
        dist.sweep(F.EPOCH);
    }

    function testAnUnsettledEpochIsNeverSwept() public {
        vm.warp(block.timestamp + 10 * WINDOW);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.NotSettled.selector, F.EPOCH));
        dist.sweep(F.EPOCH);
    }

    function testOnlyTheAdminMovesTheTreasury() public {
        vm.prank(OPERATOR);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, OPERATOR, bytes32(0))
        );
        dist.setTreasury(OPERATOR);
        dist.setTreasury(address(0xbeef));
        assertEq(dist.treasury(), address(0xbeef), "treasury");
    }

    // ---- pause ------------------------------------------------------------------------------------------

    function testTheGuardianPausesSettlementClaimsAndSweeps() public {
        bytes32 role = dist.GUARDIAN_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, address(this), role)
        );
        dist.pause();
        vm.prank(GUARDIAN);
        dist.pause();
        bytes memory list = F.rewardList();
        bytes memory proof = F.proof();
        RewardDistributor.Commitments memory c = commitments();
        vm.prank(OPERATOR);
        vm.expectRevert(RewardDistributor.EnforcedPause.selector);
        dist.settle(F.EPOCH, F.POOL, c, list, proof);
        vm.prank(GUARDIAN);
        dist.unpause();
        settleFixture();
        vm.prank(GUARDIAN);
        dist.pause();
        (address[] memory a, uint256[] memory v) = entries(F.rewardList());
        bytes32[] memory mp = merkleProof(a, v, 0);
        vm.prank(a[0]);
        vm.expectRevert(RewardDistributor.EnforcedPause.selector);
        dist.claim(F.EPOCH, 0, v[0], mp);
        vm.expectRevert(RewardDistributor.EnforcedPause.selector);
        dist.claimFor(F.EPOCH, 0, a[0], v[0], mp);
        vm.warp(block.timestamp + WINDOW + 1);
        vm.expectRevert(RewardDistributor.EnforcedPause.selector);
        dist.sweep(F.EPOCH);
    }

    function testOnlyTheGuardianUnpauses() public {
        vm.prank(GUARDIAN);
        dist.pause();
        bytes32 role = dist.GUARDIAN_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, address(this), role)
        );
        dist.unpause();
        vm.prank(GUARDIAN);
        dist.unpause();
        assertTrue(!dist.paused(), "unpaused");
        vm.prank(GUARDIAN);
        vm.expectRevert(RewardDistributor.ExpectedPause.selector);
        dist.unpause();
    }

    function testAPauseExtendsTheClaimWindow() public {
        settleFixture();
        uint256 closes = block.timestamp + WINDOW;
        assertEq(dist.claimsCloseAt(F.EPOCH), closes, "window");
        // The guardian pauses one day in, until past the end of the window: the contributors lose no time.
        vm.warp(block.timestamp + 1 days);
        vm.prank(GUARDIAN);
        dist.pause();
        uint256 pausedFor = WINDOW + 10 days;
        vm.warp(block.timestamp + pausedFor);
        vm.prank(GUARDIAN);
        dist.unpause();
        assertEq(dist.claimsCloseAt(F.EPOCH), closes + pausedFor, "extended by the pause");
        vm.expectRevert(
            abi.encodeWithSelector(RewardDistributor.ClaimWindowOpen.selector, F.EPOCH, closes + pausedFor)
        );
        dist.sweep(F.EPOCH);
        (address[] memory a, uint256[] memory v) = entries(F.rewardList());
        vm.prank(a[0]);
        dist.claim(F.EPOCH, 0, v[0], merkleProof(a, v, 0));
        assertEq(token.balanceOf(a[0]), v[0], "claimed after the pause");
    }

    function testAPauseThatEndedBeforeSettlementDoesNotExtendTheWindow() public {
        vm.prank(GUARDIAN);
        dist.pause();
        vm.warp(block.timestamp + 10 days);
        vm.prank(GUARDIAN);
        dist.unpause();
        settleFixture();
        assertEq(dist.claimsCloseAt(F.EPOCH), block.timestamp + WINDOW, "the window runs from settlement");
    }

    function testSweepAndCancelPayOnlyTheirOwnEpoch() public {
        // Three epochs' pools in one contract: cancelling epoch 2 pays its pool, sweeping epoch 1 pays its
        // rest, and epoch 3's pool stays.
        vm.startPrank(OPERATOR);
        dist.openEpoch(2, datanet, VERSION, F.PARAMS_HASH);
        dist.openEpoch(3, datanet, VERSION, F.PARAMS_HASH);
        vm.stopPrank();
        dist.fund(2, 5);
        dist.fund(3, 7);
        dist.cancelEpoch(2);
        assertEq(token.balanceOf(TREASURY), 5, "cancel pays epoch 2's pool only");
        settleFixture();
        (address[] memory a, uint256[] memory v) = entries(F.rewardList());
        vm.prank(a[0]);
        dist.claim(F.EPOCH, 0, v[0], merkleProof(a, v, 0));
        vm.warp(block.timestamp + WINDOW + 1);
        dist.sweep(F.EPOCH);
        assertEq(token.balanceOf(TREASURY), 5 + F.POOL - v[0], "sweep pays epoch 1's rest only");
        assertEq(token.balanceOf(address(dist)), 7, "epoch 3's pool stays");
        assertEq(dist.epochInfo(3).pool, 7, "epoch 3's pool");
    }

    function testGovernanceCancelsAnEpochThatCannotSettle() public {
        // The parameter set is switched off after the epoch opened: it can never settle. Only the admin
        // (the timelock) cancels it, and its pool goes to the treasury.
        params.setVerifier(F.PARAMS_HASH, verifier, false);
        bytes32 admin = dist.DEFAULT_ADMIN_ROLE();
        vm.prank(OPERATOR);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, OPERATOR, admin)
        );
        dist.cancelEpoch(F.EPOCH);
        dist.cancelEpoch(F.EPOCH);
        assertEq(token.balanceOf(TREASURY), F.POOL, "pool to the treasury");
        assertEq(token.balanceOf(address(dist)), 0, "nothing left");
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.EpochIsCancelled.selector, F.EPOCH));
        dist.cancelEpoch(F.EPOCH);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.EpochIsCancelled.selector, F.EPOCH));
        dist.fund(F.EPOCH, 1);
        params.setVerifier(F.PARAMS_HASH, verifier, true);
        bytes memory list = F.rewardList();
        bytes memory proof = F.proof();
        RewardDistributor.Commitments memory c = commitments();
        vm.prank(OPERATOR);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.EpochIsCancelled.selector, F.EPOCH));
        dist.settle(F.EPOCH, F.POOL, c, list, proof);
    }

    function testASettledEpochCannotBeCancelled() public {
        settleFixture();
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.AlreadySettled.selector, F.EPOCH));
        dist.cancelEpoch(F.EPOCH);
    }

    function testFuzzTheDigestsTreeIsTheReferenceTree(uint8 size, uint256 seed) public view {
        uint256 n = uint256(size) % 40 + 1;
        address[] memory a = new address[](n);
        uint256[] memory v = new uint256[](n);
        for (uint256 j = 0; j < n; ++j) {
            a[j] = address(uint160((j + 1) << 100) + uint160(seed % 1000));
            v[j] = uint256(keccak256(abi.encode(seed, j))) >> 130;
        }
        RewardList.Digest memory d = this.digest(pack(a, v));
        bytes32[] memory leaves = new bytes32[](n);
        for (uint256 j = 0; j < n; ++j) {
            leaves[j] = RewardList.leaf(j, a[j], v[j]);
        }
        assertEq(d.root, RewardList.root(leaves), "digest root = reference root");
        // And every entry's proof from the independent builder verifies against it.
        for (uint256 j = 0; j < n; ++j) {
            bytes32 h = RewardList.leaf(j, a[j], v[j]);
            bytes32[] memory p = merkleProof(a, v, j);
            for (uint256 i = 0; i < p.length; ++i) {
                h = h < p[i] ? keccak256(abi.encode(h, p[i])) : keccak256(abi.encode(p[i], h));
            }
            assertEq(h, d.root, "proof");
        }
    }

    function testZeroAddressesAreRefused() public {
        vm.expectRevert(RewardDistributor.ZeroAddress.selector);
        dist.setTreasury(address(0));
        vm.expectRevert(RewardDistributor.ZeroAddress.selector);
        new RewardDistributor(token, datanets, params, WINDOW, address(this), OPERATOR, GUARDIAN, address(0));
        vm.expectRevert(RewardDistributor.ZeroAddress.selector);
        new RewardDistributor(token, datanets, params, WINDOW, address(0), OPERATOR, GUARDIAN, TREASURY);
        vm.expectRevert(RewardDistributor.ZeroAddress.selector);
        new RewardDistributor(IERC20(address(0)), datanets, params, WINDOW, address(this), OPERATOR, GUARDIAN, TREASURY);
        vm.expectRevert(RewardDistributor.ZeroAddress.selector);
        new RewardDistributor(
            token, DatanetRegistry(address(0)), params, WINDOW, address(this), OPERATOR, GUARDIAN, TREASURY
        );
        vm.expectRevert(RewardDistributor.ZeroAddress.selector);
        new RewardDistributor(
            token, datanets, ParamsRegistry(address(0)), WINDOW, address(this), OPERATOR, GUARDIAN, TREASURY
        );
    }

    function testAPoolOf2To128IsRefused() public {
        OpenToken big = new OpenToken(address(this), 1 << 130);
        RewardDistributor other =
            new RewardDistributor(big, datanets, params, WINDOW, address(this), OPERATOR, GUARDIAN, TREASURY);
        vm.prank(OPERATOR);
        other.openEpoch(1, datanet, VERSION, F.PARAMS_HASH);
        big.approve(address(other), type(uint256).max);
        other.fund(1, (1 << 128) - 1);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.PoolTooLarge.selector, 1 << 128));
        other.fund(1, 1);
    }

    function _expectInvalid(bytes memory list, bytes memory proof) internal {
        RewardDistributor.Commitments memory c = commitments();
        vm.prank(OPERATOR);
        vm.expectRevert(RewardDistributor.InvalidProof.selector);
        dist.settle(F.EPOCH, F.POOL, c, list, proof);
    }
}
