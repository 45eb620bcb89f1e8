//! The EVM verifier of the attribution circuit for synthetic epochs of N items (dimension 64, 32 contributor
//! slots, lookup bits 16), on the insecure test SRS: generates, compiles (the project's solc, installed by
//! scripts/setup-contracts.sh) and deploys it in revm, then verifies a real proof and prints the bytecode size and
//! the gas, for docs/circuit.md. Usage: `evm_gas [N…]`.
#![allow(clippy::unwrap_used)]

use zkattr_circuits::{
    halo2::{
        attribution::AttributionWitness,
        evm::{self, DeployedVerifier, VERIFIER_CONTRACT},
        prove::{choose_k, insecure_test_srs, keygen, prove, shape},
    },
    statement::synthetic_epoch,
};

const LOOKUP_BITS: usize = 16;

fn main() {
    let ns: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap())
        .collect();
    let ns = if ns.is_empty() { vec![64, 256] } else { ns };
    println!("| N | k | halo2-base advice columns | runtime bytecode | verification gas |");
    println!("|---|---|---|---|---|");
    for n in ns {
        let (w, _) = AttributionWitness::honest(synthetic_epoch(n, 64, 32)).unwrap();
        let k = choose_k(&shape(&w, LOOKUP_BITS).unwrap(), LOOKUP_BITS);
        let srs = insecure_test_srs(k);
        let keys = keygen(&srs, LOOKUP_BITS, &w).unwrap();
        let source = evm::verifier_solidity(&srs, keys.pk.get_vk());
        let creation =
            evm::compile_solidity(&evm::default_solc(), &source, VERIFIER_CONTRACT).unwrap();
        let (proof, public) = prove(&srs, &keys, &w).unwrap();
        let mut verifier = DeployedVerifier::deploy(creation).unwrap();
        let gas = verifier.verify(&public, &proof).unwrap();
        println!(
            "| {n} | {k} | {} | {} B | {gas} |",
            keys.params.base.num_advice_per_phase[0], verifier.runtime_bytes
        );
    }
}
