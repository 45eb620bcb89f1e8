//! Measures the aggregation layer that the 350k-gas target needs (docs/circuit.md, "EVM verifier"): one
//! attribution proof (made with the Poseidon transcript that an in-circuit verifier reads) is verified inside
//! snark-verifier-sdk's aggregation circuit, whose own SHPLONK proof (Keccak transcript) is what the EVM
//! checks. Prints each phase's time and peak memory, the aggregation circuit's columns, and the generated
//! verifier's size and gas in revm (the attribution proof's 12 public inputs are re-exposed after the
//! 12-limb KZG accumulator). Insecure test SRS.
//!
//! Usage: `aggregate [N] [K_AGG]`: N item positions of a synthetic epoch (default 16: the test shape of
//! `tests/evm.rs`, dimension 8, 4 slots; larger N: dimension 64, 32 slots), K_AGG the aggregation circuit's
//! `k` (default 21). Needs the `aggregation` feature:
//! `cargo run --release -p zkattr-benches --features aggregation --example aggregate`.
#![allow(clippy::unwrap_used)]

use zkattr_benches::phase;
use zkattr_circuits::halo2::snark_verifier_sdk::{
    evm::{gen_evm_proof_shplonk, gen_evm_verifier_sol_code},
    gen_pk,
    halo2::{
        aggregation::{AggregationCircuit, AggregationConfigParams, VerifierUniversality},
        gen_proof_shplonk,
    },
    snark_verifier::system::halo2::{compile, Config},
    CircuitExt, Snark, SHPLONK,
};
use zkattr_circuits::{
    halo2::{
        attribution::AttributionWitness,
        evm::{self, DeployedVerifier, MAX_CODE_SIZE, VERIFIER_CONTRACT},
        halo2_base::{gates::circuit::CircuitBuilderStage, halo2_proofs::poly::commitment::Params},
        prove::{choose_k, insecure_test_srs, keygen, prover_circuit, shape},
    },
    statement::synthetic_epoch,
};

fn arg(i: usize, default: usize) -> usize {
    std::env::args()
        .nth(i)
        .map_or(default, |s| s.parse().expect("a number"))
}

fn main() {
    let n = arg(1, 16);
    let k_agg = arg(2, 21) as u32;
    let (dim, slots, lookup_bits) = if n <= 16 { (8, 4, 10) } else { (64, 32, 16) };
    let items = if n <= 16 { 10 } else { n };
    let mut input = synthetic_epoch(items, dim, slots);
    input.params.circuit.max_items = n as u32;
    let (w, _) = AttributionWitness::honest(input).unwrap();
    let k = choose_k(&shape(&w, lookup_bits).unwrap(), lookup_bits);
    println!("N = {n}, inner k = {k}, aggregation k = {k_agg}\n");
    println!("| phase | time | peak RSS |\n|---|---|---|");
    let srs_agg = phase("test SRS", || insecure_test_srs(k_agg));
    let mut srs = srs_agg.clone();
    srs.downsize(k);
    let keys = phase("inner keygen", || keygen(&srs, lookup_bits, &w).unwrap());
    let snark = phase("inner proof (Poseidon transcript)", || {
        let (circuit, public) = prover_circuit(&keys, &w).unwrap();
        let protocol = compile(
            &srs,
            keys.pk.get_vk(),
            Config::kzg().with_num_instance(vec![public.len()]),
        );
        let proof = gen_proof_shplonk(&srs, &keys.pk, circuit, vec![public.clone()], None);
        Snark::new(protocol, vec![public], proof)
    });
    let params = AggregationConfigParams {
        degree: k_agg,
        lookup_bits: k_agg as usize - 1,
        ..Default::default()
    };
    let (pk, config, break_points) = phase("aggregation keygen", || {
        let mut c = AggregationCircuit::new::<SHPLONK>(
            CircuitBuilderStage::Keygen,
            params,
            &srs_agg,
            [snark.clone()],
            VerifierUniversality::None,
        );
        c.expose_previous_instances(false);
        let config = c.calculate_params(Some(9));
        let pk = gen_pk(&srs_agg, &c, None);
        (pk, config, c.break_points())
    });
    let (proof, instances) = phase("aggregation proof (Keccak transcript)", || {
        let mut c = AggregationCircuit::new::<SHPLONK>(
            CircuitBuilderStage::Prover,
            config,
            &srs_agg,
            [snark],
            VerifierUniversality::None,
        )
        .use_break_points(break_points);
        c.expose_previous_instances(false);
        let instances = c.instances();
        (
            gen_evm_proof_shplonk(&srs_agg, &pk, c, instances.clone()),
            instances,
        )
    });
    println!(
        "\naggregation circuit: {config:?}; proof {} bytes",
        proof.len()
    );
    let source = gen_evm_verifier_sol_code::<AggregationCircuit, SHPLONK>(
        &srs_agg,
        pk.get_vk(),
        vec![instances[0].len()],
    );
    let creation = evm::compile_solidity(&evm::default_solc(), &source, VERIFIER_CONTRACT).unwrap();
    let mut v = DeployedVerifier::deploy(creation).unwrap();
    let gas = v.verify(&instances[0], &proof).unwrap();
    let mut bad = proof.clone();
    bad[100] ^= 1;
    assert!(
        v.verify(&instances[0], &bad).is_err(),
        "a flipped byte passed"
    );
    println!(
        "verifier: runtime bytecode {} bytes (limit {MAX_CODE_SIZE}), {} public inputs, verification {gas} gas \
         (transaction total); a flipped proof byte reverts",
        v.runtime_bytes,
        instances[0].len()
    );
}
