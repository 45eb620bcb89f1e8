//! Prints the attribution circuit's cell counts and chosen `k` for synthetic epochs of N items (dimension
//! 64, 32 contributor slots, lookup bits 16), for docs/circuit.md. Usage: `circuit_size [N…]`.
#![allow(clippy::unwrap_used)]

use zkattr_circuits::{
    field::Fr,
    halo2::{
        attribution::AttributionWitness,
        prove::{choose_k, shape},
    },
    params::GovernanceParams,
    statement::{EpochInput, StatementItem},
};

fn epoch(n: usize) -> EpochInput {
    let mut params = GovernanceParams::default();
    params.circuit.max_items = n.next_power_of_two().max(256) as u32;
    EpochInput {
        chain_id: 1,
        settlement: [0x42; 20],
        epoch: 1,
        params,
        items: (0..n)
            .map(|i| StatementItem {
                contributor: [1 + (i % 32) as u8; 20],
                content_hash: Fr::from(i as u64),
                features: (0..64)
                    .map(|j| ((i * 31 + j * 7) % 2000) as i64 - 1000)
                    .collect(),
            })
            .collect(),
        model_commitment: Fr::from(1u64),
        query_scale_log2: 0,
        query: (0..64).map(|j| (j as i64 * 13) % 500 - 250).collect(),
        pool: 1_000_000,
    }
}

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
    println!("| N | advice cells | lookup cells | fixed | advice cells / item | k |");
    println!("|---|---|---|---|---|---|");
    for n in ns {
        let (w, _) = AttributionWitness::honest(epoch(n)).unwrap();
        let s = shape(&w, 16).unwrap();
        println!(
            "| {n} | {} | {} | {} | {} | {} |",
            s.advice_cells,
            s.lookup_cells,
            s.fixed_cells,
            s.advice_cells / n,
            choose_k(&s, 16)
        );
    }
}
