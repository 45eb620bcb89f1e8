//! A node over JSON-RPC (`--rpc-url`): transactions are signed locally with the key given and sent with
//! alloy; a transaction is first run as a call so that a revert is reported with its reason.

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, U256},
    providers::{Provider, ProviderBuilder},
    rpc::types::{BlockNumberOrTag, TransactionRequest},
    signers::local::PrivateKeySigner,
    transports::TransportError,
};

use super::{contracts::describe_revert, Receipt};
use crate::error::{Error, Result};

/// How long to wait for a transaction to be mined.
const RECEIPT_TIMEOUT_SECS: u64 = 300;

/// A node at a URL.
#[derive(Debug)]
pub struct RpcChain {
    url: reqwest_url::Url,
    chain_id: u64,
    rt: tokio::runtime::Runtime,
}

mod reqwest_url {
    pub use alloy::transports::http::reqwest::Url;
}

fn unreachable_node(url: &str, e: impl std::fmt::Display) -> Error {
    Error::Chain(format!("{url}: {e}"))
}

fn reverted(what: &str, e: &TransportError) -> Error {
    match e.as_error_resp().and_then(|r| r.as_revert_data()) {
        Some(data) => Error::Reverted {
            what: what.into(),
            reason: describe_revert(&data),
        },
        None => Error::Chain(format!("{what}: {e}")),
    }
}

impl RpcChain {
    /// Connects to `url` and reads its chain id.
    pub fn connect(url: &str) -> Result<Self> {
        let parsed: reqwest_url::Url = url
            .parse()
            .map_err(|e| Error::Chain(format!("--rpc-url {url:?}: {e}")))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Chain(format!("starting the RPC client: {e}")))?;
        let provider = ProviderBuilder::new().connect_http(parsed.clone());
        let chain_id = rt
            .block_on(provider.get_chain_id())
            .map_err(|e| unreachable_node(url, e))?;
        Ok(Self {
            url: parsed,
            chain_id,
            rt,
        })
    }

    /// The URL.
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// Chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// Signs with `from` and sends; waits for the receipt.
    pub fn send(
        &mut self,
        from: &PrivateKeySigner,
        to: Option<Address>,
        data: Vec<u8>,
        what: &str,
    ) -> Result<Receipt> {
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(from.clone()))
            .connect_http(self.url.clone());
        let tx = TransactionRequest::default().with_from(from.address());
        let tx = match to {
            Some(a) => tx.with_to(a).with_input(data),
            None => tx.with_deploy_code(data),
        };
        self.rt.block_on(async {
            provider
                .call(tx.clone())
                .await
                .map_err(|e| reverted(what, &e))?;
            let pending = provider
                .send_transaction(tx)
                .await
                .map_err(|e| reverted(what, &e))?;
            let receipt = pending
                .with_timeout(Some(std::time::Duration::from_secs(RECEIPT_TIMEOUT_SECS)))
                .get_receipt()
                .await
                .map_err(|e| Error::Chain(format!("{what}: waiting for the receipt: {e}")))?;
            if !receipt.status() {
                return Err(Error::Reverted {
                    what: what.into(),
                    reason: format!(
                        "transaction {} reverted when mined (it passed as a call just before)",
                        receipt.transaction_hash
                    ),
                });
            }
            Ok(Receipt {
                tx_hash: receipt.transaction_hash,
                block: receipt.block_number.unwrap_or_default(),
                gas_used: receipt.gas_used,
                contract_address: receipt.contract_address,
                logs: receipt
                    .inner
                    .logs()
                    .iter()
                    .map(|l| l.inner.clone())
                    .collect(),
            })
        })
    }

    /// A read-only call against the latest block.
    pub fn call(&mut self, to: Address, data: Vec<u8>, what: &str) -> Result<Vec<u8>> {
        let provider = ProviderBuilder::new().connect_http(self.url.clone());
        let tx = TransactionRequest::default().with_to(to).with_input(data);
        self.rt
            .block_on(async { provider.call(tx).await })
            .map(|b| b.to_vec())
            .map_err(|e| reverted(what, &e))
    }

    /// Whether a contract is deployed at `a`.
    pub fn has_code(&mut self, a: Address) -> Result<bool> {
        let provider = ProviderBuilder::new().connect_http(self.url.clone());
        let code = self
            .rt
            .block_on(async { provider.get_code_at(a).await })
            .map_err(|e| unreachable_node(self.url.as_str(), e))?;
        Ok(!code.is_empty())
    }

    /// The latest block's timestamp.
    pub fn timestamp(&mut self) -> Result<u64> {
        let provider = ProviderBuilder::new().connect_http(self.url.clone());
        let block = self
            .rt
            .block_on(async { provider.get_block_by_number(BlockNumberOrTag::Latest).await })
            .map_err(|e| unreachable_node(self.url.as_str(), e))?
            .ok_or_else(|| Error::Chain(format!("{}: no latest block", self.url)))?;
        Ok(block.header.timestamp)
    }

    /// anvil's `evm_increaseTime` and `anvil_mine`.
    pub fn advance(&mut self, blocks: u64, seconds: u64) -> Result<()> {
        let provider = ProviderBuilder::new().connect_http(self.url.clone());
        let url = self.url.to_string();
        self.rt.block_on(async {
            if seconds > 0 {
                provider
                    .raw_request::<_, serde_json::Value>("evm_increaseTime".into(), (seconds,))
                    .await
                    .map_err(|e| {
                        Error::Chain(format!(
                            "{url}: evm_increaseTime (a development node only): {e}"
                        ))
                    })?;
            }
            provider
                .raw_request::<_, serde_json::Value>(
                    "anvil_mine".into(),
                    (U256::from(blocks.max(1)), U256::ZERO),
                )
                .await
                .map_err(|e| {
                    Error::Chain(format!("{url}: anvil_mine (a development node only): {e}"))
                })?;
            Ok(())
        })
    }

    /// anvil's `anvil_setBalance`.
    pub fn set_balance(&mut self, to: Address, wei: u128) -> Result<()> {
        let provider = ProviderBuilder::new().connect_http(self.url.clone());
        let url = self.url.to_string();
        self.rt.block_on(async {
            provider
                .raw_request::<_, serde_json::Value>(
                    "anvil_setBalance".into(),
                    (to, U256::from(wei)),
                )
                .await
                .map_err(|e| {
                    Error::Chain(format!(
                        "{url}: anvil_setBalance (a development node only): {e}"
                    ))
                })?;
            Ok(())
        })
    }
}
