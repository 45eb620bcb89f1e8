//! Deploying zkattr's contracts and using them: the deployment record, publishing sealed Datanet roots,
//! settling an epoch from a proof directory, claiming a reward.
//!
//! A deployment (`deploy`) creates: the OPEN governance token (and reward token unless another ERC20 is
//! named), `DatanetRegistry`, a `TimelockController` whose only proposer and canceller is the
//! `ZkattrGovernor`, `ParamsRegistry`, the verifier of the initial parameter set, and `RewardDistributor`
//! (admin and treasury: the timelock; operator and guardian: the deploying key). The parameter registry is
//! created owned by the deploying key, which registers the initial verifier and then hands ownership to the
//! timelock: from then on only governance changes it. The record is written to
//! `<home>/deployments/<chain>.json`.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use alloy::{
    primitives::{keccak256, Address, FixedBytes, U256},
    signers::local::PrivateKeySigner,
    sol_types::{SolCall, SolConstructor},
};
use serde::{Deserialize, Serialize};
use zkattr_circuits::{
    field,
    params::GovernanceParams,
    statement::{claim_proof, claims_root, RewardEntry},
};

use super::{contracts::*, Chain, Receipt};
use crate::{
    cli::datanet::write_atomic,
    epoch::read_json,
    error::{Error, Result},
    proving::{parse_reward_list, StatementFile},
};

/// Format tag of a deployment record.
pub const DEPLOYMENT_FORMAT: &str = "zkattr.deployment.v1";

/// Where and what was deployed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    /// Always [`DEPLOYMENT_FORMAT`].
    pub format: String,
    /// `embedded` or `chain-<id>`.
    pub chain: String,
    /// Chain id.
    pub chain_id: u64,
    /// The deploying key: operator and guardian of the distributor.
    pub operator: Address,
    /// OPEN, the governance token.
    pub governance_token: Address,
    /// The distributor's reward token (OPEN unless another was named).
    pub reward_token: Address,
    /// `DatanetRegistry`.
    pub datanets: Address,
    /// `ParamsRegistry`.
    pub params: Address,
    /// `TimelockController`.
    pub timelock: Address,
    /// `ZkattrGovernor`.
    pub governor: Address,
    /// `RewardDistributor`.
    pub distributor: Address,
    /// Verifiers deployed by zkattr, by `params_hash` (`0x…`).
    pub verifiers: BTreeMap<String, Address>,
    /// Seconds a claim window stays open after settlement.
    pub claim_window: u64,
    /// Governor voting delay and period, in blocks.
    pub voting_delay: u64,
    /// Governor voting period, in blocks.
    pub voting_period: u64,
    /// Timelock delay, seconds.
    pub timelock_delay: u64,
    /// Gas of each deployment transaction.
    pub gas: BTreeMap<String, u64>,
}

impl Deployment {
    /// The record's path in `home` for `chain`.
    pub fn path(home: &Path, chain: &Chain) -> PathBuf {
        home.join("deployments")
            .join(format!("{}.json", chain.key()))
    }

    /// Reads the record of `chain` in `home`, checking that it is for this chain and that its distributor
    /// exists there (a development node restarted with the same chain id has lost it).
    pub fn load(home: &Path, chain: &mut Chain) -> Result<Self> {
        let path = Self::path(home, chain);
        if !path.exists() {
            return Err(Error::Deployment(format!(
                "nothing deployed on {} from this home ({} is missing): run `zkattr deploy` first",
                chain.describe(),
                path.display()
            )));
        }
        let d: Self = read_json(&path)?;
        if d.format != DEPLOYMENT_FORMAT || d.chain_id != chain.chain_id() {
            return Err(Error::Deployment(format!(
                "{} is a {} record for chain id {}, not for {}",
                path.display(),
                d.format,
                d.chain_id,
                chain.describe()
            )));
        }
        if !chain.has_code(d.distributor)? {
            return Err(Error::Deployment(format!(
                "{} records a distributor at {}, but {} has no contract there (a restarted development \
                 node?); remove the record and deploy again",
                path.display(),
                d.distributor,
                chain.describe()
            )));
        }
        Ok(d)
    }

    /// Writes it.
    pub fn save(&self, home: &Path, chain: &Chain) -> Result<()> {
        let text = serde_json::to_string_pretty(self).expect("serialisable") + "\n";
        write_atomic(&Self::path(home, chain), &text)
    }
}

/// What [`deploy`] needs besides the chain and key.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// The initial governance parameters.
    pub params: GovernanceParams,
    /// Creation code of their verifier (generated and compiled by the caller).
    pub verifier_creation_code: Vec<u8>,
    /// Another ERC20 to pay rewards in (OPEN otherwise).
    pub reward_token: Option<Address>,
    /// OPEN minted to the deploying key, base units.
    pub token_supply: U256,
    /// Claim window, seconds.
    pub claim_window: u64,
    /// Governor voting delay, blocks.
    pub voting_delay: u64,
    /// Governor voting period, blocks.
    pub voting_period: u64,
    /// Timelock delay, seconds.
    pub timelock_delay: u64,
}

fn created(r: &Receipt, what: &str) -> Result<Address> {
    r.contract_address
        .ok_or_else(|| Error::Chain(format!("{what}: the deployment created no contract")))
}

fn u256_of(f: &field::Fr) -> U256 {
    U256::from_be_bytes(field::to_bytes_be(f))
}

/// Deploys everything (see the module documentation) from `key`; `step` is told each step as it completes.
pub fn deploy(
    chain: &mut Chain,
    key: &PrivateKeySigner,
    opts: &DeployOptions,
    step: &mut dyn FnMut(&str, &Receipt),
) -> Result<Deployment> {
    let me = key.address();
    let mut gas = BTreeMap::new();
    let mut create = |chain: &mut Chain, name: &str, code: Vec<u8>| -> Result<Address> {
        let r = chain.send(key, None, code, &format!("deploying {name}"))?;
        gas.insert(name.to_string(), r.gas_used);
        step(name, &r);
        created(&r, name)
    };
    let with_args = |name: &str, args: Vec<u8>| [creation_code(name), args].concat();

    let governance_token = create(
        chain,
        "OpenToken",
        with_args(
            "OpenToken",
            OpenToken::constructorCall::new((me, opts.token_supply)).abi_encode(),
        ),
    )?;
    let datanets = create(chain, "DatanetRegistry", creation_code("DatanetRegistry"))?;
    let timelock = create(
        chain,
        "TimelockController",
        with_args(
            "TimelockController",
            TimelockController::constructorCall::new((
                U256::from(opts.timelock_delay),
                vec![],
                vec![],
                me,
            ))
            .abi_encode(),
        ),
    )?;
    let governor = create(
        chain,
        "ZkattrGovernor",
        with_args(
            "ZkattrGovernor",
            ZkattrGovernor::constructorCall::new((
                governance_token,
                timelock,
                alloy::primitives::Uint::<48, 1>::from(opts.voting_delay),
                opts.voting_period as u32,
                U256::ZERO,
                U256::from(4u64),
            ))
            .abi_encode(),
        ),
    )?;
    let params_registry = create(
        chain,
        "ParamsRegistry",
        with_args(
            "ParamsRegistry",
            ParamsRegistry::constructorCall::new((me,)).abi_encode(),
        ),
    )?;
    let verifier = create(
        chain,
        "AttributionVerifier",
        opts.verifier_creation_code.clone(),
    )?;
    let reward_token = opts.reward_token.unwrap_or(governance_token);
    let distributor = create(
        chain,
        "RewardDistributor",
        with_args(
            "RewardDistributor",
            RewardDistributor::constructorCall::new((
                reward_token,
                datanets,
                params_registry,
                opts.claim_window,
                timelock,
                me,
                me,
                timelock,
            ))
            .abi_encode(),
        ),
    )?;
    // Wiring: the governor proposes and cancels, anyone executes, the deployer gives up the admin role; the
    // initial verifier is registered, then the registry belongs to the timelock.
    let params_hash = u256_of(&opts.params.hash());
    let mut wire = |chain: &mut Chain, to: Address, data: Vec<u8>, what: &str| -> Result<()> {
        let r = chain.send(key, Some(to), data, what)?;
        step(what, &r);
        Ok(())
    };
    let proposer = chain.view(timelock, &TimelockController::PROPOSER_ROLECall {})?;
    let canceller = chain.view(timelock, &TimelockController::CANCELLER_ROLECall {})?;
    let executor = chain.view(timelock, &TimelockController::EXECUTOR_ROLECall {})?;
    let admin = chain.view(timelock, &TimelockController::DEFAULT_ADMIN_ROLECall {})?;
    wire(
        chain,
        timelock,
        TimelockController::grantRoleCall::new((proposer, governor)).abi_encode(),
        "timelock: governor proposes",
    )?;
    wire(
        chain,
        timelock,
        TimelockController::grantRoleCall::new((canceller, governor)).abi_encode(),
        "timelock: governor cancels",
    )?;
    wire(
        chain,
        timelock,
        TimelockController::grantRoleCall::new((executor, Address::ZERO)).abi_encode(),
        "timelock: anyone executes",
    )?;
    wire(
        chain,
        params_registry,
        ParamsRegistry::setVerifierCall::new((params_hash, verifier, true)).abi_encode(),
        "params: initial verifier",
    )?;
    wire(
        chain,
        params_registry,
        ParamsRegistry::transferOwnershipCall::new((timelock,)).abi_encode(),
        "params: owned by the timelock",
    )?;
    wire(
        chain,
        timelock,
        TimelockController::renounceRoleCall::new((admin, me)).abi_encode(),
        "timelock: deployer renounces admin",
    )?;
    let mut verifiers = BTreeMap::new();
    verifiers.insert(field::to_hex(&opts.params.hash()), verifier);
    Ok(Deployment {
        format: DEPLOYMENT_FORMAT.into(),
        chain: chain.key(),
        chain_id: chain.chain_id(),
        operator: me,
        governance_token,
        reward_token,
        datanets,
        params: params_registry,
        timelock,
        governor,
        distributor,
        verifiers,
        claim_window: opts.claim_window,
        voting_delay: opts.voting_delay,
        voting_period: opts.voting_period,
        timelock_delay: opts.timelock_delay,
        gas,
    })
}

/// The on-chain id of a Datanet name.
pub fn datanet_id(name: &str) -> FixedBytes<32> {
    keccak256(name.as_bytes())
}

/// Registers `name` (when it is not yet) and seals `version` with `root` on the Datanet registry, in order;
/// a version already sealed with the same root is left as it is. Returns the transactions sent.
pub fn publish_datanet(
    chain: &mut Chain,
    key: &PrivateKeySigner,
    d: &Deployment,
    name: &str,
    version: u64,
    root: &field::Fr,
    items: u64,
) -> Result<Vec<(String, Receipt)>> {
    let id = datanet_id(name);
    let mut sent = Vec::new();
    let versions = match chain.view(d.datanets, &DatanetRegistry::datanetCall::new((id,))) {
        Ok(r) => {
            if r.owner != key.address() {
                return Err(Error::Deployment(format!(
                    "Datanet {name:?} is registered on-chain by {}, not by this key ({})",
                    r.owner,
                    key.address()
                )));
            }
            r.versions
        }
        Err(Error::Reverted { reason, .. }) if reason.starts_with("UnknownDatanet") => {
            let r = chain.transact(
                key,
                d.datanets,
                &DatanetRegistry::registerCall::new((name.to_string(),)),
                "registering the Datanet",
            )?;
            sent.push((format!("register {name}"), r));
            0
        }
        Err(e) => return Err(e),
    };
    let want = u256_of(root);
    if version <= versions {
        let have = chain.view(d.datanets, &DatanetRegistry::rootOfCall::new((id, version)))?;
        if have != want {
            return Err(Error::Deployment(format!(
                "version {version} of {name:?} is sealed on-chain with root 0x{have:064x}, this home has {}",
                field::to_hex(root)
            )));
        }
        return Ok(sent);
    }
    if version != versions + 1 {
        return Err(Error::Deployment(format!(
            "{name:?} has {versions} version(s) sealed on-chain; versions are sealed in order, so publish \
             version {} before {version}",
            versions + 1
        )));
    }
    let r = chain.transact(
        key,
        d.datanets,
        &DatanetRegistry::sealCall::new((id, want, items)),
        "sealing the snapshot on-chain",
    )?;
    sent.push((format!("seal {name} v{version}"), r));
    Ok(sent)
}

/// A proof directory read for settlement.
#[derive(Debug, Clone)]
pub struct ProofDir {
    /// `statement.json`.
    pub statement: StatementFile,
    /// `reward-list.bin`.
    pub list: Vec<u8>,
    /// The list's entries.
    pub entries: Vec<RewardEntry>,
    /// `proof.bin`.
    pub proof: Vec<u8>,
}

impl ProofDir {
    /// Reads `dir` (as written by `zkattr prove`).
    pub fn read(dir: &Path) -> Result<Self> {
        let statement: StatementFile = read_json(&dir.join("statement.json"))?;
        let read = |name: &str| {
            let p = dir.join(name);
            std::fs::read(&p).map_err(|e| Error::io(&p, e))
        };
        let list = read("reward-list.bin")?;
        let entries = parse_reward_list(&list)
            .map_err(|e| Error::ProofInvalid(format!("reward-list.bin: {e}")))?;
        Ok(Self {
            statement,
            list,
            entries,
            proof: read("proof.bin")?,
        })
    }
}

/// The steps of a settlement and their transactions.
#[derive(Debug, Clone, Default)]
pub struct Settlement {
    /// `(step, receipt)` in order: open, approve, fund, settle (those that were needed).
    pub steps: Vec<(String, Receipt)>,
    /// The claims root stored on-chain.
    pub reward_root: [u8; 32],
}

/// Settles the epoch of proof directory `p` on `d`: opens the epoch when it is not open, funds it up to the
/// proven pool from `key` (a pool funded beyond it is fine: the surplus is swept to the treasury with the
/// unclaimed rest), and submits the proven pool, the list and the proof. Refuses before sending anything a
/// proof made for another chain or contract, a snapshot not sealed on-chain with the proof's root, and an
/// inactive parameter set.
pub fn settle(
    chain: &mut Chain,
    key: &PrivateKeySigner,
    d: &Deployment,
    p: &ProofDir,
) -> Result<Settlement> {
    let st = &p.statement;
    let public = st
        .public_inputs
        .to_public()
        .map_err(|e| Error::ProofInvalid(format!("statement.json: {e}")))?;
    if public.chain_id != chain.chain_id() {
        return Err(Error::Deployment(format!(
            "the proof is for chain id {}, this is {}",
            public.chain_id,
            chain.describe()
        )));
    }
    if Address::from(public.settlement) != d.distributor {
        return Err(Error::Deployment(format!(
            "the proof is bound to settlement contract 0x{}, the deployment's distributor is {}: prove \
             again with --settlement {}",
            hex::encode(public.settlement),
            d.distributor,
            d.distributor
        )));
    }
    let epoch = public.epoch;
    let mut out = Settlement::default();
    let info = chain.view(
        d.distributor,
        &RewardDistributor::epochInfoCall::new((epoch,)),
    )?;
    if info.settled {
        return Err(Error::Deployment(format!(
            "epoch {epoch} is already settled"
        )));
    }
    let params_hash = u256_of(&public.params_hash);
    if info.datanet == FixedBytes::ZERO {
        let r = chain.transact(
            key,
            d.distributor,
            &RewardDistributor::openEpochCall::new((
                epoch,
                datanet_id(&st.datanet),
                st.version,
                params_hash,
            )),
            "opening the epoch",
        )?;
        out.steps.push((format!("open epoch {epoch}"), r));
    } else if info.datanet != datanet_id(&st.datanet)
        || info.version != st.version
        || info.paramsHash != params_hash
    {
        return Err(Error::Deployment(format!(
            "epoch {epoch} is open on-chain for another Datanet version or parameter set than the proof's \
             ({} v{}, params {})",
            st.datanet, st.version, st.params_hash
        )));
    }
    // What the contract will read: the sealed root of the epoch's version and the parameter set's verifier.
    let root = chain
        .view(
            d.datanets,
            &DatanetRegistry::rootOfCall::new((datanet_id(&st.datanet), st.version)),
        )
        .map_err(|e| {
            Error::Deployment(format!(
                "{} v{} is not sealed on-chain ({e}): run `zkattr datanet publish {} --version {}`",
                st.datanet, st.version, st.datanet, st.version
            ))
        })?;
    if root != u256_of(&public.datanet_root) {
        return Err(Error::Deployment(format!(
            "{} v{} is sealed on-chain with root 0x{root:064x}, the proof is for {}",
            st.datanet,
            st.version,
            field::to_hex(&public.datanet_root)
        )));
    }
    chain
        .view(
            d.params,
            &ParamsRegistry::activeVerifierCall::new((params_hash,)),
        )
        .map_err(|e| Error::Deployment(format!("parameter set {}: {e}", st.params_hash)))?;
    let pool = U256::from(info.pool);
    let want = U256::from(public.pool);
    if pool < want {
        let missing = want - pool;
        let r = chain.transact(
            key,
            d.reward_token,
            &OpenToken::approveCall::new((d.distributor, missing)),
            "approving the pool",
        )?;
        out.steps.push(("approve".into(), r));
        let r = chain.transact(
            key,
            d.distributor,
            &RewardDistributor::fundCall::new((epoch, missing)),
            "funding the pool",
        )?;
        out.steps.push((format!("fund {missing}"), r));
        let funded = U256::from(
            chain
                .view(
                    d.distributor,
                    &RewardDistributor::epochInfoCall::new((epoch,)),
                )?
                .pool,
        );
        if funded < want {
            return Err(Error::Deployment(format!(
                "epoch {epoch}'s pool is {funded} after sending {missing} more: the reward token delivered less \
                 than was sent (a fee on transfer?); fund the rest with `fund` or prove with --pool {funded}"
            )));
        }
    }
    let commitments = RewardDistributor::Commitments {
        model: u256_of(&public.model_commitment),
        features: u256_of(&public.features_root),
        query: u256_of(&public.query_commitment),
    };
    let r = chain.transact(
        key,
        d.distributor,
        &RewardDistributor::settleCall::new((
            epoch,
            want,
            commitments,
            p.list.clone().into(),
            p.proof.clone().into(),
        )),
        "settling the epoch",
    )?;
    out.steps.push((format!("settle epoch {epoch}"), r));
    let stored = chain.view(
        d.distributor,
        &RewardDistributor::epochInfoCall::new((epoch,)),
    )?;
    out.reward_root = stored.rewardRoot.0;
    if out.reward_root != claims_root(&p.entries) {
        return Err(Error::Deployment(
            "the contract stored another claims root than the one computed here".into(),
        ));
    }
    Ok(out)
}

/// Claims the reward of `account` (`key`'s own when `None`) in the epoch settled from proof directory `p`,
/// sent from `key`: its own reward through `claim`, another's through `claimFor`, which pays `account` and
/// costs it no gas. Returns the amount and receipt.
pub fn claim(
    chain: &mut Chain,
    key: &PrivateKeySigner,
    d: &Deployment,
    p: &ProofDir,
    account: Option<Address>,
) -> Result<(u128, Receipt)> {
    let who = account.unwrap_or(key.address());
    let (index, entry) = p
        .entries
        .iter()
        .enumerate()
        .find(|(_, e)| Address::from(e.contributor) == who)
        .ok_or_else(|| {
            Error::Deployment(format!("{who} has no entry in this epoch's reward list"))
        })?;
    if entry.amount == 0 {
        return Err(Error::Deployment(format!(
            "{who}'s reward in this epoch is 0: nothing to claim"
        )));
    }
    let epoch = p.statement.public_inputs.epoch;
    let proof: Vec<FixedBytes<32>> = claim_proof(&p.entries, index)
        .into_iter()
        .map(FixedBytes)
        .collect();
    let (index, amount) = (U256::from(index), U256::from(entry.amount));
    let r = if who == key.address() {
        chain.transact(
            key,
            d.distributor,
            &RewardDistributor::claimCall::new((epoch, index, amount, proof)),
            "claiming",
        )?
    } else {
        chain.transact(
            key,
            d.distributor,
            &RewardDistributor::claimForCall::new((epoch, index, who, amount, proof)),
            &format!("claiming for {who}"),
        )?
    };
    Ok((entry.amount, r))
}

/// `account`'s balance of the reward token.
pub fn reward_balance(chain: &mut Chain, d: &Deployment, account: Address) -> Result<U256> {
    chain.view(d.reward_token, &OpenToken::balanceOfCall::new((account,)))
}
