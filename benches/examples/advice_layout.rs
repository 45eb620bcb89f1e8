//! The host-side steps of an attribution proof before any commitment, timed at full size, and the two ways
//! of laying out the advice columns checked against each other cell by cell:
//! - the witness build (halo2-base's builder running the statement, `attribution::assign`), and apart its
//!   parallel first step, the trees' permutations (`attribution::predicted_permutations`, timed alone);
//! - halo2's synthesis: `GatedCircuit::synthesize` through halo2-axiom's floor planner, one call per cell,
//!   into a plain collector that keeps the cells as a prover's witness collection does (`Vec<Assigned>`
//!   per column);
//! - the direct layout, `GatedCircuit::advice_columns` (parallel, what the provers now take).
//!
//! No keys are made: the break points come from running the keygen-stage builder through the same
//! collector. Usage: `cargo run --release -p zkattr-benches --example advice_layout -- N [N ...]`
//! (dimension 64, 32 slots, lookup bits 16, as `prove_once`). docs/gpu.md records its output.
#![allow(clippy::unwrap_used)]

use std::time::Instant;
use zkattr_circuits::halo2::halo2_base::{
    gates::circuit::{builder::BaseCircuitBuilder, CircuitBuilderStage},
    halo2_proofs::{
        circuit::Value,
        plonk::{
            Advice, Any, Assigned, Assignment, Challenge, Circuit, Column, ConstraintSystem, Error,
            Fixed, FloorPlanner, Instance, Selector,
        },
    },
};
use zkattr_circuits::{
    field::Fr,
    halo2::{
        attribution::{assign, predicted_permutations, AttributionWitness},
        gated::{GatedCircuit, GatedParams},
        prove::{choose_k, shape, UNUSABLE_ROWS},
    },
    statement::synthetic_epoch,
};

const LOOKUP_BITS: usize = 16;

/// Keeps the advice cells, ignores the rest (fixed cells, selectors, copies): the work of a prover's
/// witness collection without its commitments.
struct Collector {
    advice: Vec<Vec<Assigned<Fr>>>,
}

impl Assignment<Fr> for Collector {
    fn enter_region<NR: Into<String>, N: FnOnce() -> NR>(&mut self, _: N) {}
    fn annotate_column<A: FnOnce() -> AR, AR: Into<String>>(&mut self, _: A, _: Column<Any>) {}
    fn exit_region(&mut self) {}
    fn enable_selector<A: FnOnce() -> AR, AR: Into<String>>(
        &mut self,
        _: A,
        _: &Selector,
        _: usize,
    ) -> Result<(), Error> {
        Ok(())
    }
    fn query_instance(&self, _: Column<Instance>, _: usize) -> Result<Value<Fr>, Error> {
        Ok(Value::unknown())
    }
    fn assign_advice<'v>(
        &mut self,
        column: Column<Advice>,
        row: usize,
        to: Value<Assigned<Fr>>,
    ) -> Value<&'v Assigned<Fr>> {
        let cell = &mut self.advice[column.index()][row];
        to.map(|v| *cell = v);
        Value::unknown()
    }
    fn assign_fixed(&mut self, _: Column<Fixed>, _: usize, _: Assigned<Fr>) {}
    fn copy(&mut self, _: Column<Any>, _: usize, _: Column<Any>, _: usize) {}
    fn fill_from_row(
        &mut self,
        _: Column<Fixed>,
        _: usize,
        _: Value<Assigned<Fr>>,
    ) -> Result<(), Error> {
        Ok(())
    }
    fn get_challenge(&self, _: Challenge) -> Value<Fr> {
        Value::unknown()
    }
    fn push_namespace<NR: Into<String>, N: FnOnce() -> NR>(&mut self, _: N) {}
    fn pop_namespace(&mut self, _: Option<String>) {}
}

/// Runs `circuit`'s synthesis through its floor planner into a collector.
fn synthesize(circuit: &GatedCircuit) -> Vec<Vec<Assigned<Fr>>> {
    let mut cs = ConstraintSystem::<Fr>::default();
    let config = GatedCircuit::configure_with_params(&mut cs, circuit.params.clone());
    let n = 1usize << circuit.params.base.k;
    let mut collector = Collector {
        advice: vec![vec![Assigned::Zero; n]; cs.num_advice_columns()],
    };
    let constants = cs.constants().clone();
    <GatedCircuit as Circuit<Fr>>::FloorPlanner::synthesize(
        &mut collector,
        circuit,
        config,
        constants,
    )
    .unwrap();
    collector.advice
}

fn seconds(t: Instant) -> String {
    format!("{:.3} s", t.elapsed().as_secs_f64())
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap())
        .collect();
    println!(
        "{} cores\n\n| N | k | witness build | of which the predicted permutations | halo2 synthesis (layouter) | direct layout | cells compared |\n|---|---|---|---|---|---|---|",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    for n in if sizes.is_empty() { vec![4096] } else { sizes } {
        let (w, _) = AttributionWitness::honest(synthetic_epoch(n, 64, 32)).unwrap();
        let k = choose_k(&shape(&w, LOOKUP_BITS).unwrap(), LOOKUP_BITS);
        let builder = |stage| {
            BaseCircuitBuilder::from_stage(stage)
                .use_k(k as usize)
                .use_lookup_bits(LOOKUP_BITS)
                .use_instance_columns(1)
        };
        // Break points: the keygen-stage builder through the floor planner.
        let mut b = builder(CircuitBuilderStage::Keygen);
        let (_, poseidon) = assign(&mut b, &w).unwrap();
        let base = b.calculate_params(Some(UNUSABLE_ROWS));
        let params = GatedParams {
            base,
            permutations: poseidon.requests.len(),
        };
        let keygen_circuit = GatedCircuit {
            builder: b,
            poseidon,
            params: params.clone(),
        };
        synthesize(&keygen_circuit);
        let break_points = keygen_circuit.builder.break_points();
        drop(keygen_circuit);

        let t = Instant::now();
        drop(predicted_permutations(&w));
        let memo = seconds(t);
        let t = Instant::now();
        let mut b = BaseCircuitBuilder::prover(params.base.clone(), break_points);
        let (_, poseidon) = assign(&mut b, &w).unwrap();
        let circuit = GatedCircuit {
            builder: b,
            poseidon,
            params,
        };
        let build = seconds(t);
        let t = Instant::now();
        let synthesized = synthesize(&circuit);
        let synthesis = seconds(t);
        let t = Instant::now();
        let direct = circuit.advice_columns().unwrap();
        let layout = seconds(t);
        let usable = (1usize << k) - UNUSABLE_ROWS;
        let mut compared = 0usize;
        for (i, (a, b)) in synthesized.iter().zip(&direct).enumerate() {
            for row in 0..usable {
                assert_eq!(a[row].evaluate(), b[row], "column {i}, row {row}");
            }
            compared += usable;
        }
        assert_eq!(synthesized.len(), direct.len());
        println!("| {n} | {k} | {build} | {memo} | {synthesis} | {layout} | {compared} |");
    }
}
