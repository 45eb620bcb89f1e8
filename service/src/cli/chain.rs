//! On-chain commands: `zkattr deploy`, `zkattr datanet publish`, `zkattr settle`, `zkattr claim`,
//! `zkattr chain status|advance`. Without `--rpc-url` they use the embedded chain under `<home>/chain`.

use std::path::{Path, PathBuf};

use alloy::{primitives::Address, signers::local::PrivateKeySigner};
use clap::{Args, Subcommand};
use serde_json::json;

use super::{prove::SrsArgs, Ctx, Output};
use crate::{
    chain::{
        self,
        deploy::{self, DeployOptions, Deployment, ProofDir},
        Chain,
    },
    datanet::Datanets,
    error::{Error, Result},
    proving,
};

/// Which chain, and which key sends.
#[derive(Debug, Clone, Args)]
pub struct ChainArgs {
    /// JSON-RPC URL of a node to use instead of the embedded chain under <home>/chain.
    #[arg(long, env = "ZKATTR_RPC_URL", value_name = "URL")]
    pub rpc_url: Option<String>,
    /// File holding the sending account's private key (64 hex digits). Required with --rpc-url; on the
    /// embedded chain the operator key <home>/chain/operator.key (created on first use) by default.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
}

impl ChainArgs {
    /// The chain and the sending key.
    pub fn open(&self, home: &Path) -> Result<(Chain, PrivateKeySigner)> {
        let chain = Chain::open(home, self.rpc_url.as_deref())?;
        let key = match (&self.key, &chain) {
            (Some(f), _) => chain::read_key(f)?,
            (None, Chain::Embedded(_)) => operator_key(home)?,
            (None, Chain::Rpc(_)) => {
                return Err(Error::Chain(
                    "--rpc-url needs --key FILE: the private key of the account that sends".into(),
                ))
            }
        };
        Ok((chain, key))
    }
}

/// The embedded chain's operator key of `home` (`<home>/chain/operator.key`), created on first use.
pub fn operator_key(home: &Path) -> Result<PrivateKeySigner> {
    let path = home.join("chain").join("operator.key");
    if !path.exists() {
        let key = PrivateKeySigner::random();
        let dir = home.join("chain");
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        // A private key: created readable by its owner only, then renamed into place whole.
        let tmp = dir.join(".operator.key.tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&tmp).map_err(|e| Error::io(&tmp, e))?;
        std::io::Write::write_all(
            &mut f,
            format!("0x{}\n", hex::encode(key.to_bytes())).as_bytes(),
        )
        .map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
    }
    chain::read_key(&path)
}

fn gas_lines(steps: &[(String, chain::Receipt)]) -> String {
    steps
        .iter()
        .map(|(what, r)| format!("  {what}: {} gas", r.gas_used))
        .collect::<Vec<_>>()
        .join("\n")
}

fn steps_json(steps: &[(String, chain::Receipt)]) -> serde_json::Value {
    steps
        .iter()
        .map(|(what, r)| json!({"step": what, "gas": r.gas_used, "tx": r.tx_hash.to_string(), "block": r.block}))
        .collect()
}

/// Deploy the contracts: governance token, Datanet registry, governor and timelock, parameter registry with
/// the verifier of the given parameters, and the reward distributor.
#[derive(Debug, Args)]
pub struct DeployCmd {
    /// Chain and key.
    #[command(flatten)]
    pub chain: ChainArgs,
    /// The initial governance parameters (TOML); the built-in defaults when omitted.
    #[arg(long, value_name = "FILE")]
    pub params: Option<PathBuf>,
    /// The SRS the verifier is generated for.
    #[command(flatten)]
    pub srs: SrsArgs,
    /// Solidity compiler for the generated verifier; default: $ZKATTR_SOLC, else verifier-contracts/bin/solc.
    #[arg(long, value_name = "PATH")]
    pub solc: Option<PathBuf>,
    /// Pay rewards in this ERC20 instead of OPEN.
    #[arg(long, value_name = "ADDRESS")]
    pub reward_token: Option<String>,
    /// Seconds after settlement during which claims are accepted (at least an hour).
    #[arg(long, default_value_t = 30 * 24 * 3600)]
    pub claim_window: u64,
    /// Governor voting delay, blocks.
    #[arg(long, default_value_t = 1)]
    pub voting_delay: u64,
    /// Governor voting period, blocks.
    #[arg(long, default_value_t = 50_400)]
    pub voting_period: u64,
    /// Timelock delay, seconds.
    #[arg(long, default_value_t = 2 * 24 * 3600)]
    pub timelock_delay: u64,
}

/// The shortest claim window `zkattr deploy` accepts, seconds.
const MIN_CLAIM_WINDOW: u64 = 3600;

fn parse_address(s: &str, what: &str) -> Result<Address> {
    s.parse::<Address>()
        .map_err(|e| Error::Chain(format!("{what} {s:?} is not an address: {e}")))
}

impl DeployCmd {
    /// Runs it.
    pub fn run(&self, ctx: &Ctx) -> Result<Output> {
        let (mut chain, key) = self.chain.open(&ctx.home)?;
        let path = Deployment::path(&ctx.home, &chain);
        if path.exists() {
            return Err(Error::Deployment(format!(
                "this home already deployed on {} ({}); remove that record to deploy again",
                chain.describe(),
                path.display()
            )));
        }
        if self.voting_period == 0
            || self.voting_period > u64::from(u32::MAX)
            || self.voting_delay >= 1 << 48
        {
            return Err(Error::Deployment(
                "--voting-period must be 1..2^32 blocks and --voting-delay below 2^48".into(),
            ));
        }
        if self.claim_window < MIN_CLAIM_WINDOW {
            return Err(Error::Deployment(format!(
                "--claim-window {} s would close claims almost as soon as an epoch settles (everything left \
                 is swept to the treasury after it); give at least {MIN_CLAIM_WINDOW} s",
                self.claim_window
            )));
        }
        let params = super::params::load(self.params.as_deref())?;
        let solc = self
            .solc
            .clone()
            .unwrap_or_else(zkattr_circuits::halo2::evm::default_solc);
        let (code, vk) =
            proving::verifier_creation_code(&params, &self.srs.source(), &ctx.keys, &solc)?;
        let opts = DeployOptions {
            params,
            verifier_creation_code: code,
            reward_token: self
                .reward_token
                .as_deref()
                .map(|s| parse_address(s, "--reward-token"))
                .transpose()?,
            token_supply: alloy::primitives::U256::from(1_000_000_000u64)
                * alloy::primitives::U256::from(10u64).pow(alloy::primitives::U256::from(18u64)),
            claim_window: self.claim_window,
            voting_delay: self.voting_delay,
            voting_period: self.voting_period,
            timelock_delay: self.timelock_delay,
        };
        let quiet = ctx.json;
        let d = deploy::deploy(&mut chain, &key, &opts, &mut |what, r| {
            if !quiet {
                eprintln!("  {what}: {} gas", r.gas_used);
            }
        })?;
        d.save(&ctx.home, &chain)?;
        let text = format!(
            "deployed on {} from {}\n  distributor {}\n  datanets {}\n  params {} (verifier {} for params_hash {}, vk {vk})\n  governor {}\n  timelock {}\n  token {}\n  record {}",
            chain.describe(),
            d.operator,
            d.distributor,
            d.datanets,
            d.params,
            d.verifiers.values().next().copied().unwrap_or_default(),
            d.verifiers.keys().next().cloned().unwrap_or_default(),
            d.governor,
            d.timelock,
            d.reward_token,
            path.display()
        );
        let mut json = serde_json::to_value(&d).expect("serialisable");
        json["vk_keccak"] = vk.into();
        Ok(Output { json, text })
    }
}

/// Register a Datanet on the chain's Datanet registry (when needed) and seal a version's root there.
#[derive(Debug, Args)]
pub struct PublishCmd {
    /// Datanet name.
    pub name: String,
    /// Sealed version (versions are published in order).
    #[arg(long)]
    pub version: u64,
    /// Take the version from this coordinator (`zkattr serve`) instead of this home: its signed records are
    /// fetched and the version rebuilt under <home>/snapshots, every signature and every root checked,
    /// before the root is published.
    #[arg(long, value_name = "URL")]
    pub coordinator: Option<String>,
    /// Chain and key (the key becomes the Datanet's on-chain owner).
    #[command(flatten)]
    pub chain: ChainArgs,
}

impl PublishCmd {
    /// Runs it.
    pub fn run(&self, ctx: &Ctx) -> Result<Output> {
        let nets = match &self.coordinator {
            Some(url) => {
                let (dir, _root) = super::network::run_async(async {
                    let client = crate::coord::client::Client::new(url, None)
                        .map_err(|e| Error::Coordinator(format!("--coordinator {url:?}: {e}")))?;
                    crate::coord::snapshot::fetch(
                        &client,
                        &ctx.home,
                        &self.name,
                        self.version,
                        None,
                    )
                    .await
                })??;
                Datanets::open(&dir)?
            }
            None => Datanets::open(&ctx.home)?,
        };
        let sealed = nets.version(&self.name, self.version)?;
        let (mut chain, key) = self.chain.open(&ctx.home)?;
        let d = Deployment::load(&ctx.home, &mut chain)?;
        let root = zkattr_circuits::field::from_hex(&sealed.root)?;
        let sent = deploy::publish_datanet(
            &mut chain,
            &key,
            &d,
            &self.name,
            self.version,
            &root,
            sealed.items,
        )?;
        let text = if sent.is_empty() {
            format!(
                "{} v{} is already sealed on-chain with root {}",
                self.name, self.version, sealed.root
            )
        } else {
            format!(
                "{} v{} sealed on-chain with root {}\n{}",
                self.name,
                self.version,
                sealed.root,
                gas_lines(&sent)
            )
        };
        Ok(Output {
            json: json!({"datanet": self.name, "version": self.version, "root": sealed.root, "transactions": steps_json(&sent)}),
            text,
        })
    }
}

/// Settle an epoch from a proof directory: open it and fund its pool when needed, then submit the reward
/// list and proof to the distributor.
#[derive(Debug, Args)]
pub struct SettleCmd {
    /// Proof directory written by `zkattr prove`.
    pub dir: PathBuf,
    /// Chain and key (the distributor's operator; it also funds the pool).
    #[command(flatten)]
    pub chain: ChainArgs,
}

impl SettleCmd {
    /// Runs it.
    pub fn run(&self, ctx: &Ctx) -> Result<Output> {
        let p = ProofDir::read(&self.dir)?;
        let (mut chain, key) = self.chain.open(&ctx.home)?;
        let d = Deployment::load(&ctx.home, &mut chain)?;
        let s = deploy::settle(&mut chain, &key, &d, &p)?;
        let root = format!("0x{}", hex::encode(s.reward_root));
        Ok(Output {
            text: format!(
                "settled epoch {} on {}: {} entries, total {} of pool {}, reward root {root}\n{}",
                p.statement.public_inputs.epoch,
                chain.describe(),
                p.entries.len(),
                p.statement.public_inputs.total_rewarded,
                p.statement.public_inputs.pool,
                gas_lines(&s.steps)
            ),
            json: json!({
                "epoch": p.statement.public_inputs.epoch,
                "reward_root": root,
                "entries": p.entries.len(),
                "total_rewarded": p.statement.public_inputs.total_rewarded,
                "transactions": steps_json(&s.steps),
            }),
        })
    }
}

/// Claim the sending key's reward of a settled epoch (the proof directory holds the reward list), or with
/// `--for`, another contributor's: it is paid to them, and the sending key pays the gas.
#[derive(Debug, Args)]
pub struct ClaimCmd {
    /// Proof directory of the settled epoch.
    pub dir: PathBuf,
    /// Claim this contributor's reward on their behalf (paid to them; the key only pays the gas).
    #[arg(long = "for", value_name = "ADDRESS")]
    pub for_account: Option<String>,
    /// Chain and key (the contributor's, or with `--for` any funded key).
    #[command(flatten)]
    pub chain: ChainArgs,
}

impl ClaimCmd {
    /// Runs it.
    pub fn run(&self, ctx: &Ctx) -> Result<Output> {
        let p = ProofDir::read(&self.dir)?;
        let account = self
            .for_account
            .as_deref()
            .map(|s| parse_address(s, "--for"))
            .transpose()?;
        let (mut chain, key) = self.chain.open(&ctx.home)?;
        let d = Deployment::load(&ctx.home, &mut chain)?;
        let (amount, r) = deploy::claim(&mut chain, &key, &d, &p, account)?;
        let who = account.unwrap_or(key.address());
        let balance = deploy::reward_balance(&mut chain, &d, who)?;
        let by = if who == key.address() {
            String::new()
        } else {
            format!(" (sent by {})", key.address())
        };
        Ok(Output {
            text: format!(
                "{who} claimed {amount} of epoch {}{by} ({} gas); balance now {balance}",
                p.statement.public_inputs.epoch, r.gas_used
            ),
            json: json!({
                "account": who.to_string(),
                "sender": key.address().to_string(),
                "amount": amount.to_string(),
                "gas": r.gas_used,
                "tx": r.tx_hash.to_string(),
                "balance": balance.to_string(),
            }),
        })
    }
}

/// The chain itself.
#[derive(Debug, Subcommand)]
pub enum ChainCmd {
    /// Show the chain, the deployment of this home and the latest block.
    Status(StatusCmd),
    /// Move a development chain forward (the embedded chain, or anvil): blocks and seconds.
    Advance(AdvanceCmd),
}

impl ChainCmd {
    /// Runs the subcommand.
    pub fn run(&self, ctx: &Ctx) -> Result<Output> {
        match self {
            ChainCmd::Status(c) => c.run(ctx),
            ChainCmd::Advance(c) => c.run(ctx),
        }
    }
}

/// `zkattr chain status`
#[derive(Debug, Args)]
pub struct StatusCmd {
    /// Chain and key.
    #[command(flatten)]
    pub chain: ChainArgs,
}

impl StatusCmd {
    /// Runs it.
    pub fn run(&self, ctx: &Ctx) -> Result<Output> {
        let (mut chain, key) = self.chain.open(&ctx.home)?;
        let time = chain.timestamp()?;
        let d = Deployment::load(&ctx.home, &mut chain).ok();
        Ok(Output {
            text: format!(
                "{}; latest block time {time}; key {}\n{}",
                chain.describe(),
                key.address(),
                match &d {
                    Some(d) => format!(
                        "deployment: distributor {}, params {}, governor {}",
                        d.distributor, d.params, d.governor
                    ),
                    None => "nothing deployed from this home".into(),
                }
            ),
            json: json!({"chain_id": chain.chain_id(), "timestamp": time, "key": key.address().to_string(), "deployment": d}),
        })
    }
}

/// `zkattr chain advance`
#[derive(Debug, Args)]
pub struct AdvanceCmd {
    /// Blocks to mine.
    #[arg(long, default_value_t = 1)]
    pub blocks: u64,
    /// Seconds to move the clock.
    #[arg(long, default_value_t = 0)]
    pub seconds: u64,
    /// Chain.
    #[command(flatten)]
    pub chain: ChainArgs,
}

impl AdvanceCmd {
    /// Runs it.
    pub fn run(&self, ctx: &Ctx) -> Result<Output> {
        let mut chain = Chain::open(&ctx.home, self.chain.rpc_url.as_deref())?;
        chain.advance(self.blocks, self.seconds)?;
        let time = chain.timestamp()?;
        Ok(Output {
            text: format!(
                "advanced {} block(s) and {} s; block time now {time}",
                self.blocks, self.seconds
            ),
            json: json!({"timestamp": time}),
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_operator_key_is_created_once_and_private() {
        let home = tempfile::tempdir().unwrap();
        let a = super::operator_key(home.path()).unwrap();
        let b = super::operator_key(home.path()).unwrap();
        assert_eq!(a.address(), b.address(), "the same key on every use");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(home.path().join("chain/operator.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "readable by its owner only");
        }
    }
}
