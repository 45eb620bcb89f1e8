// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IGovernor} from "@openzeppelin/contracts/governance/IGovernor.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

import {OpenToken} from "../src/OpenToken.sol";
import {ParamsRegistry} from "../src/ParamsRegistry.sol";
import {ZkattrGovernor} from "../src/ZkattrGovernor.sol";
import {EpochFixture as F} from "./fixtures/EpochFixture.sol";
import {Test} from "./utils/Test.sol";

/// The parameter registry belongs to the timelock: only a passed, queued and executed proposal changes it.
contract GovernanceTest is Test {
    OpenToken internal token;
    TimelockController internal timelock;
    ZkattrGovernor internal gov;
    ParamsRegistry internal params;
    address internal verifierA;
    address internal verifierB;

    address internal constant VOTER = address(0xA11CE);
    address internal constant MINNOW = address(0xB0B);
    uint256 internal constant DELAY = 2 days;

    function setUp() public {
        token = new OpenToken(VOTER, 1_000_000e18);
        vm.prank(VOTER);
        token.transfer(MINNOW, 10_000e18); // 1%: below the 4% quorum alone
        vm.prank(VOTER);
        token.delegate(VOTER);
        vm.prank(MINNOW);
        token.delegate(MINNOW);
        vm.roll(block.number + 1);
        address[] memory none = new address[](0);
        timelock = new TimelockController(DELAY, none, none, address(this));
        gov = new ZkattrGovernor(token, timelock, 1, 50, 0, 4);
        timelock.grantRole(timelock.PROPOSER_ROLE(), address(gov));
        timelock.grantRole(timelock.CANCELLER_ROLE(), address(gov));
        timelock.grantRole(timelock.EXECUTOR_ROLE(), address(0));
        timelock.renounceRole(timelock.DEFAULT_ADMIN_ROLE(), address(this));
        params = new ParamsRegistry(address(timelock));
        verifierA = _deploy(F.verifierCreationCode());
        verifierB = _deploy(F.verifierCreationCode());
    }

    function _deploy(bytes memory creation) internal returns (address a) {
        assembly ("memory-safe") {
            a := create(0, add(creation, 0x20), mload(creation))
        }
        require(a != address(0), "deployment failed");
    }

    function _proposal(address verifier, bool active)
        internal
        view
        returns (address[] memory targets, uint256[] memory values, bytes[] memory calls)
    {
        targets = new address[](1);
        values = new uint256[](1);
        calls = new bytes[](1);
        targets[0] = address(params);
        calls[0] = abi.encodeCall(ParamsRegistry.setVerifier, (F.PARAMS_HASH, verifier, active));
    }

    /// propose -> vote -> queue -> execute; returns the proposal id.
    function _pass(address verifier, bool active, string memory description) internal returns (uint256 id) {
        (address[] memory t, uint256[] memory v, bytes[] memory c) = _proposal(verifier, active);
        vm.prank(VOTER);
        id = gov.propose(t, v, c, description);
        vm.roll(block.number + gov.votingDelay() + 1);
        vm.prank(VOTER);
        gov.castVote(id, 1);
        vm.roll(block.number + gov.votingPeriod() + 1);
        assertTrue(gov.state(id) == IGovernor.ProposalState.Succeeded, "succeeded");
        gov.queue(t, v, c, keccak256(bytes(description)));
        vm.warp(block.timestamp + DELAY + 1);
        gov.execute(t, v, c, keccak256(bytes(description)));
        assertTrue(gov.state(id) == IGovernor.ProposalState.Executed, "executed");
    }

    function testAProposalSwitchesTheVerifier() public {
        _pass(verifierA, true, "activate verifier A");
        assertEq(params.activeVerifier(F.PARAMS_HASH), verifierA, "A active");
        _pass(verifierB, true, "switch to verifier B");
        assertEq(params.activeVerifier(F.PARAMS_HASH), verifierB, "B active");
        _pass(verifierB, false, "deactivate");
        vm.expectRevert(abi.encodeWithSelector(ParamsRegistry.InactiveParams.selector, F.PARAMS_HASH));
        params.activeVerifier(F.PARAMS_HASH);
    }

    function testNobodyElseChangesTheRegistry() public {
        vm.prank(VOTER);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, VOTER));
        params.setVerifier(F.PARAMS_HASH, verifierA, true);
        // Not even the deployer of the timelock, which renounced its admin role.
        vm.expectRevert();
        timelock.schedule(
            address(params),
            0,
            abi.encodeCall(ParamsRegistry.setVerifier, (F.PARAMS_HASH, verifierA, true)),
            bytes32(0),
            bytes32(0),
            DELAY
        );
    }

    function testTheTimelockDelayHolds() public {
        (address[] memory t, uint256[] memory v, bytes[] memory c) = _proposal(verifierA, true);
        string memory d = "too early";
        vm.prank(VOTER);
        uint256 id = gov.propose(t, v, c, d);
        vm.roll(block.number + gov.votingDelay() + 1);
        vm.prank(VOTER);
        gov.castVote(id, 1);
        vm.roll(block.number + gov.votingPeriod() + 1);
        gov.queue(t, v, c, keccak256(bytes(d)));
        vm.warp(block.timestamp + DELAY - 10);
        vm.expectRevert();
        gov.execute(t, v, c, keccak256(bytes(d)));
        assertEq(params.entry(F.PARAMS_HASH).verifier, address(0), "unchanged");
    }

    function testAProposalWithoutQuorumOrMajorityFails() public {
        (address[] memory t, uint256[] memory v, bytes[] memory c) = _proposal(verifierA, true);
        string memory d = "minnow alone";
        vm.prank(MINNOW);
        uint256 id = gov.propose(t, v, c, d);
        vm.roll(block.number + gov.votingDelay() + 1);
        vm.prank(MINNOW);
        gov.castVote(id, 1);
        vm.roll(block.number + gov.votingPeriod() + 1);
        assertTrue(gov.state(id) == IGovernor.ProposalState.Defeated, "defeated without quorum");
        vm.expectRevert();
        gov.queue(t, v, c, keccak256(bytes(d)));

        d = "voted down";
        vm.prank(MINNOW);
        id = gov.propose(t, v, c, d);
        vm.roll(block.number + gov.votingDelay() + 1);
        vm.prank(MINNOW);
        gov.castVote(id, 1);
        vm.prank(VOTER);
        gov.castVote(id, 0);
        vm.roll(block.number + gov.votingPeriod() + 1);
        assertTrue(gov.state(id) == IGovernor.ProposalState.Defeated, "defeated by votes against");
        assertEq(params.entry(F.PARAMS_HASH).verifier, address(0), "unchanged");
    }
}
