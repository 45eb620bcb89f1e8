//! EVM verification of attribution proofs: the Solidity verifier generated from a verifying key, its
//! compilation with the project's pinned compiler, and the calldata it takes.
//!
//! - The verifier is snark-verifier's SHPLONK verifier for our verifying key, written as one Solidity contract
//!   with the key and the SRS's `[1]_1, [1]_2, [s]_2` baked in. Generation is deterministic: the same SRS and
//!   circuit shape give the same bytes, so the committed file can be checked for drift.
//! - The contract has no function selector: calldata is the public inputs, 32 bytes big-endian each in
//!   statement order, followed by the proof bytes ([`calldata`]). It returns nothing on success and reverts
//!   otherwise.
//! - snark-verifier pins `pragma solidity 0.8.19`; the project compiles every contract with one compiler
//!   ([`SOLC_VERSION`], which OpenZeppelin 5 needs), so [`verifier_solidity`] relaxes the pragma to
//!   `^0.8.19`. Compilation goes through `verifier-contracts/bin/solc` (the npm `solc` package behind a
//!   native-style `--standard-json` interface) for EVM version [`EVM_VERSION`], with the optimizer off (the
//!   generated assembly is already hand-scheduled; with the optimizer on, solc stops with "stack too deep").

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    rc::Rc,
};

use halo2_base::halo2_proofs::{
    halo2curves::bn256::{Bn256, Fq, G1Affine},
    plonk::VerifyingKey,
    poly::{commitment::ParamsProver, kzg::commitment::ParamsKZG},
};
use snark_verifier_sdk::{
    snark_verifier::{
        loader::evm::EvmLoader,
        system::halo2::{compile, transcript::evm::EvmTranscript, Config},
        verifier::SnarkVerifier,
    },
    PlonkVerifier, SHPLONK,
};

use crate::{
    error::{Error, Result},
    field::{self, Fr},
    statement::PublicInputs,
};

/// The compiler version the project pins (verifier-contracts/package.json).
pub const SOLC_VERSION: &str = "0.8.37";

/// The EVM version every contract is compiled for (also verifier-contracts/foundry.toml).
pub const EVM_VERSION: &str = "prague";

/// The pragma snark-verifier writes, and the one [`verifier_solidity`] writes instead.
const GENERATED_PRAGMA: (&str, &str) = ("pragma solidity 0.8.19;", "pragma solidity ^0.8.19;");

/// EIP-170: the largest deployed contract.
pub const MAX_CODE_SIZE: usize = 24_576;

/// Solidity source of the verifier for `vk` (one instance column of [`PublicInputs::LEN`] values).
pub fn verifier_solidity(srs: &ParamsKZG<Bn256>, vk: &VerifyingKey<G1Affine>) -> String {
    let num_instance = vec![PublicInputs::LEN];
    let protocol = compile(
        srs,
        vk,
        Config::kzg().with_num_instance(num_instance.clone()),
    );
    let dk = (srs.get_g()[0], srs.g2(), srs.s_g2()).into();
    let loader = EvmLoader::new::<Fq, Fr>();
    let protocol = protocol.loaded(&loader);
    let mut transcript = EvmTranscript::<_, Rc<EvmLoader>, _, _>::new(&loader);
    let instances = transcript.load_instances(num_instance);
    // Both steps only emit code into the loader; neither can fail for a well-formed protocol.
    let proof = PlonkVerifier::<SHPLONK>::read_proof(&dk, &protocol, &instances, &mut transcript)
        .expect("reading the proof symbolically");
    PlonkVerifier::<SHPLONK>::verify(&dk, &protocol, &instances, &proof)
        .expect("verifying symbolically");
    let code = loader.solidity_code();
    assert!(
        code.contains(GENERATED_PRAGMA.0),
        "snark-verifier no longer writes `{}`",
        GENERATED_PRAGMA.0
    );
    code.replacen(GENERATED_PRAGMA.0, GENERATED_PRAGMA.1, 1)
}

/// Calldata for the generated verifier: `public` as 32-byte big-endian words, then `proof`.
pub fn calldata(public: &[Fr], proof: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(public.len() * 32 + proof.len());
    for v in public {
        out.extend(field::to_bytes_be(v));
    }
    out.extend_from_slice(proof);
    out
}

/// The project's compiler wrapper: `$ZKATTR_SOLC` when set, else `verifier-contracts/bin/solc` in this
/// source tree.
pub fn default_solc() -> PathBuf {
    std::env::var_os("ZKATTR_SOLC").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../verifier-contracts/bin/solc"),
        PathBuf::from,
    )
}

fn solc_error(solc: &Path, reason: impl Into<String>) -> Error {
    Error::Solc {
        compiler: solc.display().to_string(),
        reason: reason.into(),
    }
}

/// Compiles `source` (one file holding contract `contract`) with `solc` in Standard JSON mode and returns
/// the deployment (creation) bytecode. Compiler errors are returned with their messages; a missing compiler
/// says how to install it.
pub fn compile_solidity(solc: &Path, source: &str, contract: &str) -> Result<Vec<u8>> {
    let input = serde_json::json!({
        "language": "Solidity",
        "sources": { "Verifier.sol": { "content": source } },
        "settings": {
            "optimizer": { "enabled": false },
            "evmVersion": EVM_VERSION,
            "outputSelection": { "Verifier.sol": { contract: ["evm.bytecode.object"] } }
        }
    });
    let mut child = Command::new(solc)
        .arg("--standard-json")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            solc_error(
                solc,
                format!("cannot start it ({e}); install it with `scripts/setup-contracts.sh`"),
            )
        })?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(input.to_string().as_bytes())
        .map_err(|e| solc_error(solc, format!("writing its input: {e}")))?;
    let out = child
        .wait_with_output()
        .map_err(|e| solc_error(solc, e.to_string()))?;
    if !out.status.success() {
        return Err(solc_error(
            solc,
            format!(
                "exited with {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| solc_error(solc, format!("unreadable output: {e}")))?;
    let errors: Vec<String> = json["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["severity"] == "error")
        .map(|e| {
            e["formattedMessage"]
                .as_str()
                .unwrap_or("(no message)")
                .to_string()
        })
        .collect();
    if !errors.is_empty() {
        return Err(solc_error(solc, errors.join("\n")));
    }
    let hex_code = json["contracts"]["Verifier.sol"][contract]["evm"]["bytecode"]["object"]
        .as_str()
        .ok_or_else(|| solc_error(solc, format!("no bytecode for contract {contract}")))?;
    hex::decode(hex_code).map_err(|e| solc_error(solc, format!("bytecode is not hex: {e}")))
}

/// The name of the contract [`verifier_solidity`] writes.
pub const VERIFIER_CONTRACT: &str = "Halo2Verifier";

/// A verifier deployed in an in-process EVM (revm, mainnet rules, empty state).
#[derive(Debug)]
pub struct DeployedVerifier {
    db: revm::database::CacheDB<revm::database::EmptyDB>,
    address: revm::primitives::Address,
    /// Size of the deployed (runtime) code.
    pub runtime_bytes: usize,
}

/// What a call to a deployed verifier did: the gas of the whole transaction (base cost and calldata
/// included) on success, or the revert or halt.
pub type CallResult = std::result::Result<u64, String>;

fn transact(
    db: &mut revm::database::CacheDB<revm::database::EmptyDB>,
    kind: revm::primitives::TxKind,
    data: Vec<u8>,
) -> std::result::Result<(u64, revm::context_interface::result::Output), String> {
    use revm::{
        context::TxEnv, context_interface::result::ExecutionResult, Context, ExecuteCommitEvm,
        MainBuilder, MainContext,
    };
    let mut evm = Context::mainnet()
        .modify_cfg_chained(|cfg| cfg.disable_nonce_check = true)
        .with_db(&mut *db)
        .build_mainnet();
    let tx = TxEnv::builder()
        .caller(revm::primitives::Address::repeat_byte(0xca))
        .kind(kind)
        .data(data.into())
        .gas_limit(16_000_000)
        .build()
        .map_err(|e| format!("{e:?}"))?;
    match evm.transact_commit(tx).map_err(|e| format!("{e:?}"))? {
        ExecutionResult::Success { gas, output, .. } => Ok((gas.tx_gas_used(), output)),
        ExecutionResult::Revert { output, .. } => {
            Err(format!("reverted (0x{})", hex::encode(output)))
        }
        ExecutionResult::Halt { reason, .. } => Err(format!("halted: {reason:?}")),
    }
}

impl DeployedVerifier {
    /// Deploys `creation` (from [`compile_solidity`]). Fails when the EVM refuses it, for instance a
    /// runtime over the EIP-170 limit.
    pub fn deploy(creation: Vec<u8>) -> Result<Self> {
        let mut db = revm::database::CacheDB::new(revm::database::EmptyDB::default());
        let bad =
            |reason: String| Error::InvalidStatement(format!("deploying the verifier: {reason}"));
        let (_, out) =
            transact(&mut db, revm::primitives::TxKind::Create, creation).map_err(bad)?;
        let revm::context_interface::result::Output::Create(_, Some(address)) = out else {
            return Err(bad("no contract was created".into()));
        };
        let runtime_bytes = db.cache.accounts[&address]
            .info
            .code
            .as_ref()
            .map_or(0, |c| c.original_bytes().len());
        Ok(Self {
            db,
            address,
            runtime_bytes,
        })
    }

    /// Calls the verifier with `public` and `proof` (each call an independent transaction).
    pub fn verify(&mut self, public: &[Fr], proof: &[u8]) -> CallResult {
        transact(
            &mut self.db,
            revm::primitives::TxKind::Call(self.address),
            calldata(public, proof),
        )
        .map(|(gas, _)| gas)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calldata_is_big_endian_words_then_proof() {
        let data = calldata(&[Fr::from(1u64), Fr::from(0x0102u64)], &[9, 8]);
        assert_eq!(data.len(), 66);
        assert_eq!(data[31], 1);
        assert_eq!(&data[62..64], &[1, 2]);
        assert_eq!(&data[64..], &[9, 8]);
    }
}
