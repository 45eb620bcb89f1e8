// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {DatanetRegistry} from "./DatanetRegistry.sol";
import {Field} from "./Field.sol";
import {ParamsRegistry} from "./ParamsRegistry.sol";
import {RewardList} from "./RewardList.sol";

/// @title Epoch pools, settlement against an attribution proof, and claims.
/// @notice Life of an epoch:
/// 1. an operator opens it for a sealed Datanet snapshot and a governance parameter set;
/// 2. anyone funds its pool;
/// 3. an operator settles it with the proven pool (at most what was funded), the reward list (calldata) and
///    a proof. The contract supplies every other public input that is not the operator's to choose: the
///    chain id, its own address, the epoch, the snapshot's sealed root, the parameter hash, and the list's
///    total, `r` and `y`, computed from the list itself (DESIGN §4). Only the three commitments of the
///    trusted feature pipeline (model, features, query) come from the operator, and they are logged. The
///    proof is checked by the parameter set's verifier (a low-level `staticcall`: calldata = 12 public
///    inputs ‖ proof); the list's keccak Merkle root and total are stored;
/// 4. each contributor claims their amount with a Merkle proof until the claim window closes (the window is
///    extended by any time the contract spent paused after settlement);
/// 5. then whatever is unclaimed, and any funding beyond the proven pool, is swept to the treasury.
/// Tokens leave only as a claim or the sweep of a settled epoch, or when governance (the admin) cancels an
/// epoch that cannot settle, which sends its pool to the treasury.
contract RewardDistributor is AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// Opens and settles epochs.
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");
    /// Pauses and unpauses settlement, claims and sweeps.
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");
    /// Gas given to the verifier: about ten times what the generated verifiers use (~0.5M). A malformed
    /// proof makes a generated verifier fail inside a precompile, which burns all the gas it was given; the
    /// cap keeps that loss bounded and leaves the rest for the revert.
    uint256 public constant VERIFIER_GAS = 5_000_000;

    /// One epoch. Laid out so that a claim touches two of its slots (`rewardRoot`; `claimed` with the
    /// settlement time and pause mark) besides its bitmap word and the pause state.
    struct Epoch {
        bytes32 datanet;
        uint256 paramsHash;
        bytes32 rewardRoot;
        uint128 pool;
        uint128 totalRewarded;
        uint128 claimed;
        uint40 settledAt;
        /// The contract's total paused time when the epoch settled: pauses after it extend the window.
        uint40 pauseMark;
        bool settled;
        uint64 version;
        bool swept;
        bool cancelled;
    }

    /// The commitments of the trusted feature pipeline (DESIGN §4, public inputs 4).
    struct Commitments {
        uint256 model;
        uint256 features;
        uint256 query;
    }

    /// Pause state in one slot: whether paused, since when, and the total paused time before that.
    struct PauseState {
        bool paused;
        uint40 since;
        uint40 total;
    }

    IERC20 public immutable token;
    DatanetRegistry public immutable datanets;
    ParamsRegistry public immutable params;
    /// Seconds after settlement (plus any paused time) during which claims are accepted.
    uint64 public immutable claimWindow;
    /// Receives swept and cancelled funds.
    address public treasury;

    PauseState private _pause;
    mapping(uint64 epoch => Epoch) private _epochs;
    /// Claimed entries: bit `index % 256` of word `index / 256`.
    mapping(uint64 epoch => mapping(uint256 word => uint256 bits)) private _claimedBits;

    event EpochOpened(uint64 indexed epoch, bytes32 indexed datanet, uint64 version, uint256 paramsHash);
    event EpochFunded(uint64 indexed epoch, address indexed from, uint256 amount, uint256 pool);
    event EpochSettled(
        uint64 indexed epoch,
        bytes32 rewardRoot,
        uint256 provenPool,
        uint256 totalRewarded,
        uint256 entries,
        Commitments commitments
    );
    event EpochCancelled(uint64 indexed epoch, address indexed treasury, uint256 amount);
    event Claimed(uint64 indexed epoch, uint256 index, address indexed account, uint256 amount);
    event Swept(uint64 indexed epoch, address indexed treasury, uint256 amount);
    event TreasuryChanged(address indexed from, address indexed to);
    event Paused(address account);
    event Unpaused(address account);

    error ZeroAddress();
    error EpochExists(uint64 epoch);
    error UnknownEpoch(uint64 epoch);
    error AlreadySettled(uint64 epoch);
    error EpochIsCancelled(uint64 epoch);
    error NotSettled(uint64 epoch);
    error ZeroAmount();
    error PoolTooLarge(uint256 pool);
    error EmptyPool(uint64 epoch);
    error PoolAboveFunded(uint256 provenPool, uint256 funded);
    error TotalAbovePool(uint256 total, uint256 pool);
    error InvalidProof();
    error VerifierHasNoCode(address verifier);
    error AlreadyClaimed(uint64 epoch, uint256 index);
    error InvalidClaim(uint64 epoch, address account, uint256 amount);
    error ClaimWindowClosed(uint64 epoch, uint256 closedAt);
    error ClaimWindowOpen(uint64 epoch, uint256 closesAt);
    error AlreadySwept(uint64 epoch);
    error EnforcedPause();
    error ExpectedPause();

    modifier whenNotPaused() {
        if (_pause.paused) revert EnforcedPause();
        _;
    }

    constructor(
        IERC20 token_,
        DatanetRegistry datanets_,
        ParamsRegistry params_,
        uint64 claimWindow_,
        address admin,
        address operator,
        address guardian,
        address treasury_
    ) {
        if (
            address(token_) == address(0) || address(datanets_) == address(0) || address(params_) == address(0)
                || admin == address(0) || treasury_ == address(0)
        ) revert ZeroAddress();
        token = token_;
        datanets = datanets_;
        params = params_;
        claimWindow = claimWindow_;
        treasury = treasury_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        if (operator != address(0)) _grantRole(OPERATOR_ROLE, operator);
        if (guardian != address(0)) _grantRole(GUARDIAN_ROLE, guardian);
    }

    /// Opens `epoch` for sealed version `version` of `datanet` under parameter set `paramsHash`, which must
    /// be active now (and is checked again at settlement).
    function openEpoch(uint64 epoch, bytes32 datanet, uint64 version, uint256 paramsHash)
        external
        onlyRole(OPERATOR_ROLE)
    {
        Epoch storage e = _epochs[epoch];
        if (e.datanet != bytes32(0)) revert EpochExists(epoch);
        datanets.rootOf(datanet, version); // reverts unless sealed
        params.activeVerifier(paramsHash); // reverts unless active
        e.datanet = datanet;
        e.version = version;
        e.paramsHash = paramsHash;
        emit EpochOpened(epoch, datanet, version, paramsHash);
    }

    /// Adds `amount` tokens from the caller to the pool of an open, unsettled epoch. The pool grows by what
    /// actually arrived (a token that takes a fee on transfer is accounted for). Funding beyond what a proof
    /// distributes does not block settlement: the surplus is swept to the treasury with the unclaimed rest.
    function fund(uint64 epoch, uint256 amount) external nonReentrant {
        Epoch storage e = _openEpoch(epoch);
        if (amount == 0) revert ZeroAmount();
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        uint256 arrived = token.balanceOf(address(this)) - before;
        uint256 pool = uint256(e.pool) + arrived;
        if (pool >> 128 != 0) revert PoolTooLarge(pool);
        e.pool = uint128(pool);
        emit EpochFunded(epoch, msg.sender, arrived, pool);
    }

    /// Settles `epoch` with the pool the proof distributes (`provenPool`, at most the funded pool),
    /// `rewardList` (packed, see `RewardList`) and `proof`.
    function settle(
        uint64 epoch,
        uint256 provenPool,
        Commitments calldata c,
        bytes calldata rewardList,
        bytes calldata proof
    ) external onlyRole(OPERATOR_ROLE) whenNotPaused nonReentrant {
        Epoch storage e = _openEpoch(epoch);
        RewardList.Digest memory d = RewardList.digest(rewardList);
        _verify(e, epoch, provenPool, c, d, proof);
        e.settled = true;
        e.settledAt = uint40(block.timestamp);
        e.pauseMark = _pause.total;
        e.totalRewarded = uint128(d.total);
        e.rewardRoot = d.root;
        emit EpochSettled(epoch, d.root, provenPool, d.total, d.entries, c);
    }

    /// Checks `proof` against the public inputs of `epoch` (DESIGN §4 order) with the parameter set's
    /// verifier; reverts with the first thing that fails.
    function _verify(
        Epoch storage e,
        uint64 epoch,
        uint256 provenPool,
        Commitments calldata c,
        RewardList.Digest memory d,
        bytes calldata proof
    ) private view {
        uint256 funded = e.pool;
        if (funded == 0) revert EmptyPool(epoch);
        if (provenPool == 0) revert ZeroAmount();
        if (provenPool > funded) revert PoolAboveFunded(provenPool, funded);
        if (d.total > provenPool) revert TotalAbovePool(d.total, provenPool);
        Field.check(c.model);
        Field.check(c.features);
        Field.check(c.query);
        uint256[12] memory inputs = [
            block.chainid,
            uint256(uint160(address(this))),
            uint256(epoch),
            e.paramsHash,
            datanets.rootOf(e.datanet, e.version),
            c.model,
            c.features,
            c.query,
            provenPool,
            d.total,
            d.r,
            d.y
        ];
        address verifier = params.activeVerifier(e.paramsHash);
        // A call to an address without code succeeds, and the generated verifier returns nothing: the
        // registry checks for code when a verifier is set, but code can go later (a contract destroyed in
        // the transaction that created it, or any SELFDESTRUCT before Cancun).
        if (verifier.code.length == 0) revert VerifierHasNoCode(verifier);
        (bool ok,) = verifier.staticcall{gas: VERIFIER_GAS}(abi.encodePacked(inputs, proof));
        if (!ok) revert InvalidProof();
    }

    /// Pays the caller their `amount`, entry `index` of settled `epoch`'s reward list, proven by
    /// `merkleProof` against its reward root.
    function claim(uint64 epoch, uint256 index, uint256 amount, bytes32[] calldata merkleProof)
        external
        whenNotPaused
        nonReentrant
    {
        _claim(epoch, index, msg.sender, amount, merkleProof);
    }

    /// Pays `account` its `amount`, entry `index` of settled `epoch`'s reward list. Anyone may call it (a
    /// relayer paying the gas of a contributor who holds no ether); the tokens only ever go to `account`,
    /// which the proven leaf names.
    function claimFor(uint64 epoch, uint256 index, address account, uint256 amount, bytes32[] calldata merkleProof)
        external
        whenNotPaused
        nonReentrant
    {
        _claim(epoch, index, account, amount, merkleProof);
    }

    function _claim(uint64 epoch, uint256 index, address account, uint256 amount, bytes32[] calldata merkleProof)
        private
    {
        Epoch storage e = _settledEpoch(epoch);
        uint256 closesAt = _closesAt(e);
        if (block.timestamp > closesAt) revert ClaimWindowClosed(epoch, closesAt);
        if (amount == 0) revert ZeroAmount();
        uint256 bit = 1 << (index & 255);
        uint256 bits = _claimedBits[epoch][index >> 8];
        if (bits & bit != 0) revert AlreadyClaimed(epoch, index);
        if (!MerkleProof.verifyCalldata(merkleProof, e.rewardRoot, RewardList.leaf(index, account, amount))) {
            revert InvalidClaim(epoch, account, amount);
        }
        _claimedBits[epoch][index >> 8] = bits | bit;
        e.claimed += uint128(amount); // amount is a proven leaf: the claims never exceed totalRewarded
        token.safeTransfer(account, amount);
        emit Claimed(epoch, index, account, amount);
    }

    /// Whether entry `index` of `epoch` has been claimed.
    function isClaimed(uint64 epoch, uint256 index) external view returns (bool) {
        return _claimedBits[epoch][index >> 8] & (1 << (index & 255)) != 0;
    }

    /// When the claim window of settled `epoch` closes: the settlement time plus the window, plus the time
    /// the contract spent paused since (while paused nobody can claim, so a pause must not eat the window).
    function claimsCloseAt(uint64 epoch) external view returns (uint256) {
        return _closesAt(_settledEpoch(epoch));
    }

    function _closesAt(Epoch storage e) private view returns (uint256) {
        return uint256(e.settledAt) + claimWindow + (_pause.total - e.pauseMark);
    }

    /// After the claim window of settled `epoch`, sends what was not claimed (the funded pool less the
    /// claims) to the treasury. Anyone may call it; the funds only go to the treasury.
    function sweep(uint64 epoch) external whenNotPaused nonReentrant {
        Epoch storage e = _settledEpoch(epoch);
        uint256 closesAt = _closesAt(e);
        if (block.timestamp <= closesAt) revert ClaimWindowOpen(epoch, closesAt);
        if (e.swept) revert AlreadySwept(epoch);
        e.swept = true;
        uint256 amount = uint256(e.pool) - e.claimed;
        address to = treasury;
        if (amount > 0) token.safeTransfer(to, amount);
        emit Swept(epoch, to, amount);
    }

    /// Cancels an open, unsettled epoch and sends its pool to the treasury (admin only: the governance
    /// timelock). For an epoch that can no longer settle, e.g. after its parameter set was deactivated.
    function cancelEpoch(uint64 epoch) external onlyRole(DEFAULT_ADMIN_ROLE) nonReentrant {
        Epoch storage e = _openEpoch(epoch);
        e.cancelled = true;
        uint256 amount = e.pool;
        address to = treasury;
        if (amount > 0) token.safeTransfer(to, amount);
        emit EpochCancelled(epoch, to, amount);
    }

    /// Sets the treasury (admin only: the governance timelock).
    function setTreasury(address to) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (to == address(0)) revert ZeroAddress();
        emit TreasuryChanged(treasury, to);
        treasury = to;
    }

    /// Stops settlement, claims and sweeps (guardian). Claim windows are extended by the paused time.
    function pause() external onlyRole(GUARDIAN_ROLE) whenNotPaused {
        _pause.paused = true;
        _pause.since = uint40(block.timestamp);
        emit Paused(msg.sender);
    }

    /// Resumes them (guardian).
    function unpause() external onlyRole(GUARDIAN_ROLE) {
        PauseState memory p = _pause;
        if (!p.paused) revert ExpectedPause();
        _pause = PauseState(false, 0, p.total + (uint40(block.timestamp) - p.since));
        emit Unpaused(msg.sender);
    }

    /// Whether the contract is paused.
    function paused() external view returns (bool) {
        return _pause.paused;
    }

    /// The state of `epoch` (all zero when never opened).
    function epochInfo(uint64 epoch) external view returns (Epoch memory) {
        return _epochs[epoch];
    }

    function _openEpoch(uint64 epoch) private view returns (Epoch storage e) {
        e = _epochs[epoch];
        if (e.datanet == bytes32(0)) revert UnknownEpoch(epoch);
        if (e.settled) revert AlreadySettled(epoch);
        if (e.cancelled) revert EpochIsCancelled(epoch);
    }

    function _settledEpoch(uint64 epoch) private view returns (Epoch storage e) {
        e = _epochs[epoch];
        if (!e.settled) revert NotSettled(epoch);
    }
}
