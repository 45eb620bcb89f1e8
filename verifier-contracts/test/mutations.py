#!/usr/bin/env python3
"""Removes each check of the contracts in turn and requires `forge test` to fail (the negative tests guard
every check). Restores every file, also on interrupt. Run from anywhere; exits 1 naming each surviving
mutation."""
import os, pathlib, subprocess, sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
FORGE = ROOT / "bin" / "forge"

# (file, text to find (exactly once), replacement, what the mutation removes)
MUTATIONS = [
    ("src/RewardDistributor.sol", "        onlyRole(OPERATOR_ROLE)\n        whenNotPaused\n        nonReentrant\n    {\n        Epoch storage e = _openEpoch(epoch);\n        RewardList",
     "        whenNotPaused\n        nonReentrant\n    {\n        Epoch storage e = _openEpoch(epoch);\n        RewardList", "settle: operator only"),
    ("src/RewardDistributor.sol", "        if (e.settled) revert AlreadySettled(epoch);\n", "", "settle/fund: epoch not yet settled"),
    ("src/RewardDistributor.sol", "            block.chainid,\n", "            uint256(31337),\n", "public input: chain id from the chain"),
    ("src/RewardDistributor.sol", "            uint256(uint160(address(this))),\n", "            uint256(0xC7183455a4C133Ae270771860664b6B7ec320bB1),\n", "public input: own address"),
    ("src/RewardDistributor.sol", "            uint256(epoch),\n", "            uint256(1),\n", "public input: the epoch"),
    ("src/RewardDistributor.sol", "        if (!ok) revert InvalidProof();\n", "", "settle: the verifier's verdict"),
    ("src/RewardDistributor.sol", "        if (d.total > pool) revert TotalAbovePool(d.total, pool);\n", "", "settle: total <= pool"),
    ("src/RewardDistributor.sol", "        if (pool == 0) revert EmptyPool(epoch);\n", "", "settle: funded pool"),
    ("src/RewardDistributor.sol", "        Field.check(c.model);\n", "", "settle: commitments are field elements"),
    ("src/RewardDistributor.sol", "        datanets.rootOf(datanet, version); // reverts unless sealed\n", "", "open: sealed snapshot"),
    ("src/RewardDistributor.sol", "        params.activeVerifier(paramsHash); // reverts unless active\n", "", "open: active params"),
    ("src/RewardDistributor.sol", "        if (e.datanet != bytes32(0)) revert EpochExists(epoch);\n", "", "open: once"),
    ("src/RewardDistributor.sol", "        external\n        onlyRole(OPERATOR_ROLE)\n    {\n        Epoch storage e = _epochs[epoch];", "        external\n    {\n        Epoch storage e = _epochs[epoch];", "open: operator only"),
    ("src/RewardDistributor.sol", "        if (amount == 0) revert ZeroAmount();\n        uint256 before", "        uint256 before", "fund: non-zero"),
    ("src/RewardDistributor.sol", "        if (block.timestamp > closesAt) revert ClaimWindowClosed(epoch, closesAt);\n", "", "claim: window"),
    ("src/RewardDistributor.sol", "        if (bits & bit != 0) revert AlreadyClaimed(epoch, index);\n", "", "claim: not yet claimed"),
    ("src/RewardDistributor.sol", "        _claimedBits[epoch][index >> 8] = bits | bit;\n", "", "claim: recorded"),
    ("src/RewardDistributor.sol", "        if (!MerkleProof.verifyCalldata(", "        if (false && MerkleProof.verifyCalldata(", "claim: Merkle proof"),
    ("src/RewardDistributor.sol", "        if (amount == 0) revert ZeroAmount();\n        uint256 bit", "        uint256 bit", "claim: non-zero"),
    ("src/RewardDistributor.sol", "        external\n        whenNotPaused\n        nonReentrant\n    {\n        Epoch storage e = _settledEpoch(epoch);", "        external\n        whenNotPaused\n    {\n        Epoch storage e = _settledEpoch(epoch);", "claim: reentrancy guard"),
    ("src/RewardDistributor.sol", "        external\n        whenNotPaused\n        nonReentrant\n    {\n        Epoch storage e = _settledEpoch(epoch);", "        external\n        nonReentrant\n    {\n        Epoch storage e = _settledEpoch(epoch);", "claim: pause"),
    ("src/RewardDistributor.sol", "        onlyRole(OPERATOR_ROLE)\n        whenNotPaused\n        nonReentrant\n    {\n        Epoch storage e = _openEpoch(epoch);\n        RewardList",
     "        onlyRole(OPERATOR_ROLE)\n        nonReentrant\n    {\n        Epoch storage e = _openEpoch(epoch);\n        RewardList", "settle: pause"),
    ("src/RewardDistributor.sol", "        if (block.timestamp <= closesAt) revert ClaimWindowOpen(epoch, closesAt);\n", "", "sweep: after the window"),
    ("src/RewardDistributor.sol", "        if (e.swept) revert AlreadySwept(epoch);\n", "", "sweep: once"),
    ("src/RewardDistributor.sol", "    function sweep(uint64 epoch) external whenNotPaused nonReentrant {\n        Epoch storage e = _settledEpoch(epoch);",
     "    function sweep(uint64 epoch) external whenNotPaused nonReentrant {\n        Epoch storage e = _epochs[epoch];", "sweep: settled epochs only"),
    ("src/RewardDistributor.sol", "    function sweep(uint64 epoch) external whenNotPaused nonReentrant {", "    function sweep(uint64 epoch) external nonReentrant {", "sweep: pause"),
    ("src/RewardDistributor.sol", "    function pause() external onlyRole(GUARDIAN_ROLE) {", "    function pause() external {", "pause: guardian only"),
    ("src/RewardDistributor.sol", "    function setTreasury(address to) external onlyRole(DEFAULT_ADMIN_ROLE) {", "    function setTreasury(address to) external {", "treasury: admin only"),
    ("src/RewardList.sol", "                if iszero(lt(account, next)) {", "                if 0 {", "list: strictly increasing"),
    ("src/RewardList.sol", "                if shr(128, amount) {", "                if 0 {", "list: 128-bit amounts"),
    ("src/RewardList.sol", "        if (len == 0 || len % ENTRY != 0) revert MalformedList(len);", "", "list: whole entries"),
    ("src/RewardList.sol", "                y := addmod(mulmod(y, r, p), account, p)\n", "", "list: addresses in y"),
    ("src/RewardList.sol", "                mstore(scratch, j)\n", "                mstore(scratch, 0)\n", "list: index in the leaf"),
    ("src/DatanetRegistry.sol", "        if (_datanets[id].owner != address(0)) revert DatanetExists(id);\n", "", "datanets: unique names"),
    ("src/DatanetRegistry.sol", "        if (owner != msg.sender) revert NotDatanetOwner(id, msg.sender);\n", "", "datanets: owner only"),
    ("src/DatanetRegistry.sol", "        if (root == 0) revert ZeroRoot();\n", "", "datanets: non-zero root"),
    ("src/DatanetRegistry.sol", "        Field.check(root);\n", "", "datanets: root is a field element"),
    ("src/DatanetRegistry.sol", "        if (items == 0) revert EmptySnapshot();\n", "", "datanets: non-empty snapshot"),
    ("src/DatanetRegistry.sol", "        if (root == 0) revert NotSealed(id, version);\n", "", "datanets: only sealed roots are read"),
    ("src/DatanetRegistry.sol", "        if (bytes(name).length == 0) revert EmptyName();\n", "", "datanets: non-empty name"),
    ("src/ParamsRegistry.sol", "external onlyOwner {", "external {", "params: owner (timelock) only"),
    ("src/ParamsRegistry.sol", "        if (verifier.code.length == 0) revert NoCode(verifier);\n", "", "params: verifier has code"),
    ("src/ParamsRegistry.sol", "        if (!e.active) revert InactiveParams(paramsHash);\n", "", "params: active only"),
    ("src/ParamsRegistry.sol", "        Field.check(paramsHash);\n", "", "params: hash is a field element"),
]


def forge_passes() -> bool:
    # Fewer fuzz and invariant runs than the regular suite: every mutation here is caught by a unit test or
    # within the first runs, and there are many mutations.
    env = dict(os.environ, FOUNDRY_FUZZ_RUNS="32", FOUNDRY_INVARIANT_RUNS="16")
    r = subprocess.run([str(FORGE), "test"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return r.returncode == 0


def main() -> int:
    if not forge_passes():
        print("forge test fails before any mutation", file=sys.stderr)
        return 1
    survivors = []
    for i, (file, old, new, what) in enumerate(MUTATIONS, 1):
        path = ROOT / file
        original = path.read_text()
        if original.count(old) != 1:
            print(f"mutation {i} ({what}): its text occurs {original.count(old)} times in {file}", file=sys.stderr)
            return 1
        try:
            path.write_text(original.replace(old, new))
            caught = not forge_passes()
        finally:
            path.write_text(original)
        print(f"{'caught' if caught else 'SURVIVED'}: {what}", flush=True)
        if not caught:
            survivors.append(what)
    if survivors:
        print(f"{len(survivors)} mutation(s) survived: {survivors}", file=sys.stderr)
        return 1
    print(f"all {len(MUTATIONS)} mutations caught")
    return 0


if __name__ == "__main__":
    sys.exit(main())
