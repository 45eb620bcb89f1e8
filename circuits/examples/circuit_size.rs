//! Prints the attribution circuit's cell counts and chosen `k` for synthetic epochs of N items (dimension
//! 64, 32 contributor slots, lookup bits 16), for docs/circuit.md. Usage: `circuit_size [N…]`.
#![allow(clippy::unwrap_used)]

use zkattr_circuits::{
    halo2::{
        attribution::AttributionWitness,
        gated::GatedCircuit,
        prove::{choose_k, shape},
    },
    statement::synthetic_epoch,
};

fn main() {
    let ns: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap())
        .collect();
    let ns = if ns.is_empty() {
        vec![64, 256, 1024]
    } else {
        ns
    };
    println!("| N | advice cells | lookup cells | fixed | permutations | advice cells / item | gate rows | k |");
    println!("|---|---|---|---|---|---|---|---|");
    for n in ns {
        let (w, _) = AttributionWitness::honest(synthetic_epoch(n, 64, 32)).unwrap();
        let s = shape(&w, 16).unwrap();
        println!(
            "| {n} | {} | {} | {} | {} | {} | {} | {} |",
            s.advice_cells,
            s.lookup_cells,
            s.fixed_cells,
            s.permutations,
            s.advice_cells / n,
            GatedCircuit::gate_rows(s.permutations),
            choose_k(&s, 16)
        );
    }
}
