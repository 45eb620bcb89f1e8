//! `zkattr gov`: parameter-set changes through the Governor and the timelock (DESIGN §6).
//!
//! A proposal here is one call to the `ParamsRegistry`: `setVerifier(params_hash, verifier, active)`.
//! `propose --params FILE` generates and deploys the verifier of that parameter set and proposes to register
//! and activate it; `propose --deactivate HASH` proposes to switch a registered set off. The proposal's
//! calls are kept in `<home>/deployments/<chain>.proposals/<id>.json` so that `queue` and `execute` can send
//! them again. Votes count the OPEN delegated to the voter before the proposal (`gov delegate`).

use std::path::PathBuf;

use alloy::{
    primitives::{keccak256, Address, Bytes, U256},
    sol_types::SolCall,
};
use clap::{Args, Subcommand, ValueEnum};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{chain::ChainArgs, Ctx, Output};
use crate::{
    chain::{
        contracts::{OpenToken, ParamsRegistry, ZkattrGovernor},
        deploy::Deployment,
        Chain,
    },
    cli::datanet::write_atomic,
    epoch::read_json,
    error::{Error, Result},
    proving::{self, SrsSource},
};

/// Governance commands.
#[derive(Debug, Subcommand)]
pub enum GovCmd {
    /// Delegate the key's OPEN votes (to itself by default): votes count only delegated tokens.
    Delegate(DelegateCmd),
    /// Propose a parameter-set change.
    Propose(ProposeCmd),
    /// Vote on a proposal.
    Vote(VoteCmd),
    /// Queue a passed proposal in the timelock.
    Queue(IdCmd),
    /// Execute a queued proposal after the timelock delay.
    Execute(IdCmd),
    /// Show a proposal's state and votes.
    Status(IdCmd),
}

impl GovCmd {
    /// Runs the subcommand.
    pub fn run(&self, ctx: &Ctx) -> Result<Output> {
        match self {
            GovCmd::Delegate(c) => c.run(ctx),
            GovCmd::Propose(c) => c.run(ctx),
            GovCmd::Vote(c) => c.run(ctx),
            GovCmd::Queue(c) => c.send(ctx, Step::Queue),
            GovCmd::Execute(c) => c.send(ctx, Step::Execute),
            GovCmd::Status(c) => c.status(ctx),
        }
    }
}

/// A proposal's calls as sent, kept to queue and execute it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposalRecord {
    /// Proposal id (decimal).
    pub id: String,
    /// Target contracts.
    pub targets: Vec<Address>,
    /// Values sent with each call (wei).
    pub values: Vec<U256>,
    /// Calldata of each call.
    pub calldatas: Vec<Bytes>,
    /// The description.
    pub description: String,
    /// What it does, in words.
    pub summary: String,
}

fn proposals_dir(ctx: &Ctx, chain: &Chain) -> PathBuf {
    ctx.home
        .join("deployments")
        .join(format!("{}.proposals", chain.key()))
}

fn parse_id(s: &str) -> Result<U256> {
    s.parse::<U256>()
        .map_err(|e| Error::Deployment(format!("proposal id {s:?}: {e}")))
}

fn load_record(ctx: &Ctx, chain: &Chain, id: &str) -> Result<ProposalRecord> {
    let path = proposals_dir(ctx, chain).join(format!("{}.json", parse_id(id)?));
    if !path.exists() {
        return Err(Error::Deployment(format!(
            "no proposal {id} was made from this home ({} is missing)",
            path.display()
        )));
    }
    read_json(&path)
}

const STATES: [&str; 8] = [
    "Pending",
    "Active",
    "Canceled",
    "Defeated",
    "Succeeded",
    "Queued",
    "Expired",
    "Executed",
];

/// `zkattr gov delegate`
#[derive(Debug, Args)]
pub struct DelegateCmd {
    /// Delegate to this address instead of the key's own.
    #[arg(long, value_name = "ADDRESS")]
    pub to: Option<String>,
    /// Chain and key.
    #[command(flatten)]
    pub chain: ChainArgs,
}

impl DelegateCmd {
    /// Runs it.
    pub fn run(&self, ctx: &Ctx) -> Result<Output> {
        let (mut chain, key) = self.chain.open(&ctx.home)?;
        let d = Deployment::load(&ctx.home, &mut chain)?;
        let to = match &self.to {
            Some(s) => s
                .parse::<Address>()
                .map_err(|e| Error::Chain(format!("--to {s:?}: {e}")))?,
            None => key.address(),
        };
        let r = chain.transact(
            &key,
            d.governance_token,
            &OpenToken::delegateCall::new((to,)),
            "delegating votes",
        )?;
        let votes = chain.view(d.governance_token, &OpenToken::getVotesCall::new((to,)))?;
        Ok(Output {
            text: format!(
                "{} delegated its OPEN votes to {to}, who now has {votes} votes ({} gas)",
                key.address(),
                r.gas_used
            ),
            json: json!({"delegate": to.to_string(), "votes": votes.to_string(), "gas": r.gas_used}),
        })
    }
}

/// `zkattr gov propose`
#[derive(Debug, Args)]
pub struct ProposeCmd {
    /// Register and activate the verifier of this parameter set (TOML); it is generated and deployed first.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "deactivate",
        required_unless_present = "deactivate"
    )]
    pub params: Option<PathBuf>,
    /// Switch the registered parameter set with this params_hash off.
    #[arg(long, value_name = "PARAMS_HASH")]
    pub deactivate: Option<String>,
    /// The proposal's description (also what makes two otherwise equal proposals distinct).
    #[arg(long)]
    pub description: String,
    /// KZG setup file the verifier is generated for (with --params).
    #[arg(long, value_name = "FILE", conflicts_with = "insecure_test_srs")]
    pub srs: Option<PathBuf>,
    /// Generate the verifier for the seeded test setup instead. INSECURE: anyone can forge proofs for it.
    #[arg(long)]
    pub insecure_test_srs: bool,
    /// Solidity compiler for the generated verifier; default: $ZKATTR_SOLC, else verifier-contracts/bin/solc.
    #[arg(long, value_name = "PATH")]
    pub solc: Option<PathBuf>,
    /// Chain and key (the proposer).
    #[command(flatten)]
    pub chain: ChainArgs,
}

impl ProposeCmd {
    /// Runs it.
    pub fn run(&self, ctx: &Ctx) -> Result<Output> {
        let (mut chain, key) = self.chain.open(&ctx.home)?;
        let mut d = Deployment::load(&ctx.home, &mut chain)?;
        let (call, summary) = match (&self.params, &self.deactivate) {
            (Some(file), _) => {
                let params = super::params::load(Some(file))?;
                let srs = match (&self.srs, self.insecure_test_srs) {
                    (Some(f), _) => SrsSource::File(f.clone()),
                    (None, true) => SrsSource::InsecureTest,
                    (None, false) => {
                        return Err(Error::Deployment(
                            "--params needs --srs FILE or --insecure-test-srs".into(),
                        ))
                    }
                };
                let solc = self
                    .solc
                    .clone()
                    .unwrap_or_else(zkattr_circuits::halo2::evm::default_solc);
                let (code, _) = proving::verifier_creation_code(&params, &srs, &ctx.keys, &solc)?;
                let r = chain.send(&key, None, code, "deploying the verifier")?;
                let verifier = r.contract_address.ok_or_else(|| {
                    Error::Chain("the verifier deployment created no contract".into())
                })?;
                let hash = zkattr_circuits::field::to_hex(&params.hash());
                d.verifiers.insert(hash.clone(), verifier);
                d.save(&ctx.home, &chain)?;
                let h = U256::from_be_bytes(zkattr_circuits::field::to_bytes_be(&params.hash()));
                (
                    ParamsRegistry::setVerifierCall::new((h, verifier, true)),
                    format!("activate params_hash {hash} with verifier {verifier}"),
                )
            }
            (None, Some(hash)) => {
                let h = hash
                    .parse::<U256>()
                    .map_err(|e| Error::Deployment(format!("--deactivate {hash:?}: {e}")))?;
                let entry = chain.view(d.params, &ParamsRegistry::entryCall::new((h,)))?;
                if entry.verifier == Address::ZERO {
                    return Err(Error::Deployment(format!(
                        "params_hash {hash} is not registered"
                    )));
                }
                (
                    ParamsRegistry::setVerifierCall::new((h, entry.verifier, false)),
                    format!("deactivate params_hash {hash}"),
                )
            }
            (None, None) => unreachable!("clap requires one"),
        };
        let targets = vec![d.params];
        let values = vec![U256::ZERO];
        let calldatas: Vec<Bytes> = vec![call.abi_encode().into()];
        let r = chain.transact(
            &key,
            d.governor,
            &ZkattrGovernor::proposeCall::new((
                targets.clone(),
                values.clone(),
                calldatas.clone(),
                self.description.clone(),
            )),
            "proposing",
        )?;
        let id = chain.view(
            d.governor,
            &ZkattrGovernor::hashProposalCall::new((
                targets.clone(),
                values.clone(),
                calldatas.clone(),
                keccak256(self.description.as_bytes()),
            )),
        )?;
        let record = ProposalRecord {
            id: id.to_string(),
            targets,
            values,
            calldatas,
            description: self.description.clone(),
            summary: summary.clone(),
        };
        let path = proposals_dir(ctx, &chain).join(format!("{id}.json"));
        write_atomic(
            &path,
            &(serde_json::to_string_pretty(&record).expect("serialisable") + "\n"),
        )?;
        let deadline = chain.view(
            d.governor,
            &ZkattrGovernor::proposalDeadlineCall::new((id,)),
        )?;
        Ok(Output {
            text: format!(
                "proposal {id}: {summary} ({} gas); voting ends at block {deadline}",
                r.gas_used
            ),
            json: json!({"id": id.to_string(), "summary": summary, "gas": r.gas_used, "deadline": deadline.to_string()}),
        })
    }
}

/// How a vote counts.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Support {
    /// Against.
    Against,
    /// For.
    For,
    /// Abstain (counts toward the quorum only).
    Abstain,
}

/// `zkattr gov vote`
#[derive(Debug, Args)]
pub struct VoteCmd {
    /// Proposal id.
    pub id: String,
    /// The vote.
    #[arg(long, value_enum)]
    pub support: Support,
    /// Chain and key (the voter).
    #[command(flatten)]
    pub chain: ChainArgs,
}

impl VoteCmd {
    /// Runs it.
    pub fn run(&self, ctx: &Ctx) -> Result<Output> {
        let (mut chain, key) = self.chain.open(&ctx.home)?;
        let d = Deployment::load(&ctx.home, &mut chain)?;
        let id = parse_id(&self.id)?;
        let r = chain.transact(
            &key,
            d.governor,
            &ZkattrGovernor::castVoteCall::new((id, self.support as u8)),
            "voting",
        )?;
        Ok(Output {
            text: format!(
                "{} voted {:?} on proposal {id} ({} gas)",
                key.address(),
                self.support,
                r.gas_used
            ),
            json: json!({"id": id.to_string(), "support": format!("{:?}", self.support), "gas": r.gas_used}),
        })
    }
}

/// A proposal id, with the chain and key.
#[derive(Debug, Args)]
pub struct IdCmd {
    /// Proposal id.
    pub id: String,
    /// Chain and key.
    #[command(flatten)]
    pub chain: ChainArgs,
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Queue,
    Execute,
}

impl IdCmd {
    fn send(&self, ctx: &Ctx, step: Step) -> Result<Output> {
        let (mut chain, key) = self.chain.open(&ctx.home)?;
        let d = Deployment::load(&ctx.home, &mut chain)?;
        let p = load_record(ctx, &chain, &self.id)?;
        let desc = keccak256(p.description.as_bytes());
        let (data, what) = match step {
            Step::Queue => (
                ZkattrGovernor::queueCall::new((
                    p.targets.clone(),
                    p.values.clone(),
                    p.calldatas.clone(),
                    desc,
                ))
                .abi_encode(),
                "queueing",
            ),
            Step::Execute => (
                ZkattrGovernor::executeCall::new((
                    p.targets.clone(),
                    p.values.clone(),
                    p.calldatas.clone(),
                    desc,
                ))
                .abi_encode(),
                "executing",
            ),
        };
        let r = chain.send(&key, Some(d.governor), data, what)?;
        let state = chain.view(
            d.governor,
            &ZkattrGovernor::stateCall::new((parse_id(&p.id)?,)),
        )?;
        let state = STATES.get(state as usize).copied().unwrap_or("?");
        Ok(Output {
            text: format!(
                "proposal {} ({}): {what} done, now {state} ({} gas)",
                p.id, p.summary, r.gas_used
            ),
            json: json!({"id": p.id, "state": state, "gas": r.gas_used}),
        })
    }

    fn status(&self, ctx: &Ctx) -> Result<Output> {
        let mut chain = Chain::open(&ctx.home, self.chain.rpc_url.as_deref())?;
        let d = Deployment::load(&ctx.home, &mut chain)?;
        let id = parse_id(&self.id)?;
        let state = chain.view(d.governor, &ZkattrGovernor::stateCall::new((id,)))?;
        let state = STATES.get(state as usize).copied().unwrap_or("?");
        let votes = chain.view(d.governor, &ZkattrGovernor::proposalVotesCall::new((id,)))?;
        let deadline = chain.view(
            d.governor,
            &ZkattrGovernor::proposalDeadlineCall::new((id,)),
        )?;
        let eta = chain.view(d.governor, &ZkattrGovernor::proposalEtaCall::new((id,)))?;
        let summary = load_record(ctx, &chain, &self.id)
            .map(|p| p.summary)
            .unwrap_or_default();
        Ok(Output {
            text: format!(
                "proposal {id} {summary}: {state}; for {}, against {}, abstain {}; voting ends at block {deadline}{}",
                votes.forVotes,
                votes.againstVotes,
                votes.abstainVotes,
                if eta > U256::ZERO { format!("; executable from {eta}") } else { String::new() }
            ),
            json: json!({
                "id": id.to_string(),
                "state": state,
                "for": votes.forVotes.to_string(),
                "against": votes.againstVotes.to_string(),
                "abstain": votes.abstainVotes.to_string(),
                "deadline": deadline.to_string(),
                "eta": eta.to_string(),
            }),
        })
    }
}
