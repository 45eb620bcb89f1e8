//! The embedded chain: revm in-process, state kept in `<dir>/state.json` after every transaction (written
//! to a temporary file and renamed, so a crash leaves the previous state). Chain id 31337. Gas is counted
//! as on a real chain but costs nothing (base fee and gas price 0), so accounts need no coin. Every
//! transaction is its own block; block time follows the wall clock, at least one second per block, and
//! [`EmbeddedChain::advance`] moves it forward for tests and demos.

use std::path::{Path, PathBuf};

use alloy::primitives::{keccak256, Address, Log, U256};
use revm::{
    context::TxEnv,
    context_interface::result::{ExecutionResult, Output},
    database::{CacheDB, EmptyDB},
    primitives::TxKind,
    Context, ExecuteCommitEvm, ExecuteEvm, MainBuilder, MainContext,
};
use serde::{Deserialize, Serialize};

use super::{contracts::describe_revert, Receipt};
use crate::{
    cli::datanet::write_atomic,
    error::{Error, Result},
};

/// Chain id of the embedded chain (the usual development chain id).
pub const CHAIN_ID: u64 = 31337;
const STATE_FORMAT: &str = "zkattr.embedded-chain.v1";
/// Gas limit of one transaction (Osaka's cap is 2^24).
const TX_GAS_LIMIT: u64 = 16_000_000;

#[derive(Debug, Serialize, Deserialize)]
struct State {
    format: String,
    chain_id: u64,
    block: u64,
    timestamp: u64,
    db: CacheDB<EmptyDB>,
}

/// The embedded chain of one home.
#[derive(Debug)]
pub struct EmbeddedChain {
    dir: PathBuf,
    state: State,
}

/// The error of a transaction or call that reverted or halted.
fn failure(what: &str, result: ExecutionResult) -> Error {
    let reason = match result {
        ExecutionResult::Revert { output, .. } => describe_revert(&output),
        ExecutionResult::Halt { reason, .. } => format!("halted: {reason:?}"),
        ExecutionResult::Success { .. } => "succeeded".into(),
    };
    Error::Reverted {
        what: what.into(),
        reason,
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl EmbeddedChain {
    /// Opens the chain kept in `dir`, or starts a new one there.
    pub fn open(dir: &Path) -> Result<Self> {
        let path = dir.join("state.json");
        let state = if path.exists() {
            let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
            let state: State = serde_json::from_str(&text).map_err(|e| {
                Error::Chain(format!("{}: unreadable chain state: {e}", path.display()))
            })?;
            if state.format != STATE_FORMAT {
                return Err(Error::Chain(format!(
                    "{}: chain state format {:?}, this build reads {STATE_FORMAT:?}",
                    path.display(),
                    state.format
                )));
            }
            state
        } else {
            State {
                format: STATE_FORMAT.into(),
                chain_id: CHAIN_ID,
                block: 0,
                timestamp: now(),
                db: CacheDB::new(EmptyDB::default()),
            }
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            state,
        })
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Chain id.
    pub fn chain_id(&self) -> u64 {
        self.state.chain_id
    }

    /// The latest block's timestamp.
    pub fn timestamp(&self) -> u64 {
        self.state.timestamp
    }

    fn save(&self) -> Result<()> {
        let text = serde_json::to_string(&self.state)
            .map_err(|e| Error::Chain(format!("serialising the chain state: {e}")))?;
        write_atomic(&self.dir.join("state.json"), &text)
    }

    fn nonce(&self, a: Address) -> u64 {
        self.state
            .db
            .cache
            .accounts
            .get(&a)
            .map_or(0, |acc| acc.info.nonce)
    }

    fn tx(&self, from: Address, kind: TxKind, data: Vec<u8>, nonce: u64) -> Result<TxEnv> {
        TxEnv::builder()
            .caller(from)
            .kind(kind)
            .data(data.into())
            .gas_limit(TX_GAS_LIMIT)
            .gas_price(0)
            .nonce(nonce)
            .chain_id(Some(self.state.chain_id))
            .build()
            .map_err(|e| Error::Chain(format!("building a transaction: {e:?}")))
    }

    /// Runs a transaction from `from` in a new block and keeps its effects.
    pub fn send(
        &mut self,
        from: Address,
        to: Option<Address>,
        data: Vec<u8>,
        what: &str,
    ) -> Result<Receipt> {
        let block = self.state.block + 1;
        let timestamp = (self.state.timestamp + 1).max(now());
        let kind = to.map_or(TxKind::Create, TxKind::Call);
        let tx = self.tx(from, kind, data, self.nonce(from))?;
        let chain_id = self.state.chain_id;
        let result = {
            let mut evm = Context::mainnet()
                .modify_cfg_chained(|c| c.chain_id = chain_id)
                .modify_block_chained(|b| {
                    b.number = U256::from(block);
                    b.timestamp = U256::from(timestamp);
                    b.basefee = 0;
                })
                .with_db(&mut self.state.db)
                .build_mainnet();
            evm.transact_commit(tx).map_err(|e| {
                Error::Chain(format!("{what}: the EVM refused the transaction: {e:?}"))
            })?
        };
        self.state.block = block;
        self.state.timestamp = timestamp;
        self.save()?;
        let tx_hash = keccak256([chain_id.to_be_bytes(), block.to_be_bytes()].concat());
        match result {
            ExecutionResult::Success {
                gas, logs, output, ..
            } => Ok(Receipt {
                tx_hash,
                block,
                gas_used: gas.tx_gas_used(),
                contract_address: match output {
                    Output::Create(_, a) => a,
                    Output::Call(_) => None,
                },
                logs: logs
                    .into_iter()
                    .map(|l| Log::new_unchecked(l.address, l.data.topics().to_vec(), l.data.data))
                    .collect(),
            }),
            failed => Err(failure(what, failed)),
        }
    }

    /// A read-only call against the latest state.
    pub fn call(&mut self, to: Address, data: Vec<u8>, what: &str) -> Result<Vec<u8>> {
        let caller = Address::ZERO;
        let tx = self.tx(caller, TxKind::Call(to), data, self.nonce(caller))?;
        let (chain_id, block, timestamp) =
            (self.state.chain_id, self.state.block, self.state.timestamp);
        let mut evm = Context::mainnet()
            .modify_cfg_chained(|c| c.chain_id = chain_id)
            .modify_block_chained(|b| {
                b.number = U256::from(block);
                b.timestamp = U256::from(timestamp);
                b.basefee = 0;
            })
            .with_db(&mut self.state.db)
            .build_mainnet();
        let out = evm
            .transact(tx)
            .map_err(|e| Error::Chain(format!("{what}: the EVM refused the call: {e:?}")))?;
        match out.result {
            ExecutionResult::Success { output, .. } => Ok(output.into_data().to_vec()),
            failed => Err(failure(what, failed)),
        }
    }

    /// Mines `blocks` empty blocks (at least one) and moves the clock `seconds` forward.
    pub fn advance(&mut self, blocks: u64, seconds: u64) -> Result<()> {
        self.state.block += blocks.max(1);
        self.state.timestamp += seconds;
        self.save()
    }

    /// The code deployed at `a` (empty for none).
    pub fn code(&self, a: Address) -> Vec<u8> {
        self.state
            .db
            .cache
            .accounts
            .get(&a)
            .and_then(|acc| acc.info.code.as_ref())
            .map(|c| c.original_bytes().to_vec())
            .unwrap_or_default()
    }
}
