#!/usr/bin/env python3
"""Removes each check of the contracts in turn and requires `forge test` to fail (the negative tests guard
every check). Works on private copies of the project in a temporary directory (one per CPU, in parallel), so
the checkout is never modified. Run from anywhere; exits 1 naming each surviving mutation.

When every mutation is caught, it records the digest of what decides the outcome (the contracts, their tests
and fixtures, this script, the compiler wrapper and the pinned toolchain) in test/mutations.passed: commit it
with the contracts. `--if-changed` (CI) skips the run when that digest still matches: the same sources and
the same pinned compiler give the same outcome, about 5 minutes of 2 cores each time (solc is the npm
package's JavaScript build)."""
import concurrent.futures, hashlib, os, pathlib, queue, shutil, subprocess, sys, tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
FORGE = ROOT / "bin" / "forge"
STAMP = ROOT / "test" / "mutations.passed"

# (file, text to find (exactly once), replacement, what the mutation removes)
MUTATIONS = [
    ("src/RewardDistributor.sol", ") external onlyRole(OPERATOR_ROLE) whenNotPaused nonReentrant {", ") external whenNotPaused nonReentrant {", "settle: operator only"),
    ("src/RewardDistributor.sol", "        if (e.settled) revert AlreadySettled(epoch);\n", "", "settle/fund: epoch not yet settled"),
    ("src/RewardDistributor.sol", "            block.chainid,\n", "            uint256(31337),\n", "public input: chain id from the chain"),
    ("src/RewardDistributor.sol", "            uint256(uint160(address(this))),\n", "            uint256(0xC7183455a4C133Ae270771860664b6B7ec320bB1),\n", "public input: own address"),
    ("src/RewardDistributor.sol", "            uint256(epoch),\n", "            uint256(1),\n", "public input: the epoch"),
    ("src/RewardDistributor.sol", "        if (!ok) revert InvalidProof();\n", "", "settle: the verifier's verdict"),
    ("src/RewardDistributor.sol", "        if (d.total > provenPool) revert TotalAbovePool(d.total, provenPool);\n", "", "settle: total <= pool"),
    ("src/RewardDistributor.sol", "        if (funded == 0) revert EmptyPool(epoch);\n", "", "settle: funded pool"),
    ("src/RewardDistributor.sol", "        if (provenPool > funded) revert PoolAboveFunded(provenPool, funded);\n", "", "settle: proven pool <= funded"),
    ("src/RewardDistributor.sol", "        if (provenPool == 0) revert ZeroAmount();\n", "", "settle: non-zero proven pool"),
    ("src/RewardDistributor.sol", "            datanets.rootOf(e.datanet, e.version),\n", "            datanets.rootOf(e.datanet, 1),\n", "public input: the epoch's version's root"),
    ("src/RewardDistributor.sol", "        Field.check(c.features);\n", "", "settle: features commitment is a field element"),
    ("src/RewardDistributor.sol", "        Field.check(c.query);\n", "", "settle: query commitment is a field element"),
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
    ("src/RewardDistributor.sol", "        whenNotPaused\n        nonReentrant\n    {\n        _claim(epoch, index, msg.sender,", "        whenNotPaused\n    {\n        _claim(epoch, index, msg.sender,", "claim: reentrancy guard"),
    ("src/RewardDistributor.sol", "        whenNotPaused\n        nonReentrant\n    {\n        _claim(epoch, index, msg.sender,", "        nonReentrant\n    {\n        _claim(epoch, index, msg.sender,", "claim: pause"),
    ("src/RewardDistributor.sol", "        whenNotPaused\n        nonReentrant\n    {\n        _claim(epoch, index, account,", "        whenNotPaused\n    {\n        _claim(epoch, index, account,", "claimFor: reentrancy guard"),
    ("src/RewardDistributor.sol", "        whenNotPaused\n        nonReentrant\n    {\n        _claim(epoch, index, account,", "        nonReentrant\n    {\n        _claim(epoch, index, account,", "claimFor: pause"),
    ("src/RewardDistributor.sol", "        _claim(epoch, index, account, amount, merkleProof);", "        _claim(epoch, index, msg.sender, amount, merkleProof);", "claimFor: pays the named account"),
    ("src/RewardDistributor.sol", ") external onlyRole(OPERATOR_ROLE) whenNotPaused nonReentrant {", ") external onlyRole(OPERATOR_ROLE) nonReentrant {", "settle: pause"),
    ("src/RewardDistributor.sol", "        if (block.timestamp <= closesAt) revert ClaimWindowOpen(epoch, closesAt);\n", "", "sweep: after the window"),
    ("src/RewardDistributor.sol", "        if (e.swept) revert AlreadySwept(epoch);\n", "", "sweep: once"),
    ("src/RewardDistributor.sol", "    function sweep(uint64 epoch) external whenNotPaused nonReentrant {\n        Epoch storage e = _settledEpoch(epoch);",
     "    function sweep(uint64 epoch) external whenNotPaused nonReentrant {\n        Epoch storage e = _epochs[epoch];", "sweep: settled epochs only"),
    ("src/RewardDistributor.sol", "    function sweep(uint64 epoch) external whenNotPaused nonReentrant {", "    function sweep(uint64 epoch) external nonReentrant {", "sweep: pause"),
    ("src/RewardDistributor.sol", "    function pause() external onlyRole(GUARDIAN_ROLE) whenNotPaused {", "    function pause() external whenNotPaused {", "pause: guardian only"),
    ("src/RewardDistributor.sol", "    function unpause() external onlyRole(GUARDIAN_ROLE) {", "    function unpause() external {", "unpause: guardian only"),
    ("src/RewardDistributor.sol", "        if (!p.paused) revert ExpectedPause();\n", "", "unpause: only when paused"),
    ("src/RewardDistributor.sol", "        if (_pause.paused) revert EnforcedPause();\n", "", "pause: enforced"),
    ("src/RewardDistributor.sol", "claimWindow + (_pause.total - e.pauseMark);", "claimWindow;", "claim window: extended by pauses"),
    ("src/RewardDistributor.sol", "    function cancelEpoch(uint64 epoch) external onlyRole(DEFAULT_ADMIN_ROLE) nonReentrant {", "    function cancelEpoch(uint64 epoch) external nonReentrant {", "cancel: admin only"),
    ("src/RewardDistributor.sol", "        if (e.cancelled) revert EpochIsCancelled(epoch);\n", "", "cancelled epochs stay closed"),
    ("src/RewardDistributor.sol", "    function setTreasury(address to) external onlyRole(DEFAULT_ADMIN_ROLE) {", "    function setTreasury(address to) external {", "treasury: admin only"),
    ("src/RewardDistributor.sol", "        if (to == address(0)) revert ZeroAddress();\n        emit TreasuryChanged", "        emit TreasuryChanged", "treasury: not zero"),
    ("src/RewardDistributor.sol", "                || admin == address(0) || treasury_ == address(0)", "                || admin == address(0)", "constructor: treasury not zero"),
    ("src/RewardDistributor.sol", "        if (pool >> 128 != 0) revert PoolTooLarge(pool);\n", "", "fund: pool below 2^128"),
    ("src/RewardDistributor.sol", "address(token_) == address(0) || address(datanets_)", "address(datanets_)", "constructor: token not zero"),
    ("src/RewardDistributor.sol", "address(datanets_) == address(0) || address(params_)", "address(params_)", "constructor: Datanet registry not zero"),
    ("src/RewardDistributor.sol", "address(params_) == address(0)\n                || admin", "false\n                || admin", "constructor: params registry not zero"),
    ("src/RewardDistributor.sol", "        if (verifier.code.length == 0) revert VerifierHasNoCode(verifier);\n", "", "settle: the verifier has code"),
    ("src/RewardDistributor.sol", "    function fund(uint64 epoch, uint256 amount) external nonReentrant {", "    function fund(uint64 epoch, uint256 amount) external {", "fund: reentrancy guard"),
    ("src/RewardDistributor.sol", "        uint256 pool = uint256(e.pool) + arrived;\n", "        uint256 pool = uint256(e.pool) + amount;\n", "fund: the pool grows by what arrived"),
    ("src/RewardDistributor.sol", "        e.pauseMark = _pause.total;\n", "", "settle: pauses before settlement do not extend the window"),
    ("src/RewardDistributor.sol", "        uint256 amount = uint256(e.pool) - e.claimed;\n", "        uint256 amount = token.balanceOf(address(this)) - e.claimed;\n", "sweep: the epoch's own rest"),
    ("src/RewardDistributor.sol", "        uint256 amount = e.pool;\n", "        uint256 amount = token.balanceOf(address(this));\n", "cancel: the epoch's own pool"),
    ("src/RewardList.sol", "                if iszero(lt(account, next)) {", "                if 0 {", "list: strictly increasing"),
    ("src/RewardList.sol", "                if shr(128, amount) {", "                if 0 {", "list: 128-bit amounts"),
    ("src/RewardList.sol", "        if (len == 0 || len % ENTRY != 0) revert MalformedList(len);", "", "list: whole entries"),
    ("src/RewardList.sol", "                y := addmod(mulmod(y, r, p), account, p)\n", "", "list: addresses in y"),
    ("src/RewardList.sol", "                mstore(scratch, j)\n", "                mstore(scratch, 0)\n", "list: index in the leaf"),
    ("src/RewardList.sol", "                    mstore(add(base, shl(5, half)), mload(add(base, shl(5, sub(m, 1)))))\n", "", "list: odd node carried up"),
    ("src/DatanetRegistry.sol", "        if (_datanets[id].owner != address(0)) revert DatanetExists(id);\n", "", "datanets: unique names"),
    ("src/DatanetRegistry.sol", "        if (owner != msg.sender) revert NotDatanetOwner(id, msg.sender);\n", "", "datanets: owner only"),
    ("src/DatanetRegistry.sol", "        if (root == 0) revert ZeroRoot();\n", "", "datanets: non-zero root"),
    ("src/DatanetRegistry.sol", "        Field.check(root);\n", "", "datanets: root is a field element"),
    ("src/DatanetRegistry.sol", "        if (items == 0) revert EmptySnapshot();\n", "", "datanets: non-empty snapshot"),
    ("src/DatanetRegistry.sol", "        if (root == 0) revert NotSealed(id, version);\n", "", "datanets: only sealed roots are read"),
    ("src/DatanetRegistry.sol", "        if (bytes(name).length == 0) revert EmptyName();\n", "", "datanets: non-empty name"),
    ("src/DatanetRegistry.sol", "        if (d.owner == address(0)) revert UnknownDatanet(id);\n", "", "datanets: unknown names are reported"),
    ("src/DatanetRegistry.sol", "        if (to == address(0)) revert ZeroAddress();\n", "", "datanets: no transfer to zero"),
    ("src/ParamsRegistry.sol", "external onlyOwner {", "external {", "params: owner (timelock) only"),
    ("src/ParamsRegistry.sol", "        if (verifier.code.length == 0) revert NoCode(verifier);\n", "", "params: verifier has code"),
    ("src/ParamsRegistry.sol", "        if (!e.active) revert InactiveParams(paramsHash);\n", "", "params: active only"),
    ("src/ParamsRegistry.sol", "        Field.check(paramsHash);\n", "", "params: hash is a field element"),
]


def forge_passes(project: pathlib.Path) -> bool:
    # Fewer fuzz runs than the regular suite, no invariant suite (it checks properties, not single checks),
    # and the run stops at the first failure: every mutation here is caught by a unit test. Without the
    # optimizer (it changes gas, not what a contract does): a recompile takes 3 s instead of 13 s.
    env = dict(os.environ, FOUNDRY_FUZZ_RUNS="16", FOUNDRY_OPTIMIZER="false")
    r = subprocess.run(
        [str(project / "bin" / "forge"), "test", "--fail-fast", "--no-match-contract", "InvariantsTest"],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return r.returncode == 0


def copy_project(dest: pathlib.Path) -> pathlib.Path:
    """A private copy of the project (sources, tests, config, wrappers; node_modules linked)."""
    for name in ["src", "test", "bin", "foundry.toml"]:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, symlinks=True)
        else:
            shutil.copy2(src, dest / name)
    (dest / "node_modules").symlink_to(ROOT / "node_modules")
    return dest


def check(project: pathlib.Path, mutation) -> tuple[str, bool]:
    file, old, new, what = mutation
    path = project / file
    original = path.read_text()
    try:
        path.write_text(original.replace(old, new))
        return what, not forge_passes(project)
    finally:
        path.write_text(original)


def digest() -> str:
    """SHA-256 over the relative path and bytes of every file that decides the outcome, in sorted order."""
    files = [ROOT / n for n in ["foundry.toml", "package.json", "package-lock.json"]]
    for d in ["src", "test", "bin"]:
        files += [p for p in (ROOT / d).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    h = hashlib.sha256()
    for p in sorted(f for f in files if f != STAMP):
        h.update(str(p.relative_to(ROOT)).encode() + b"\0")
        h.update(p.read_bytes() + b"\0")
    return h.hexdigest()


def main() -> int:
    want = digest()
    if "--if-changed" in sys.argv[1:]:
        if STAMP.exists() and STAMP.read_text().split() == ["sha256", want]:
            print(f"contracts, tests and toolchain unchanged since every mutation was last caught (sha256 {want[:16]}…, "
                  f"{STAMP.relative_to(ROOT.parent)}): not run again")
            return 0
        print("the contracts, their tests or the toolchain changed since the recorded run (or none is recorded): running")
    for i, (file, old, _, what) in enumerate(MUTATIONS, 1):
        n = (ROOT / file).read_text().count(old)
        if n != 1:
            print(f"mutation {i} ({what}): its text occurs {n} times in {file}", file=sys.stderr)
            return 1
    workers = max(1, min(4, os.cpu_count() or 1))
    with tempfile.TemporaryDirectory() as tmp:
        projects = [copy_project(pathlib.Path(tmp) / f"p{w}") for w in range(workers)]
        if not forge_passes(projects[0]):
            print("forge test fails before any mutation", file=sys.stderr)
            return 1
        free = queue.Queue()
        for p in projects:
            free.put(p)

        def job(m):
            p = free.get()
            try:
                return check(p, m)
            finally:
                free.put(p)

        survivors = []
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            for what, caught in pool.map(job, MUTATIONS):
                print(f"{'caught' if caught else 'SURVIVED'}: {what}", flush=True)
                if not caught:
                    survivors.append(what)
    if survivors:
        print(f"{len(survivors)} mutation(s) survived: {survivors}", file=sys.stderr)
        return 1
    print(f"all {len(MUTATIONS)} mutations caught")
    STAMP.write_text(f"sha256 {want}\n")
    print(f"recorded in {STAMP.relative_to(ROOT.parent)} (commit it with the contracts)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
