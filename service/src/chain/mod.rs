//! The chains zkattr settles on, behind one type: the embedded chain (an in-process EVM whose state is kept
//! under `<home>/chain`, the default) or a node over JSON-RPC that the user names (`--rpc-url`, with a key).
//!
//! Everything above this module speaks calldata: [`Chain::send`] runs a transaction from a key and returns
//! its receipt, or the revert decoded against the project's contract ABIs ([`contracts::describe_revert`]);
//! [`Chain::call`] runs a read-only call.

pub mod contracts;
pub mod deploy;
pub mod embedded;
pub mod rpc;

use std::path::Path;

use alloy::{
    primitives::{Address, Log, B256},
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};

use crate::error::{Error, Result};

/// What a mined transaction did.
#[derive(Debug, Clone)]
pub struct Receipt {
    /// Transaction hash (the embedded chain numbers its transactions: the hash of block and index).
    pub tx_hash: B256,
    /// Block number.
    pub block: u64,
    /// Gas used by the whole transaction (base cost and calldata included).
    pub gas_used: u64,
    /// The created contract, for a deployment.
    pub contract_address: Option<Address>,
    /// Logs emitted.
    pub logs: Vec<Log>,
}

/// A chain to deploy on, settle on and claim from.
#[derive(Debug)]
pub enum Chain {
    /// The in-process EVM under `<home>/chain`.
    Embedded(embedded::EmbeddedChain),
    /// A node over JSON-RPC.
    Rpc(rpc::RpcChain),
}

impl Chain {
    /// The node at `rpc_url`, or the embedded chain of `home`.
    pub fn open(home: &Path, rpc_url: Option<&str>) -> Result<Self> {
        Ok(match rpc_url {
            Some(url) => Chain::Rpc(rpc::RpcChain::connect(url)?),
            None => Chain::Embedded(embedded::EmbeddedChain::open(&home.join("chain"))?),
        })
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        match self {
            Chain::Embedded(c) => c.chain_id(),
            Chain::Rpc(c) => c.chain_id(),
        }
    }

    /// A short name for messages and file names: `embedded` or `chain-<id>`.
    pub fn key(&self) -> String {
        match self {
            Chain::Embedded(_) => "embedded".into(),
            Chain::Rpc(c) => format!("chain-{}", c.chain_id()),
        }
    }

    /// Where it is, for people.
    pub fn describe(&self) -> String {
        match self {
            Chain::Embedded(c) => {
                format!("embedded chain {} (id {})", c.dir().display(), c.chain_id())
            }
            Chain::Rpc(c) => format!("{} (chain id {})", c.url(), c.chain_id()),
        }
    }

    /// Sends a transaction from `from` (a deployment when `to` is `None`); `what` names it in errors.
    pub fn send(
        &mut self,
        from: &PrivateKeySigner,
        to: Option<Address>,
        data: Vec<u8>,
        what: &str,
    ) -> Result<Receipt> {
        match self {
            Chain::Embedded(c) => c.send(from.address(), to, data, what),
            Chain::Rpc(c) => c.send(from, to, data, what),
        }
    }

    /// A read-only call.
    pub fn call(&mut self, to: Address, data: Vec<u8>, what: &str) -> Result<Vec<u8>> {
        match self {
            Chain::Embedded(c) => c.call(to, data, what),
            Chain::Rpc(c) => c.call(to, data, what),
        }
    }

    /// A typed read-only call.
    pub fn view<C: SolCall>(&mut self, to: Address, call: &C) -> Result<C::Return> {
        let out = self.call(to, call.abi_encode(), C::SIGNATURE)?;
        C::abi_decode_returns(&out).map_err(|e| {
            Error::Chain(format!(
                "{} at {to}: unreadable return data: {e}",
                C::SIGNATURE
            ))
        })
    }

    /// A typed transaction.
    pub fn transact<C: SolCall>(
        &mut self,
        from: &PrivateKeySigner,
        to: Address,
        call: &C,
        what: &str,
    ) -> Result<Receipt> {
        self.send(from, Some(to), call.abi_encode(), what)
    }

    /// Whether a contract is deployed at `a`.
    pub fn has_code(&mut self, a: Address) -> Result<bool> {
        match self {
            Chain::Embedded(c) => Ok(!c.code(a).is_empty()),
            Chain::Rpc(c) => c.has_code(a),
        }
    }

    /// The latest block's timestamp.
    pub fn timestamp(&mut self) -> Result<u64> {
        match self {
            Chain::Embedded(c) => Ok(c.timestamp()),
            Chain::Rpc(c) => c.timestamp(),
        }
    }

    /// Moves a development chain forward: `blocks` empty blocks (at least one, as anvil mines one to apply
    /// a time change) and `seconds` of time (the embedded chain, or a node that answers anvil's
    /// `anvil_mine` / `evm_increaseTime`).
    pub fn advance(&mut self, blocks: u64, seconds: u64) -> Result<()> {
        match self {
            Chain::Embedded(c) => c.advance(blocks, seconds),
            Chain::Rpc(c) => c.advance(blocks, seconds),
        }
    }

    /// Gives `to` `wei` of the chain's coin for gas (development chains only: the embedded chain charges no
    /// gas; anvil's `anvil_setBalance`).
    pub fn fund_gas(&mut self, to: Address, wei: u128) -> Result<()> {
        match self {
            Chain::Embedded(_) => Ok(()),
            Chain::Rpc(c) => c.set_balance(to, wei),
        }
    }
}

/// Reads a private key file: 32 bytes as hex (with or without `0x`, surrounding whitespace ignored).
pub fn read_key(path: &Path) -> Result<PrivateKeySigner> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse_key(text.trim()).map_err(|reason| Error::Chain(format!("{}: {reason}", path.display())))
}

/// Parses a hex private key.
pub fn parse_key(text: &str) -> std::result::Result<PrivateKeySigner, String> {
    let hex_text = text.strip_prefix("0x").unwrap_or(text);
    let bytes = hex::decode(hex_text).map_err(|_| "a private key is 64 hex digits".to_string())?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| "a private key is 32 bytes (64 hex digits)".to_string())?;
    PrivateKeySigner::from_bytes(&B256::from(bytes))
        .map_err(|e| format!("not a valid secp256k1 key: {e}"))
}
