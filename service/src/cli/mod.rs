//! The `zkattr` command line: one struct with a `run` per subcommand; `main` only dispatches.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use serde_json::Value;

use crate::error::Result;

pub mod chain;
pub mod datanet;
pub mod demo;
pub mod eval;
pub mod gov;
pub mod network;
pub mod params;
pub mod prove;
pub mod receipt;
pub mod train;

/// zkattr: verifiable data attribution receipts.
#[derive(Debug, Parser)]
#[command(name = "zkattr", version, about)]
pub struct Cli {
    /// Directory holding all state (database, proofs); several homes can be used side by side.
    #[arg(long, global = true, env = "ZKATTR_HOME", default_value = ".zkattr")]
    pub home: PathBuf,
    /// Cache of proving and verifying keys (derived from the SRS and the circuit shape, checked against
    /// their recorded hashes when read). Several homes may share one. Default: <home>/keys.
    #[arg(long, global = true, env = "ZKATTR_KEYS_DIR")]
    pub keys_dir: Option<PathBuf>,
    /// Print one JSON object on standard output instead of text (errors too, as {"error": …}).
    #[arg(long, global = true)]
    pub json: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, fill, seal and prove things about Datanets.
    #[command(subcommand)]
    Datanet(datanet::DatanetCmd),
    /// Inspect governance parameter sets and their params_hash.
    #[command(subcommand)]
    Params(params::ParamsCmd),
    /// Train the model on a sealed Datanet version (CPU, or GPU with the `cuda` feature).
    Train(train::TrainCmd),
    /// Re-derive an attribution artifact from its model and the snapshot; report any difference by item.
    Recompute(train::RecomputeCmd),
    /// Measure attribution quality on a sealed Datanet version.
    EvalAttribution(eval::EvalCmd),
    /// Prove an epoch's reward allocation and write the proof, public inputs, reward list and receipts.
    Prove(prove::ProveCmd),
    /// Verify a proof directory natively: exit 0 when valid, non-zero with the reason otherwise.
    Verify(prove::VerifyCmd),
    /// Contributor receipts: verify one offline (and on-chain), claim its reward.
    #[command(subcommand)]
    Receipt(receipt::ReceiptCmd),
    /// Run the whole pipeline on the embedded sample Datanet in <home>/demo.
    Demo(demo::DemoCmd),
    /// Deploy the contracts (embedded chain, or --rpc-url).
    Deploy(chain::DeployCmd),
    /// Settle an epoch on-chain from a proof directory.
    Settle(chain::SettleCmd),
    /// Claim a reward of a settled epoch.
    Claim(chain::ClaimCmd),
    /// The chain: status, and moving a development chain forward.
    #[command(subcommand)]
    Chain(chain::ChainCmd),
    /// Governance: delegate, propose a parameter-set change, vote, queue, execute, status.
    #[command(subcommand)]
    Gov(gov::GovCmd),
    /// Run the prover network's coordinator (HTTP API) until stopped.
    Serve(network::ServeCmd),
    /// Work for a coordinator: lease training and proving jobs, return the results.
    Worker(network::WorkerCmd),
}

/// What every command needs besides its own arguments.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The state directory.
    pub home: PathBuf,
    /// The key cache (`--keys-dir`, else `<home>/keys`).
    pub keys: PathBuf,
    /// Machine-readable output requested (no progress bars).
    pub json: bool,
}

/// A command's result, printed as JSON or as text.
#[derive(Debug)]
pub struct Output {
    /// The `--json` form: one object.
    pub json: Value,
    /// The human form.
    pub text: String,
}

impl Cli {
    /// Runs the chosen command.
    pub fn run(&self) -> Result<Output> {
        let ctx = Ctx {
            home: self.home.clone(),
            keys: self
                .keys_dir
                .clone()
                .unwrap_or_else(|| self.home.join("keys")),
            json: self.json,
        };
        match &self.command {
            Command::Datanet(c) => c.run(&ctx),
            Command::Params(c) => c.run(&ctx),
            Command::Train(c) => c.run(&ctx),
            Command::Recompute(c) => c.run(&ctx),
            Command::EvalAttribution(c) => c.run(&ctx),
            Command::Prove(c) => c.run(&ctx),
            Command::Verify(c) => c.run(&ctx),
            Command::Receipt(c) => c.run(&ctx),
            Command::Demo(c) => c.run(&ctx),
            Command::Deploy(c) => c.run(&ctx),
            Command::Settle(c) => c.run(&ctx),
            Command::Claim(c) => c.run(&ctx),
            Command::Chain(c) => c.run(&ctx),
            Command::Gov(c) => c.run(&ctx),
            Command::Serve(c) => c.run(&ctx),
            Command::Worker(c) => c.run(&ctx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
