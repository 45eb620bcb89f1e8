// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// The forge cheatcodes the tests use (the npm registry has no current forge-std, so this small interface
/// is ours; the cheatcode contract lives at a fixed address in forge's EVM).
interface Vm {
    function prank(address sender) external;
    function startPrank(address sender) external;
    function stopPrank() external;
    function expectRevert() external;
    function expectRevert(bytes4 selector) external;
    function expectRevert(bytes calldata revertData) external;
    function warp(uint256 timestamp) external;
    function roll(uint256 blockNumber) external;
    function chainId(uint256 id) external;
    function etch(address target, bytes calldata code) external;
    function assume(bool condition) external;
    function addr(uint256 privateKey) external pure returns (address);
    function label(address account, string calldata name) external;
    function startSnapshotGas(string calldata name) external;
    function toString(uint256 value) external pure returns (string memory);
    function snapshotGasLastCall(string calldata name) external returns (uint256 gasUsed);
    function stopSnapshotGas() external returns (uint256 gasUsed);
}

/// Base contract of the tests: the cheatcodes and the assertions (each reverts with a message).
abstract contract Test {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    function assertTrue(bool ok, string memory what) internal pure {
        require(ok, what);
    }

    function assertEq(uint256 a, uint256 b, string memory what) internal pure {
        if (a != b) revert(string.concat(what, ": ", _u(a), " != ", _u(b)));
    }

    function assertEq(bytes32 a, bytes32 b, string memory what) internal pure {
        if (a != b) revert(string.concat(what, ": bytes32 differ"));
    }

    function assertEq(address a, address b, string memory what) internal pure {
        if (a != b) revert(string.concat(what, ": addresses differ"));
    }

    function assertLe(uint256 a, uint256 b, string memory what) internal pure {
        if (a > b) revert(string.concat(what, ": ", _u(a), " > ", _u(b)));
    }

    function _u(uint256 v) private pure returns (string memory) {
        if (v == 0) return "0";
        bytes memory b;
        while (v != 0) {
            b = abi.encodePacked(bytes1(uint8(48 + v % 10)), b);
            v /= 10;
        }
        return string(b);
    }
}
