//! Proving P Poseidon permutations: the dedicated gate (`zkattr_circuits::halo2::poseidon_gate`) against
//! halo2-base's Poseidon chip on its generic gate (each a one-element hash: one permutation). Same SRS kind
//! (insecure test setup), SHPLONK, Keccak transcript, CPU. `ZKATTR_POSEIDON_PERMS` sets P (default 1024).
#![allow(clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use zkattr_circuits::{
    field::Fr,
    halo2::{
        halo2_base::{
            gates::circuit::{builder::BaseCircuitBuilder, CircuitBuilderStage},
            halo2_proofs::plonk::{keygen_pk, keygen_vk},
        },
        merkle::poseidon_hasher,
        poseidon_gate::PermutationCircuit,
        prove::{insecure_test_srs, prove_circuit, MAX_ADVICE_COLUMNS},
    },
};

fn perms() -> usize {
    std::env::var("ZKATTR_POSEIDON_PERMS")
        .ok()
        .map_or(1024, |s| s.trim().parse().unwrap())
}

fn keygen_builder(k: u32) -> BaseCircuitBuilder<Fr> {
    BaseCircuitBuilder::from_stage(CircuitBuilderStage::Keygen)
        .use_k(k as usize)
        .use_lookup_bits(8)
        .use_instance_columns(1)
}

/// halo2-base's chip: P one-element hashes; returns the public outputs.
fn chip_assign(b: &mut BaseCircuitBuilder<Fr>, inputs: &[[Fr; 3]]) -> Vec<Fr> {
    let gate = b.range_chip().gate.clone();
    let ctx = b.main(0);
    let hasher = poseidon_hasher(ctx, &gate);
    let mut outs = Vec::new();
    for x in inputs {
        let v = ctx.load_witness(x[0]);
        outs.push(hasher.hash_fix_len_array(ctx, &gate, &[v]));
    }
    let public: Vec<Fr> = outs.iter().map(|c| *c.value()).collect();
    b.assigned_instances[0].extend(outs);
    public
}

fn bench(c: &mut Criterion) {
    let p = perms();
    let inputs: Vec<[Fr; 3]> = (0..p as u64)
        .map(|i| [Fr::from(i + 1), Fr::from(2 * i), Fr::from(3 * i)])
        .collect();
    let mut g = c.benchmark_group("poseidon/prove");
    g.sample_size(10);
    g.throughput(Throughput::Elements(p as u64));

    // The dedicated gate.
    let circuit = PermutationCircuit::new(&inputs);
    let k = circuit.k();
    let srs = insecure_test_srs(k);
    let vk = keygen_vk(&srs, &circuit).unwrap();
    let pk = keygen_pk(&srs, vk, &circuit).unwrap();
    let public = circuit.public();
    eprintln!(
        "gate: {p} permutations, k = {k}, {} advice cells per permutation (6 columns)",
        6 * zkattr_circuits::halo2::poseidon_gate::ROWS_PER_PERMUTATION
    );
    g.bench_function(BenchmarkId::new("dedicated-gate", p), |b| {
        b.iter(|| prove_circuit(&srs, &pk, circuit.clone(), &public).unwrap())
    });

    // halo2-base's chip.
    let mut probe = keygen_builder(20);
    chip_assign(&mut probe, &inputs);
    let st = probe.statistics();
    let cells: usize = st.gate.total_advice_per_phase.iter().sum();
    let mut k = 9;
    while cells.div_ceil((1 << k) - 9) > MAX_ADVICE_COLUMNS {
        k += 1;
    }
    eprintln!(
        "halo2-base chip: {p} permutations, k = {k}, {} advice cells per permutation",
        cells / p
    );
    let srs = insecure_test_srs(k);
    let mut kb = keygen_builder(k);
    chip_assign(&mut kb, &inputs);
    let params = kb.calculate_params(Some(9));
    let vk = keygen_vk(&srs, &kb).unwrap();
    let pk = keygen_pk(&srs, vk, &kb).unwrap();
    let breaks = kb.break_points();
    g.bench_function(BenchmarkId::new("halo2-base-chip", p), |b| {
        b.iter(|| {
            let mut pb = BaseCircuitBuilder::prover(params.clone(), breaks.clone());
            let public = chip_assign(&mut pb, &inputs);
            prove_circuit(&srs, &pk, pb, &public).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
