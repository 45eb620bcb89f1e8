// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

import {DatanetRegistry} from "../src/DatanetRegistry.sol";
import {Field} from "../src/Field.sol";
import {ParamsRegistry} from "../src/ParamsRegistry.sol";
import {Test} from "./utils/Test.sol";

contract DatanetRegistryTest is Test {
    DatanetRegistry internal reg;
    address internal constant OWNER = address(0x0A);
    address internal constant OTHER = address(0x0B);

    function setUp() public {
        reg = new DatanetRegistry();
    }

    function testOwnersSealNumberedImmutableVersions() public {
        vm.prank(OWNER);
        bytes32 id = reg.register("digits");
        assertEq(id, keccak256("digits"), "id");
        vm.startPrank(OWNER);
        assertEq(reg.seal(id, 11, 5), 1, "version 1");
        assertEq(reg.seal(id, 22, 6), 2, "version 2");
        vm.stopPrank();
        assertEq(reg.rootOf(id, 1), 11, "v1 root kept");
        assertEq(reg.rootOf(id, 2), 22, "v2 root");
        (address owner, uint64 versions) = reg.datanet(id);
        assertEq(owner, OWNER, "owner");
        assertEq(versions, 2, "versions");
        assertEq(reg.snapshot(id, 2).items, 6, "items");
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.NotSealed.selector, id, uint64(3)));
        reg.rootOf(id, 3);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.UnknownDatanet.selector, keccak256("other")));
        reg.datanet(keccak256("other"));
        vm.prank(OWNER);
        vm.expectRevert(DatanetRegistry.ZeroAddress.selector);
        reg.transferOwnership(id, address(0));
    }

    function testOnlyTheOwnerSealsAndNamesAreUnique() public {
        vm.prank(OWNER);
        bytes32 id = reg.register("digits");
        vm.prank(OTHER);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.NotDatanetOwner.selector, id, OTHER));
        reg.seal(id, 1, 1);
        vm.prank(OTHER);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.DatanetExists.selector, id));
        reg.register("digits");
        vm.expectRevert(DatanetRegistry.EmptyName.selector);
        reg.register("");
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.UnknownDatanet.selector, bytes32(uint256(1))));
        reg.seal(bytes32(uint256(1)), 1, 1);
        // Ownership moves only by the owner.
        vm.prank(OTHER);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.NotDatanetOwner.selector, id, OTHER));
        reg.transferOwnership(id, OTHER);
        vm.prank(OWNER);
        reg.transferOwnership(id, OTHER);
        vm.prank(OTHER);
        assertEq(reg.seal(id, 5, 1), 1, "new owner seals");
    }

    function testRootsMustBeNonZeroFieldElements() public {
        vm.startPrank(OWNER);
        bytes32 id = reg.register("digits");
        vm.expectRevert(DatanetRegistry.ZeroRoot.selector);
        reg.seal(id, 0, 1);
        vm.expectRevert(abi.encodeWithSelector(Field.NotAFieldElement.selector, Field.P));
        reg.seal(id, Field.P, 1);
        vm.expectRevert(DatanetRegistry.EmptySnapshot.selector);
        reg.seal(id, 1, 0);
        vm.stopPrank();
    }
}

contract ParamsRegistryTest is Test {
    ParamsRegistry internal reg;

    function setUp() public {
        reg = new ParamsRegistry(address(this));
    }

    function testOnlyTheOwnerSetsVerifiersWithCode() public {
        vm.prank(address(0xBAD));
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(0xBAD)));
        reg.setVerifier(1, address(this), true);
        vm.expectRevert(abi.encodeWithSelector(ParamsRegistry.NoCode.selector, address(0x1234)));
        reg.setVerifier(1, address(0x1234), true);
        vm.expectRevert(abi.encodeWithSelector(Field.NotAFieldElement.selector, Field.P));
        reg.setVerifier(Field.P, address(this), true);
        reg.setVerifier(1, address(this), false);
        vm.expectRevert(abi.encodeWithSelector(ParamsRegistry.InactiveParams.selector, uint256(1)));
        reg.activeVerifier(1);
        reg.setVerifier(1, address(this), true);
        assertEq(reg.activeVerifier(1), address(this), "active");
    }
}
