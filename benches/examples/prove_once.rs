//! One timed proof of a synthetic epoch of N items (dimension 64, 32 contributor slots, lookup bits 16) on
//! the insecure test SRS, phase by phase with the peak resident memory of each (Linux `VmHWM`, reset through
//! `/proc/self/clear_refs` before each phase), and the circuit's column counts. For sizes where criterion's ten
//! samples take too long; docs/performance.md records its output. Usage:
//! `cargo run --release -p zkattr-benches --example prove_once -- N`; with `--features profile`, halo2-axiom's
//! own phase timers go to stdout too (docs/circuit.md, "Where the proving time goes").
#![allow(clippy::unwrap_used)]

use zkattr_benches::phase;
use zkattr_circuits::{
    halo2::{
        attribution::AttributionWitness,
        prove::{choose_k, insecure_test_srs, keygen, prove, shape, verify},
    },
    statement::synthetic_epoch,
};

const LOOKUP_BITS: usize = 16;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().unwrap())
        .unwrap_or(4096);
    let (w, _) = AttributionWitness::honest(synthetic_epoch(n, 64, 32)).unwrap();
    let s = shape(&w, LOOKUP_BITS).unwrap();
    let k = choose_k(&s, LOOKUP_BITS);
    println!("N = {n}, k = {k}, {s:?}\n");
    println!("| phase | time | peak RSS |\n|---|---|---|");
    let srs = phase("test SRS", || insecure_test_srs(k));
    let keys = phase("keygen", || keygen(&srs, LOOKUP_BITS, &w).unwrap());
    let cs = keys.pk.get_vk().cs();
    println!(
        "\ncolumns after keygen: {} advice, {} fixed (selectors included), {} instance, {} with equality, \
         {} lookups, degree {}\n",
        cs.num_advice_columns(),
        cs.num_fixed_columns(),
        cs.num_instance_columns(),
        cs.permutation().get_columns().len(),
        cs.lookups().len(),
        cs.degree()
    );
    let (proof, public) = phase("prove", || prove(&srs, &keys, &w).unwrap());
    phase("verify", || {
        verify(&srs, keys.pk.get_vk(), &proof, &public).unwrap()
    });
    println!("\nproof {} bytes", proof.len());
}
