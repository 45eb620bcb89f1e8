//! halo2-base's builder with Poseidon on the dedicated gate ([`super::poseidon_gate`]).
//!
//! Builder code hashes through [`GatedPoseidon`]: the sponge (state initialisation, absorption, padding) is
//! ordinary builder arithmetic, and each permutation is a request. The request's input cells are existing
//! builder cells, and its output is fresh builder witnesses: all three words, or only the one a hash's last
//! permutation outputs (the gate fixes the others, which nothing reads). [`GatedCircuit`] is the circuit:
//! - it configures the gate's columns first, then halo2-base's;
//! - its synthesis runs the builder, then lays every requested permutation out in the gate's region;
//! - it ties each permutation's input and output rows to the request's builder cells with copy
//!   constraints, so a witness whose outputs are not the permutation of its inputs is refused.
//!
//! [`GatedPoseidon::hash`] is the sponge of [`crate::poseidon::hash`] (halo2-base's fixed-length mode) and
//! [`GatedPoseidon::compress`] the trees' [`crate::poseidon::compress`], so hashes equal the native ones.

use halo2_base::{
    gates::{
        circuit::{builder::BaseCircuitBuilder, BaseCircuitParams, BaseConfig, MaybeRangeConfig},
        GateInstructions,
    },
    halo2_proofs::{
        circuit::{Layouter, SimpleFloorPlanner},
        plonk::{Advice, Assigned, Circuit, Column, ConstraintSystem, Error},
    },
    utils::halo2::constrain_virtual_equals_external,
    AssignedValue, Context, QuantumCell,
};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::poseidon_gate::{trace, PoseidonGateConfig, ROWS_PER_PERMUTATION};
use crate::{
    field::Fr,
    poseidon::{self, RATE, T},
};

/// One permutation requested by builder code.
#[derive(Debug, Clone)]
pub struct PermutationRequest {
    /// The input state cells.
    pub input: [AssignedValue<Fr>; T],
    /// The output state cells the builder code uses (a word nothing reads has no builder cell; the gate
    /// still fixes it).
    pub output: [Option<AssignedValue<Fr>>; T],
    /// The input the gate's region is laid out with: `None` for the input cells' values (what an honest
    /// prover does); a malicious prover's different choice otherwise, which the input copy constraints
    /// refuse.
    pub gate_input: Option<[Fr; T]>,
}

/// Collects permutation requests while builder code hashes.
#[derive(Debug, Clone, Default)]
pub struct GatedPoseidon {
    /// Requests in the order made.
    pub requests: Vec<PermutationRequest>,
    /// Constant cells shared by hashes ([`GatedPoseidon::constant`]).
    constants: std::collections::HashMap<[u8; 32], AssignedValue<Fr>>,
    /// Permutations computed ahead of the builder code.
    memo: PermutationMemo,
}

/// Permutations computed ahead of the builder code (in parallel, where the builder's single context has to
/// go one at a time), by input state. A cache of a pure function: a state it does not hold is permuted
/// when asked, so what it holds changes the builder's speed, never its cells.
#[derive(Clone, Default)]
pub struct PermutationMemo(std::collections::HashMap<[u8; 32 * T], [Fr; T]>);

impl std::fmt::Debug for PermutationMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PermutationMemo({} states)", self.0.len())
    }
}

impl PermutationMemo {
    /// The memo of `(input, output)` pairs, each output the permutation of its input (from
    /// [`crate::poseidon::compress_recording`]).
    pub fn new(pairs: impl IntoIterator<Item = ([Fr; T], [Fr; T])>) -> Self {
        Self(pairs.into_iter().map(|(i, o)| (Self::key(&i), o)).collect())
    }

    fn key(s: &[Fr; T]) -> [u8; 32 * T] {
        let mut k = [0u8; 32 * T];
        for (chunk, x) in k.chunks_mut(32).zip(s) {
            chunk.copy_from_slice(&x.to_bytes());
        }
        k
    }

    /// The permutation of `input`.
    pub fn permute(&self, input: [Fr; T]) -> [Fr; T] {
        self.0.get(&Self::key(&input)).copied().unwrap_or_else(|| {
            let mut s = input;
            poseidon::permute(&mut s);
            s
        })
    }

    /// Whether it holds the permutation of `input`.
    pub fn contains(&self, input: &[Fr; T]) -> bool {
        self.0.contains_key(&Self::key(input))
    }

    /// States held.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl GatedPoseidon {
    /// Requests permutations, answering them from `memo` where it holds them.
    pub fn with_memo(memo: PermutationMemo) -> Self {
        Self {
            memo,
            ..Self::default()
        }
    }

    /// Frees the memo (once the builder code is done).
    pub fn drop_memo(&mut self) {
        self.memo = PermutationMemo::default();
    }

    /// The permutation of `input`: three new witnesses, proven by the gate.
    pub fn permute(
        &mut self,
        ctx: &mut Context<Fr>,
        input: [AssignedValue<Fr>; T],
    ) -> [AssignedValue<Fr>; T] {
        let s = self.memo.permute(input.map(|c| *c.value()));
        self.permute_claiming(ctx, input, s)
    }

    /// Requests the permutation of `input` with `claimed` as its output (what a malicious prover does; the
    /// circuit is unsatisfiable unless `claimed` is the permutation of `input`).
    pub fn permute_claiming(
        &mut self,
        ctx: &mut Context<Fr>,
        input: [AssignedValue<Fr>; T],
        claimed: [Fr; T],
    ) -> [AssignedValue<Fr>; T] {
        let output = claimed.map(|v| ctx.load_witness(v));
        self.requests.push(PermutationRequest {
            input,
            output: output.map(Some),
            gate_input: None,
        });
        output
    }

    /// Word `word` of the permutation of `input` (one new witness; the other output words get no cell).
    pub fn permute_word(
        &mut self,
        ctx: &mut Context<Fr>,
        input: [AssignedValue<Fr>; T],
        word: usize,
    ) -> AssignedValue<Fr> {
        let s = self.memo.permute(input.map(|c| *c.value()));
        self.permute_word_claiming(ctx, input, word, s[word])
    }

    /// [`GatedPoseidon::permute_word`] with `claimed` as the word's value (what a malicious prover does;
    /// the circuit is unsatisfiable unless `claimed` is that word of the permutation of `input`).
    pub fn permute_word_claiming(
        &mut self,
        ctx: &mut Context<Fr>,
        input: [AssignedValue<Fr>; T],
        word: usize,
        claimed: Fr,
    ) -> AssignedValue<Fr> {
        let out = ctx.load_witness(claimed);
        let mut output = [None; T];
        output[word] = Some(out);
        self.requests.push(PermutationRequest {
            input,
            output,
            gate_input: None,
        });
        out
    }

    /// [`crate::poseidon::compress`]`(tag, index, inputs)`. The capacity word is a constant cell (shared
    /// between equal words), the first block's inputs go straight into the first permutation's input, a
    /// later block costs one addition per input, and the last permutation has one output cell.
    pub fn compress(
        &mut self,
        ctx: &mut Context<Fr>,
        gate: &impl GateInstructions<Fr>,
        tag: u64,
        index: u64,
        inputs: &[AssignedValue<Fr>],
    ) -> AssignedValue<Fr> {
        self.compress_with(ctx, gate, tag, index, inputs, |p, ctx, s| {
            p.permute_word(ctx, s, 1)
        })
    }

    /// [`GatedPoseidon::compress`] with `last` making the last permutation's request (the tests pass one
    /// that claims a wrong output, as a malicious prover would).
    pub fn compress_with(
        &mut self,
        ctx: &mut Context<Fr>,
        gate: &impl GateInstructions<Fr>,
        tag: u64,
        index: u64,
        inputs: &[AssignedValue<Fr>],
        last: impl FnOnce(&mut Self, &mut Context<Fr>, [AssignedValue<Fr>; T]) -> AssignedValue<Fr>,
    ) -> AssignedValue<Fr> {
        assert!(!inputs.is_empty(), "compress of an empty input");
        let capacity = self.constant(ctx, poseidon::capacity(tag, index, inputs.len()));
        let blocks: Vec<&[AssignedValue<Fr>]> = inputs.chunks(RATE).collect();
        let second = match blocks[0].get(1) {
            Some(v) => *v,
            None => ctx.load_zero(),
        };
        let mut s = [capacity, blocks[0][0], second];
        for block in &blocks[1..] {
            s = self.permute(ctx, s);
            for (j, v) in block.iter().enumerate() {
                s[1 + j] = gate.add(ctx, s[1 + j], *v);
            }
        }
        last(self, ctx, s)
    }

    /// `Poseidon(inputs)` in halo2-base's fixed-length sponge mode, equal to [`crate::poseidon::hash`].
    pub fn hash(
        &mut self,
        ctx: &mut Context<Fr>,
        gate: &impl GateInstructions<Fr>,
        inputs: &[AssignedValue<Fr>],
    ) -> AssignedValue<Fr> {
        self.hash_with(ctx, gate, inputs, Self::permute)
    }

    /// [`GatedPoseidon::hash`] with `permute` making each permutation request (the tests pass one that
    /// claims a wrong output, as a malicious prover would).
    pub fn hash_with(
        &mut self,
        ctx: &mut Context<Fr>,
        gate: &impl GateInstructions<Fr>,
        inputs: &[AssignedValue<Fr>],
        mut permute: impl FnMut(
            &mut Self,
            &mut Context<Fr>,
            [AssignedValue<Fr>; T],
        ) -> [AssignedValue<Fr>; T],
    ) -> AssignedValue<Fr> {
        let mut s = [
            ctx.load_constant(crate::field::from_u128(1u128 << 64)),
            ctx.load_constant(Fr::zero()),
            ctx.load_constant(Fr::zero()),
        ];
        let one = QuantumCell::Constant(Fr::one());
        for chunk in inputs.chunks(RATE) {
            for (j, v) in chunk.iter().enumerate() {
                s[1 + j] = gate.add(ctx, s[1 + j], *v);
            }
            if chunk.len() < RATE {
                s[1 + chunk.len()] = gate.add(ctx, s[1 + chunk.len()], one);
            }
            s = permute(self, ctx, s);
        }
        if inputs.len().is_multiple_of(RATE) {
            s[1] = gate.add(ctx, s[1], one);
            s = permute(self, ctx, s);
        }
        s[1]
    }

    /// A constant cell for `value`, loaded into `ctx` the first time and reused after (this
    /// `GatedPoseidon` serves one builder context).
    pub fn constant(&mut self, ctx: &mut Context<Fr>, value: Fr) -> AssignedValue<Fr> {
        *self
            .constants
            .entry(value.to_bytes())
            .or_insert_with(|| ctx.load_constant(value))
    }
}

/// Shape of a [`GatedCircuit`]: halo2-base's parameters and the number of permutations.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GatedParams {
    /// halo2-base's columns and `k`.
    pub base: BaseCircuitParams,
    /// Permutations laid out in the gate's region.
    pub permutations: usize,
}

/// halo2-base's builder plus the gate's region.
#[derive(Debug, Clone)]
pub struct GatedCircuit {
    /// The builder, after the statement has been assigned into it.
    pub builder: BaseCircuitBuilder<Fr>,
    /// The permutations the builder code requested.
    pub poseidon: GatedPoseidon,
    /// The shape.
    pub params: GatedParams,
}

impl GatedCircuit {
    /// Rows the gate's region needs.
    pub fn gate_rows(permutations: usize) -> usize {
        permutations * ROWS_PER_PERMUTATION
    }
}

impl Circuit<Fr> for GatedCircuit {
    type Config = (PoseidonGateConfig, BaseConfig<Fr>);
    type FloorPlanner = SimpleFloorPlanner;
    type Params = GatedParams;

    fn params(&self) -> GatedParams {
        self.params.clone()
    }

    fn without_witnesses(&self) -> Self {
        unimplemented!("keys are made from a builder in the keygen stage")
    }

    fn configure_with_params(meta: &mut ConstraintSystem<Fr>, params: GatedParams) -> Self::Config {
        // The gate first: halo2-base fixes its usable rows from the constraint system when it configures.
        let gate = PoseidonGateConfig::configure(meta);
        let base = BaseConfig::configure(meta, params.base);
        (gate, base)
    }

    fn configure(_: &mut ConstraintSystem<Fr>) -> Self::Config {
        unreachable!("GatedCircuit is configured with its parameters")
    }

    fn synthesize(
        &self,
        (gate, base): Self::Config,
        mut layouter: impl Layouter<Fr>,
    ) -> Result<(), Error> {
        self.builder
            .synthesize(base, layouter.namespace(|| "halo2-base"))?;
        let requests = &self.poseidon.requests;
        if requests.len() != self.params.permutations {
            return Err(Error::Synthesis);
        }
        let witness_gen_only = self.builder.witness_gen_only();
        layouter.assign_region(
            || "poseidon permutations",
            |mut region| {
                for (k, req) in requests.iter().enumerate() {
                    let t = trace(
                        req.gate_input.unwrap_or(req.input.map(|c| *c.value())),
                        None,
                    );
                    let (ins, outs) = gate.assign(&mut region, k * ROWS_PER_PERMUTATION, &t);
                    if !witness_gen_only {
                        let mut cm = self
                            .builder
                            .core()
                            .copy_manager
                            .lock()
                            .expect("copy manager lock");
                        for j in 0..T {
                            constrain_virtual_equals_external(
                                &mut region,
                                req.input[j],
                                ins[j],
                                &mut cm,
                            );
                            if let Some(out) = req.output[j] {
                                constrain_virtual_equals_external(
                                    &mut region,
                                    out,
                                    outs[j],
                                    &mut cm,
                                );
                            }
                        }
                    }
                }
                Ok(())
            },
        )
    }
}

impl GatedCircuit {
    /// The circuit's advice columns, laid out directly and in parallel: what halo2's `synthesize` assigns
    /// when it proves this circuit, cell for cell, without going through the layouter (one call per cell,
    /// on one thread). One vector of `2^k` values per advice column, in the constraint system's order; the
    /// rows halo2 blinds are zero. For [`zkattr_gpu_msm::ProverBackend::create_proof_from_advice`].
    ///
    /// The layout is the one [`GatedCircuit::synthesize`] makes through halo2-axiom's single-pass floor
    /// planner, which starts every region at row 0:
    /// - the gate's region: permutation `k` at rows `38 k ..`, state and helper cells per row, the output
    ///   state in the last row's state cells ([`PoseidonGateConfig::assign`]);
    /// - halo2-base's cells in order, thread after thread, down its first column until the keys' break
    ///   point, where the cell is written again at row 0 of the next column and the walk goes on there
    ///   (halo2-base's `assign_witnesses`);
    /// - the cells queued for range lookups, left to right over the lookup columns, then down.
    ///
    /// Only a builder made for proving (with the keys' break points) has this layout; one made for keygen
    /// or MockProver is refused, as is a builder whose cells do not fit the columns.
    pub fn advice_columns(&self) -> crate::Result<Vec<Vec<Fr>>> {
        let bad = |m: String| crate::Error::InvalidStatement(format!("advice layout: {m}"));
        if !self.builder.witness_gen_only() {
            return Err(bad(
                "the builder was made for keygen or MockProver, not for proving with the keys' break points"
                    .into(),
            ));
        }
        if self.poseidon.requests.len() != self.params.permutations {
            return Err(bad(format!(
                "{} permutations requested, the circuit has {}",
                self.poseidon.requests.len(),
                self.params.permutations
            )));
        }
        let mut cs = ConstraintSystem::<Fr>::default();
        let (gate, base) = Self::configure_with_params(&mut cs, self.params.clone());
        let n = 1usize << self.params.base.k;
        let usable = n - (cs.blinding_factors() + 1);
        let mut columns: Vec<Option<Vec<Fr>>> = vec![None; cs.num_advice_columns()];

        // The gate's region.
        if GatedCircuit::gate_rows(self.params.permutations) > usable {
            return Err(bad(format!(
                "{} permutations need more than the {usable} usable rows",
                self.params.permutations
            )));
        }
        let mut g: [Vec<Fr>; 2 * T] = std::array::from_fn(|_| zeros(n));
        {
            let [s0, s1, s2, h0, h1, h2] = &mut g;
            let r = ROWS_PER_PERMUTATION;
            s0.par_chunks_mut(r)
                .zip(s1.par_chunks_mut(r))
                .zip(s2.par_chunks_mut(r))
                .zip(h0.par_chunks_mut(r))
                .zip(h1.par_chunks_mut(r))
                .zip(h2.par_chunks_mut(r))
                .zip(self.poseidon.requests.par_iter())
                .for_each(|((((((s0, s1), s2), h0), h1), h2), req)| {
                    let t = trace(
                        req.gate_input.unwrap_or(req.input.map(|c| *c.value())),
                        None,
                    );
                    for (row, cells) in t.rows.iter().enumerate() {
                        s0[row] = cells[0];
                        s1[row] = cells[1];
                        s2[row] = cells[2];
                        h0[row] = cells[3];
                        h1[row] = cells[4];
                        h2[row] = cells[5];
                    }
                    let last = r - 1;
                    (s0[last], s1[last], s2[last]) = (t.output[0], t.output[1], t.output[2]);
                });
        }
        let gate_columns = gate.state.iter().chain(gate.helper.iter());
        for (column, values) in gate_columns.zip(g) {
            columns[column.index()] = Some(values);
        }

        // halo2-base's cells.
        let core = self.builder.core();
        if core
            .phase_manager
            .iter()
            .skip(1)
            .any(|m| m.total_advice() > 0)
        {
            return Err(bad("halo2-base cells in a later phase".into()));
        }
        let manager = &core.phase_manager[0];
        let break_points = manager
            .break_points
            .borrow()
            .clone()
            .ok_or_else(|| bad("the builder has no break points".into()))?;
        let cells: Vec<&Assigned<Fr>> = manager.threads.iter().flat_map(|c| &c.advice).collect();
        let basic: Vec<Column<Advice>> =
            base.gate().basic_gates[0].iter().map(|g| g.value).collect();
        if break_points.len() >= basic.len().max(1) && !cells.is_empty() {
            return Err(bad(format!(
                "{} break points for {} columns",
                break_points.len(),
                basic.len()
            )));
        }
        let mut start = 0; // the cell at row 0 of this column
        for (c, column) in basic.iter().enumerate() {
            let rows = match break_points.get(c) {
                Some(&b) => b + 1,
                None => cells.len().saturating_sub(start),
            };
            if start + rows > cells.len() || rows > usable {
                return Err(bad(format!(
                    "column {c} would hold cells {start}..{} of {} in {usable} usable rows",
                    start + rows,
                    cells.len()
                )));
            }
            let mut values = zeros(n);
            values[..rows]
                .par_iter_mut()
                .zip(cells[start..start + rows].par_iter())
                .for_each(|(v, a)| *v = a.evaluate());
            columns[column.index()] = Some(values);
            start = match break_points.get(c) {
                Some(&b) => start + b,
                None => cells.len(),
            };
        }
        if start < cells.len() {
            return Err(bad(format!(
                "{} halo2-base cells, {start} laid out in {} columns",
                cells.len(),
                basic.len()
            )));
        }

        // The range lookups' copies.
        let lookups = self.builder.lookup_manager()[0]
            .cells_to_lookup
            .lock()
            .map_err(|_| bad("the lookup queue's lock is poisoned".into()))?;
        let queued: Vec<Fr> = lookups
            .values()
            .flatten()
            .map(|[a]| a.value.evaluate())
            .collect();
        if self
            .builder
            .lookup_manager()
            .iter()
            .skip(1)
            .any(|m| m.total_rows() > 0)
        {
            return Err(bad("range lookups in a later phase".into()));
        }
        let lookup_columns: Vec<Column<Advice>> = match &base.base {
            MaybeRangeConfig::WithRange(r) if r.q_lookup.first().copied().flatten().is_none() => {
                r.lookup_advice.first().cloned().unwrap_or_default()
            }
            // One halo2-base column with its own lookup: the cells are looked up where they are.
            MaybeRangeConfig::WithRange(_) => vec![],
            MaybeRangeConfig::WithoutRange(_) if queued.is_empty() => vec![],
            MaybeRangeConfig::WithoutRange(_) => {
                return Err(bad(
                    "range lookups queued in a circuit without a lookup table".into(),
                ))
            }
        };
        if !lookup_columns.is_empty() {
            let width = lookup_columns.len();
            if queued.len().div_ceil(width) > usable {
                return Err(bad(format!(
                    "{} range lookups need more than {usable} rows of {width} columns",
                    queued.len()
                )));
            }
            for (i, column) in lookup_columns.iter().enumerate() {
                let mut values = zeros(n);
                for (row, v) in queued.iter().skip(i).step_by(width).enumerate() {
                    values[row] = *v;
                }
                columns[column.index()] = Some(values);
            }
        }

        columns
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                c.ok_or_else(|| {
                    bad(format!(
                        "advice column {i} is not the gate's nor halo2-base's"
                    ))
                })
            })
            .collect()
    }
}

/// A column of `n` zeros, written by every core (the first touch of its pages is most of the cost).
fn zeros(n: usize) -> Vec<Fr> {
    (0..n).into_par_iter().map(|_| Fr::zero()).collect()
}

/// Runs halo2's MockProver on a [`GatedCircuit`] of size `2^k` whose builder code is `assign` (lookup bits
/// 8; the cells `assign` returns are the one instance column). True when every constraint holds with
/// `public` as that column. For tests of builder code that hashes.
pub fn mock_satisfied(
    k: u32,
    public: Vec<Fr>,
    assign: impl FnOnce(&mut BaseCircuitBuilder<Fr>, &mut GatedPoseidon) -> Vec<AssignedValue<Fr>>,
) -> bool {
    let mut builder = BaseCircuitBuilder::<Fr>::new(false)
        .use_k(k as usize)
        .use_lookup_bits(8)
        .use_instance_columns(1);
    let mut poseidon = GatedPoseidon::default();
    let outs = assign(&mut builder, &mut poseidon);
    builder.assigned_instances[0].extend(outs);
    let base = builder.calculate_params(Some(9));
    let permutations = poseidon.requests.len();
    let circuit = GatedCircuit {
        builder,
        poseidon,
        params: GatedParams { base, permutations },
    };
    halo2_base::halo2_proofs::dev::MockProver::run(k, &circuit, vec![public])
        .expect("the circuit fits 2^k rows")
        .verify()
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::halo2::prove::{insecure_test_srs, prove_circuit, verify};
    use halo2_base::{
        gates::circuit::CircuitBuilderStage,
        halo2_proofs::{
            dev::MockProver,
            plonk::{keygen_pk, keygen_vk},
        },
    };

    const K: u32 = 10;

    /// Hashes of 1, 2 and 3 inputs (1, 2 and 2 permutations), the outputs public; with `claim = (k, j)`,
    /// permutation `k` claims a wrong output (word `j` + 1) and the rest follows from it.
    fn assign(
        b: &mut BaseCircuitBuilder<Fr>,
        claim: Option<(usize, usize)>,
    ) -> (GatedPoseidon, Vec<Fr>) {
        let gate = b.range_chip().gate.clone();
        let ctx = b.main(0);
        let mut p = GatedPoseidon::default();
        let xs: Vec<AssignedValue<Fr>> = (1..=3u64)
            .map(|i| ctx.load_witness(Fr::from(i * 11)))
            .collect();
        let mut outs = Vec::new();
        for len in 1..=3 {
            if let Some(bad) = claim {
                outs.push(hash_claiming(&mut p, ctx, &gate, &xs[..len], bad));
            } else {
                outs.push(p.hash(ctx, &gate, &xs[..len]));
            }
        }
        let public = outs.iter().map(|c| *c.value()).collect();
        b.assigned_instances[0].extend(outs);
        (p, public)
    }

    /// [`GatedPoseidon::hash`] with permutation `bad.0` (counted over all requests) claiming word `bad.1` of
    /// its output one higher.
    fn hash_claiming(
        p: &mut GatedPoseidon,
        ctx: &mut Context<Fr>,
        gate: &impl GateInstructions<Fr>,
        inputs: &[AssignedValue<Fr>],
        bad: (usize, usize),
    ) -> AssignedValue<Fr> {
        p.hash_with(ctx, gate, inputs, |p, ctx, s| {
            let mut v = s.map(|c| *c.value());
            poseidon::permute(&mut v);
            if p.requests.len() == bad.0 {
                v[bad.1] += Fr::one();
            }
            p.permute_claiming(ctx, s, v)
        })
    }

    fn circuit(
        stage: CircuitBuilderStage,
        claim: Option<(usize, usize)>,
    ) -> (GatedCircuit, Vec<Fr>) {
        let mut b = BaseCircuitBuilder::from_stage(stage)
            .use_k(K as usize)
            .use_lookup_bits(8)
            .use_instance_columns(1);
        let (p, public) = assign(&mut b, claim);
        let base = b.calculate_params(Some(9));
        let permutations = p.requests.len();
        (
            GatedCircuit {
                builder: b,
                poseidon: p,
                params: GatedParams { base, permutations },
            },
            public,
        )
    }

    /// A compression whose last permutation claims a wrong output, used consistently above it: node
    /// `(a, b)` claims its output one higher, a second node hashes the claimed value with `c`, and the
    /// public output is what the forged value implies. Only the copy of the claimed cell into the gate's
    /// output row can refuse it (checked: without that copy the forgery is accepted).
    #[test]
    fn a_compression_claiming_a_wrong_output_is_refused() {
        let (a, b, c) = (Fr::from(3u64), Fr::from(5u64), Fr::from(7u64));
        for forged in [false, true] {
            let first = poseidon::compress(2, 0, &[a, b]) + Fr::from(u64::from(forged));
            let public = poseidon::compress(2, 0, &[first, c]);
            let ok = mock_satisfied(K, vec![public], |builder, p| {
                let gate = builder.range_chip().gate.clone();
                let ctx = builder.main(0);
                let xs = ctx.assign_witnesses([a, b, c]);
                let h = p.compress_with(ctx, &gate, 2, 0, &xs[..2], |p, ctx, s| {
                    p.permute_word_claiming(ctx, s, 1, first)
                });
                vec![p.compress(ctx, &gate, 2, 0, &[h, xs[2]])]
            });
            assert_eq!(ok, !forged, "forged = {forged}");
        }
    }

    #[test]
    fn hashes_equal_the_native_ones_and_wrong_outputs_are_refused() {
        let (c, public) = circuit(CircuitBuilderStage::Mock, None);
        let xs: Vec<Fr> = (1..=3u64).map(|i| Fr::from(i * 11)).collect();
        let native: Vec<Fr> = (1..=3).map(|len| poseidon::hash(&xs[..len])).collect();
        assert_eq!(public, native);
        assert_eq!(c.poseidon.requests.len(), 5);
        MockProver::run(K, &c, vec![public.clone()])
            .unwrap()
            .assert_satisfied();
        // Each permutation, in turn, claiming a wrong output (its successors computed from it, the public
        // outputs those of the tampered computation) is refused by the copy constraints.
        for bad in 0..5 {
            let (c, public) = circuit(CircuitBuilderStage::Mock, Some((bad, 1)));
            assert_ne!(
                public, native,
                "permutation {bad}: the tamper changes nothing"
            );
            assert!(
                MockProver::run(K, &c, vec![public])
                    .unwrap()
                    .verify()
                    .is_err(),
                "permutation {bad}: accepted"
            );
        }
        // A wrong capacity word of a hash's last permutation leaves the hash as it is; the copy constraint
        // still refuses it.
        let (c, public) = circuit(CircuitBuilderStage::Mock, Some((0, 0)));
        assert_eq!(public, native);
        assert!(MockProver::run(K, &c, vec![public])
            .unwrap()
            .verify()
            .is_err());
    }

    /// The gate's region laid out with another input than the builder's cells (its output claimed
    /// consistently) is refused by the input copy constraints.
    #[test]
    fn a_permutation_of_another_input_is_refused() {
        let (c, public) = circuit(CircuitBuilderStage::Mock, None);
        let expected_input = c.poseidon.requests[1].input.map(|x| *x.value());
        let mut other = expected_input;
        other[2] += Fr::one();
        let mut out = other;
        poseidon::permute(&mut out);
        // The claimed output is the permutation of the other input: rebuild the builder with that claim.
        let mut b = BaseCircuitBuilder::from_stage(CircuitBuilderStage::Mock)
            .use_k(K as usize)
            .use_lookup_bits(8)
            .use_instance_columns(1);
        let gate = b.range_chip().gate.clone();
        let ctx = b.main(0);
        let mut p = GatedPoseidon::default();
        let xs: Vec<AssignedValue<Fr>> = (1..=3u64)
            .map(|i| ctx.load_witness(Fr::from(i * 11)))
            .collect();
        let h1 = p.hash(ctx, &gate, &xs[..1]);
        // The second hash (two inputs): its first permutation (request 1) claims `out`, the permutation of
        // `other`, and lays `other` out in the gate's region.
        let h2 = p.hash_with(ctx, &gate, &xs[..2], |p, ctx, s| {
            if p.requests.len() != 1 {
                return p.permute(ctx, s);
            }
            assert_eq!(s.map(|x| *x.value()), expected_input);
            let o = p.permute_claiming(ctx, s, out);
            p.requests.last_mut().unwrap().gate_input = Some(other);
            o
        });
        let h3 = p.hash(ctx, &gate, &xs[..3]);
        let public2: Vec<Fr> = [h1, h2, h3].iter().map(|c| *c.value()).collect();
        assert_eq!(public2[0], public[0]);
        assert_ne!(public2[1], public[1]);
        b.assigned_instances[0].extend([h1, h2, h3]);
        let base = b.calculate_params(Some(9));
        let c = GatedCircuit {
            builder: b,
            params: GatedParams {
                base,
                permutations: p.requests.len(),
            },
            poseidon: p,
        };
        assert!(MockProver::run(K, &c, vec![public2])
            .unwrap()
            .verify()
            .is_err());
    }

    #[test]
    fn a_real_proof_verifies() {
        let (kc, public) = circuit(CircuitBuilderStage::Keygen, None);
        let srs = insecure_test_srs(K);
        let vk = keygen_vk(&srs, &kc).unwrap();
        let pk = keygen_pk(&srs, vk, &kc).unwrap();
        let breaks = kc.builder.break_points();
        let mut b = BaseCircuitBuilder::prover(kc.params.base.clone(), breaks);
        let (p, public2) = assign(&mut b, None);
        assert_eq!(public, public2);
        let c = GatedCircuit {
            builder: b,
            poseidon: p,
            params: kc.params.clone(),
        };
        let proof = prove_circuit(&srs, &pk, c, &public).unwrap();
        verify(&srs, pk.get_vk(), &proof, &public).unwrap();
        let mut wrong = public.clone();
        wrong[2] += Fr::one();
        assert!(verify(&srs, pk.get_vk(), &proof, &wrong).is_err());
    }

    /// Every proving backend of this build and machine proves for the same verifying key. Whether seeded
    /// proofs are byte-identical is printed, not assumed: halo2-axiom 0.5.3 draws the vanishing argument's
    /// random polynomial from `thread_rng` whatever rng it is given, so even two seeded CPU proofs differ
    /// (measured here: they agree up to that commitment). Without a usable GPU the GPU half is skipped with
    /// the reason.
    #[test]
    fn every_backend_proves_for_the_same_verifying_key() {
        use crate::halo2::prove::prove_circuit_seeded;
        use rand_chacha::rand_core::SeedableRng;
        use zkattr_gpu_msm::{select, BackendChoice, BackendKind, CpuProver, CudaProver};
        let (kc, public) = circuit(CircuitBuilderStage::Keygen, None);
        let srs = insecure_test_srs(K);
        let vk = keygen_vk(&srs, &kc).unwrap();
        let pk = keygen_pk(&srs, vk, &kc).unwrap();
        let breaks = kc.builder.break_points();
        let make = || {
            let mut b = BaseCircuitBuilder::prover(kc.params.base.clone(), breaks.clone());
            let (p, _) = assign(&mut b, None);
            GatedCircuit {
                builder: b,
                poseidon: p,
                params: kc.params.clone(),
            }
        };
        let seeded = rand_chacha::ChaCha20Rng::seed_from_u64;
        let prove_cpu = |seed| {
            prove_circuit_seeded(&CpuProver, &srs, &pk, make(), &public, seeded(seed)).unwrap()
        };
        let cpu = prove_cpu(7);
        let again = prove_cpu(7);
        let same = cpu.iter().zip(&again).take_while(|(a, b)| a == b).count();
        println!(
            "two CPU proofs with seed 7: {} bytes, identical for the first {same}",
            cpu.len()
        );
        for proof in [&cpu, &again] {
            verify(&srs, pk.get_vk(), proof, &public).unwrap();
        }
        match select(BackendChoice::Cuda, 0) {
            Ok(s) if s.kind == BackendKind::Cuda => {
                let gpu = CudaProver::new(s.device.unwrap()).unwrap();
                let proof =
                    prove_circuit_seeded(&gpu, &srs, &pk, make(), &public, seeded(7)).unwrap();
                verify(&srs, pk.get_vk(), &proof, &public).unwrap();
                let same = proof.iter().zip(&cpu).take_while(|(a, b)| a == b).count();
                println!(
                    "GPU proof with seed 7: {} bytes, identical to the CPU's for the first {same}",
                    proof.len()
                );
                // From the directly laid-out advice columns: it verifies, and its advice commitments are the
                // synthesised proof's.
                let direct = crate::halo2::prove::prove_gated_seeded(
                    &gpu,
                    &srs,
                    &pk,
                    make(),
                    &public,
                    seeded(7),
                )
                .unwrap();
                verify(&srs, pk.get_vk(), &direct, &public).unwrap();
                let same = direct
                    .iter()
                    .zip(&proof)
                    .take_while(|(a, b)| a == b)
                    .count();
                println!(
                    "GPU proof from the advice columns, seed 7: identical for the first {same}"
                );
                assert!(same >= 64 * pk.get_vk().cs().num_advice_columns());
                // The prover keeps the SRS it converted (and its device copy): a second proof reuses it,
                // another SRS of the same size replaces it, and the first one again replaces that.
                let other = halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG::<
                    halo2_base::halo2_proofs::halo2curves::bn256::Bn256,
                >::setup(K, seeded(99));
                let other_pk = keygen_pk(&other, keygen_vk(&other, &kc).unwrap(), &kc).unwrap();
                for (srs, pk) in [(&srs, &pk), (&other, &other_pk), (&srs, &pk)] {
                    let proof =
                        prove_circuit_seeded(&gpu, srs, pk, make(), &public, seeded(8)).unwrap();
                    verify(srs, pk.get_vk(), &proof, &public).unwrap();
                }
            }
            other => {
                let reason = other.map_or_else(|e| e.to_string(), |s| s.reason);
                // scripts/gpu-figures.sh sets it: on a GPU machine this test must not pass by skipping.
                assert!(
                    std::env::var_os("ZKATTR_REQUIRE_GPU").is_none(),
                    "ZKATTR_REQUIRE_GPU is set, but the GPU prover cannot be checked: {reason}"
                );
                println!("GPU prover not checked: {reason}");
            }
        }
    }

    /// [`assign`] plus additions enough for a second halo2-base column (a break point) and range checks
    /// (cells copied to the lookup column): every part of the advice layout.
    fn assign_wide(b: &mut BaseCircuitBuilder<Fr>) -> (GatedPoseidon, Vec<Fr>) {
        use halo2_base::gates::RangeInstructions;
        let (p, public) = assign(b, None);
        let range = b.range_chip();
        let ctx = b.main(0);
        let mut x = ctx.load_witness(Fr::from(5u64));
        // is_zero of 0 and of 5: an inverse witness `Assigned` divides by 0 for the first.
        let zero = ctx.load_zero();
        range.gate.is_zero(ctx, zero);
        range.gate.is_zero(ctx, x);
        for i in 0..300u64 {
            x = range
                .gate
                .add(ctx, x, QuantumCell::Constant(Fr::from(i + 1)));
            if i % 30 == 0 {
                range.range_check(ctx, x, 20);
            }
        }
        (p, public)
    }

    /// Keys for the wide circuit and a maker of its prover circuits.
    fn wide_keys() -> (
        GatedCircuit,
        halo2_base::halo2_proofs::plonk::ProvingKey<
            halo2_base::halo2_proofs::halo2curves::bn256::G1Affine,
        >,
        Vec<Fr>,
    ) {
        let mut b = BaseCircuitBuilder::from_stage(CircuitBuilderStage::Keygen)
            .use_k(K as usize)
            .use_lookup_bits(8)
            .use_instance_columns(1);
        let (p, public) = assign_wide(&mut b);
        let base = b.calculate_params(Some(9));
        let kc = GatedCircuit {
            builder: b,
            params: GatedParams {
                base,
                permutations: p.requests.len(),
            },
            poseidon: p,
        };
        let srs = insecure_test_srs(K);
        let pk = keygen_pk(&srs, keygen_vk(&srs, &kc).unwrap(), &kc).unwrap();
        (kc, pk, public)
    }

    fn wide_prover(kc: &GatedCircuit) -> GatedCircuit {
        let mut b = BaseCircuitBuilder::prover(kc.params.base.clone(), kc.builder.break_points());
        let (p, _) = assign_wide(&mut b);
        GatedCircuit {
            builder: b,
            poseidon: p,
            params: kc.params.clone(),
        }
    }

    /// The directly laid-out advice columns are, cell for cell, what halo2's synthesis assigns (halo2-axiom's
    /// `synthesize_witness`), in a circuit with the gate's region, two halo2-base columns with a break
    /// point between them and a lookup column. (Checked to fail: with the break point's cell not repeated
    /// at the top of the next column, and with the gate's output row left out.)
    #[test]
    fn advice_columns_are_what_synthesis_assigns() {
        use halo2_base::halo2_proofs::{
            halo2curves::bn256::{Bn256, G1Affine},
            plonk::synthesize_witness,
            poly::kzg::{commitment::KZGCommitmentScheme, multiopen::ProverSHPLONK},
            transcript::{Blake2bWrite, Challenge255, TranscriptWriterBuffer},
        };
        use rand_chacha::rand_core::SeedableRng;
        let (kc, pk, public) = wide_keys();
        assert_eq!(kc.params.base.num_advice_per_phase, vec![2]);
        assert_eq!(kc.params.base.num_lookup_advice_per_phase[0], 1);
        assert_eq!(kc.builder.break_points()[0].len(), 1, "one break point");
        let err = kc.advice_columns().unwrap_err().to_string();
        assert!(err.contains("keygen"), "{err}");

        let columns = wide_prover(&kc).advice_columns().unwrap();
        let srs = insecure_test_srs(K);
        let mut transcript = Blake2bWrite::<_, G1Affine, Challenge255<_>>::init(vec![]);
        let (_, advice, _) =
            synthesize_witness::<KZGCommitmentScheme<Bn256>, ProverSHPLONK<'_, Bn256>, _, _, _, _>(
                &srs,
                &pk,
                &[wide_prover(&kc)],
                &[&[&public]],
                rand_chacha::ChaCha20Rng::seed_from_u64(1),
                &mut transcript,
            )
            .unwrap();
        let synthesized = &advice[0].advice_values;
        let cs = pk.get_vk().cs();
        let usable = (1usize << K) - (cs.blinding_factors() + 1);
        assert_eq!(columns.len(), cs.num_advice_columns());
        assert_eq!(synthesized.len(), columns.len());
        for (i, (mine, theirs)) in columns.iter().zip(synthesized).enumerate() {
            assert_eq!(mine.len(), 1 << K, "column {i}");
            assert!(mine.iter().any(|v| *v != Fr::zero()), "column {i} is empty");
            for row in 0..usable {
                assert_eq!(mine[row], theirs[row], "column {i}, row {row}");
            }
            assert!(
                mine[usable..].iter().all(|v| *v == Fr::zero()),
                "column {i}: blinding rows"
            );
        }
    }

    /// A proof from the laid-out columns verifies with the circuit's key and begins as the synthesised
    /// proof with the same randomness does (the advice commitments, blinding rows included); one cell changed makes a proof that does not verify, and columns of the
    /// wrong number or length are refused before proving.
    #[test]
    fn a_proof_from_the_advice_columns_verifies() {
        use crate::halo2::prove::{prove_advice_seeded, prove_circuit_seeded, prove_gated_seeded};
        use rand_chacha::rand_core::SeedableRng;
        use zkattr_gpu_msm::CpuProver;
        let (kc, pk, public) = wide_keys();
        let srs = insecure_test_srs(K);
        let seeded = rand_chacha::ChaCha20Rng::seed_from_u64;
        let direct =
            prove_gated_seeded(&CpuProver, &srs, &pk, wide_prover(&kc), &public, seeded(7))
                .unwrap();
        verify(&srs, pk.get_vk(), &direct, &public).unwrap();
        let synthesized =
            prove_circuit_seeded(&CpuProver, &srs, &pk, wide_prover(&kc), &public, seeded(7))
                .unwrap();
        let same = direct
            .iter()
            .zip(&synthesized)
            .take_while(|(a, b)| a == b)
            .count();
        // The advice commitments come first, 64 bytes each. After them even two synthesised proofs with
        // one seed part here (halo2-axiom also draws from the thread's own rng), so that is the comparison.
        let commitments = pk.get_vk().cs().num_advice_columns();
        assert!(
            same >= 64 * commitments,
            "the proofs part after {same} bytes"
        );

        let columns = wide_prover(&kc).advice_columns().unwrap();
        // A halo2-base cell changed: row 3 of its first column (the gate's 6 columns come first).
        let mut tampered = columns.clone();
        tampered[2 * T][3] += Fr::one();
        let bad = prove_advice_seeded(&CpuProver, &srs, &pk, tampered, &public, seeded(7)).unwrap();
        assert!(verify(&srs, pk.get_vk(), &bad, &public).is_err());

        let mut short = columns.clone();
        short.pop();
        let err = prove_advice_seeded(&CpuProver, &srs, &pk, short, &public, seeded(7))
            .unwrap_err()
            .to_string();
        assert!(err.contains("columns given"), "{err}");
        let err = prove_advice_seeded(
            &CpuProver,
            &insecure_test_srs(K + 1),
            &pk,
            columns.clone(),
            &public,
            seeded(7),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("proving key is for 2^10"), "{err}");
        let mut cut = columns;
        cut[0].pop();
        let err = prove_advice_seeded(&CpuProver, &srs, &pk, cut, &public, seeded(7))
            .unwrap_err()
            .to_string();
        assert!(err.contains("rows"), "{err}");
    }
}
