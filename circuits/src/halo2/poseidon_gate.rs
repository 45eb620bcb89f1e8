//! A dedicated Poseidon gate: the permutation of [`crate::poseidon`] (width 3, `R_F = 8`, `R_P = 57`,
//! `x^5`) in 38 rows of 6 advice cells, against about two thousand cells on halo2-base's generic gate.
//!
//! Layout of one permutation, rows from its first (state columns `s0..s2`, helper columns `h0..h2`, round
//! constants in fixed columns `c0..c2`):
//!
//! | rows | selector | helper cells | next row's state |
//! |---|---|---|---|
//! | 4 full rounds | `q_full` | `h_j = (s_j + c_j)^2` | `M · (h_j^2 (s_j + c_j))_j` |
//! | 28 double partial rounds | `q_partial2` | `h0 = (s0 + c0)^2`, `h1 = t0`, `h2 = (t0 + c1)^2` | `M · (h2^2 (t0 + c1), t1, t2)` |
//! | 1 partial round | `q_partial` | `h0 = (s0 + c0)^2` | `M · (h0^2 (s0 + c0), s1, s2)` |
//! | 4 full rounds | `q_full` | as above | as above |
//! | output | — | — | — |
//!
//! where in a double partial row `t = M · (h0^2 (s0 + c0), s1, s2)` is the state after its first round (`t0`
//! kept in `h1`, `t1` and `t2` used inline) and `c1` is the second round's constant.
//!
//! The constants are [`folded_round_constants`]: a partial round's S-box touches `s0` only, so the constants it
//! adds to `s1` and `s2` commute with it and are carried through the MDS matrix into the next round's; the
//! last partial round's carry lands in the first full round after it. Each partial round then adds a
//! constant to `s0` alone, the permutation is unchanged, and three fixed columns hold every row's constants
//! (every column is one more commitment for the verifier).
//! Every constraint has degree at most 4 (selector included), so the gate does not raise halo2-base's
//! circuit degree. (halo2-axiom caps the degree it builds the evaluation domain for at 5, or `MAX_DEGREE`:
//! a degree-6 gate such as `q * (next - M (s + c)^5)` would pass MockProver, which checks row by row, and
//! fail in real proofs. Hence the helper columns.) The state columns have equality enabled: a permutation's input row and output row are
//! copied to and from cells elsewhere in the circuit.

use halo2_base::halo2_proofs::{
    circuit::{AssignedCell, Cell, Layouter, Region, SimpleFloorPlanner, Value},
    plonk::{Advice, Circuit, Column, ConstraintSystem, Expression, Fixed, Instance, Selector},
    poly::Rotation,
};

use crate::{
    field::Fr,
    poseidon::{mds, round_constants, R_F, R_P, T},
};

/// Rows one permutation takes, its output row included.
pub const ROWS_PER_PERMUTATION: usize = R_F + R_P.div_ceil(2) + 1;

/// Columns and selectors of the gate.
#[derive(Debug, Clone, Copy)]
pub struct PoseidonGateConfig {
    /// The state before each row's round(s).
    pub state: [Column<Advice>; T],
    /// Squares and the mid-row state of double partial rounds.
    pub helper: [Column<Advice>; T],
    /// Round constants ([`folded_round_constants`]): a full round's three; a partial row's `s0` constant
    /// in `c0`, and a double row's second one in `c1`.
    pub constants: [Column<Fixed>; T],
    /// A full round.
    pub q_full: Selector,
    /// One partial round.
    pub q_partial: Selector,
    /// Two partial rounds.
    pub q_partial2: Selector,
}

/// The kind of round(s) a row computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RowKind {
    Full,
    Partial,
    Partial2,
}

/// The rows of one permutation: kind and the index of its (first) round.
fn row_plan() -> Vec<(RowKind, usize)> {
    let half = R_F / 2;
    let mut rows: Vec<(RowKind, usize)> = (0..half).map(|r| (RowKind::Full, r)).collect();
    let mut r = half;
    while r + 1 < half + R_P {
        rows.push((RowKind::Partial2, r));
        r += 2;
    }
    if r < half + R_P {
        rows.push((RowKind::Partial, r));
    }
    rows.extend((half + R_P..R_F + R_P).map(|r| (RowKind::Full, r)));
    rows
}

/// The round constants with every partial round's `s1`, `s2` constants carried forward (module
/// documentation): partial rounds have `[c, 0, 0]`; the permutation is the same.
pub fn folded_round_constants() -> &'static [[Fr; T]] {
    static FOLDED: std::sync::OnceLock<Vec<[Fr; T]>> = std::sync::OnceLock::new();
    FOLDED.get_or_init(|| {
        let (rc, m) = (round_constants(), mds());
        let mut out = rc.to_vec();
        let half = R_F / 2;
        let mut carry = [Fr::zero(); T];
        for (r, folded) in out.iter_mut().enumerate().skip(half).take(R_P) {
            let k = [0, 1, 2].map(|j| rc[r][j] + carry[j]);
            *folded = [k[0], Fr::zero(), Fr::zero()];
            carry = apply(m, [Fr::zero(), k[1], k[2]]);
        }
        let r = half + R_P;
        out[r] = [0, 1, 2].map(|j| rc[r][j] + carry[j]);
        out
    })
}

fn c(x: Fr) -> Expression<Fr> {
    Expression::Constant(x)
}

/// `sum_j m[i][j] v_j`.
fn mds_row(i: usize, v: &[Expression<Fr>; T]) -> Expression<Fr> {
    let m = mds();
    v.iter()
        .enumerate()
        .map(|(j, x)| c(m[i][j]) * x.clone())
        .reduce(|a, b| a + b)
        .expect("T > 0")
}

impl PoseidonGateConfig {
    /// Allocates the columns and creates the three gates.
    pub fn configure(meta: &mut ConstraintSystem<Fr>) -> Self {
        let state = [(); T].map(|_| meta.advice_column());
        let helper = [(); T].map(|_| meta.advice_column());
        let constants = [(); T].map(|_| meta.fixed_column());
        for col in state {
            meta.enable_equality(col);
        }
        let (q_full, q_partial, q_partial2) = (meta.selector(), meta.selector(), meta.selector());
        let cur = |meta: &mut halo2_base::halo2_proofs::plonk::VirtualCells<'_, Fr>,
                   cols: [Column<Advice>; T]| {
            cols.map(|col| meta.query_advice(col, Rotation::cur()))
        };
        meta.create_gate("poseidon full round", |meta| {
            let q = meta.query_selector(q_full);
            let s = cur(meta, state);
            let h = cur(meta, helper);
            let next = state.map(|col| meta.query_advice(col, Rotation::next()));
            let k = [0, 1, 2].map(|j| meta.query_fixed(constants[j], Rotation::cur()));
            let u: [Expression<Fr>; T] = [0, 1, 2].map(|j| s[j].clone() + k[j].clone());
            let sbox: [Expression<Fr>; T] =
                [0, 1, 2].map(|j| h[j].clone() * h[j].clone() * u[j].clone());
            let mut out: Vec<Expression<Fr>> = (0..T)
                .map(|j| q.clone() * (h[j].clone() - u[j].clone() * u[j].clone()))
                .collect();
            out.extend((0..T).map(|i| q.clone() * (next[i].clone() - mds_row(i, &sbox))));
            out
        });
        meta.create_gate("poseidon partial round", |meta| {
            let q = meta.query_selector(q_partial);
            let s = cur(meta, state);
            let h0 = meta.query_advice(helper[0], Rotation::cur());
            let next = state.map(|col| meta.query_advice(col, Rotation::next()));
            let k0 = meta.query_fixed(constants[0], Rotation::cur());
            let u0 = s[0].clone() + k0;
            let v = [
                h0.clone() * h0.clone() * u0.clone(),
                s[1].clone(),
                s[2].clone(),
            ];
            let mut out = vec![q.clone() * (h0 - u0.clone() * u0)];
            out.extend((0..T).map(|i| q.clone() * (next[i].clone() - mds_row(i, &v))));
            out
        });
        meta.create_gate("poseidon double partial round", |meta| {
            let q = meta.query_selector(q_partial2);
            let s = cur(meta, state);
            let h = cur(meta, helper);
            let next = state.map(|col| meta.query_advice(col, Rotation::next()));
            let k = [0, 1].map(|j| meta.query_fixed(constants[j], Rotation::cur()));
            let u0 = s[0].clone() + k[0].clone();
            let v = [
                h[0].clone() * h[0].clone() * u0.clone(),
                s[1].clone(),
                s[2].clone(),
            ];
            // The mid-row state t = M v: t0 is the witness h1, t1 and t2 are used inline.
            let mid0 = h[1].clone() + k[1].clone();
            let w = [
                h[2].clone() * h[2].clone() * mid0.clone(),
                mds_row(1, &v),
                mds_row(2, &v),
            ];
            let mut out = vec![
                q.clone() * (h[0].clone() - u0.clone() * u0),
                q.clone() * (h[1].clone() - mds_row(0, &v)),
                q.clone() * (h[2].clone() - mid0.clone() * mid0),
            ];
            out.extend((0..T).map(|i| q.clone() * (next[i].clone() - mds_row(i, &w))));
            out
        });
        Self {
            state,
            helper,
            constants,
            q_full,
            q_partial,
            q_partial2,
        }
    }

    /// Assigns one permutation of `trace` (from [`trace`]) at rows `offset..offset + ROWS_PER_PERMUTATION`
    /// and returns its input and output state cells.
    pub fn assign(
        &self,
        region: &mut Region<'_, Fr>,
        offset: usize,
        trace: &Trace,
    ) -> ([Cell; T], [Cell; T]) {
        let rc = folded_round_constants();
        let mut first = None;
        for (row, ((kind, r), cells)) in row_plan().iter().zip(&trace.rows).enumerate() {
            let at = offset + row;
            let selector = match kind {
                RowKind::Full => self.q_full,
                RowKind::Partial => self.q_partial,
                RowKind::Partial2 => self.q_partial2,
            };
            selector.enable(region, at).expect("the region has the row");
            let row_constants = match kind {
                RowKind::Full | RowKind::Partial => rc[*r],
                RowKind::Partial2 => [rc[*r][0], rc[r + 1][0], Fr::zero()],
            };
            for (j, &k) in row_constants.iter().enumerate() {
                region.assign_fixed(self.constants[j], at, k);
            }
            let s = self.assign_row(region, at, cells);
            if row == 0 {
                first = Some(s);
            }
        }
        let out_row = offset + ROWS_PER_PERMUTATION - 1;
        let out_cells = [0, 1, 2].map(|j| {
            region
                .assign_advice(self.state[j], out_row, Value::known(trace.output[j]))
                .cell()
        });
        (first.expect("at least one row"), out_cells)
    }

    fn assign_row(&self, region: &mut Region<'_, Fr>, at: usize, cells: &[Fr; 2 * T]) -> [Cell; T] {
        let assigned: Vec<AssignedCell<&_, Fr>> = (0..T)
            .map(|j| region.assign_advice(self.state[j], at, Value::known(cells[j])))
            .collect();
        for j in 0..T {
            region.assign_advice(self.helper[j], at, Value::known(cells[T + j]));
        }
        [0, 1, 2].map(|j| assigned[j].cell())
    }
}

/// The witness of one permutation: per row the state and helper cells, and the output state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// `[s0, s1, s2, h0, h1, h2]` per row, output row excluded.
    pub rows: Vec<[Fr; 2 * T]>,
    /// The output state.
    pub output: [Fr; T],
}

/// A change a malicious prover makes while computing a trace: at row `row`, cell `cell` (0..3 state,
/// 3..6 helper) takes `value`, and the rest of the trace is computed honestly from there on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tamper {
    /// Row within the permutation.
    pub row: usize,
    /// Cell within the row.
    pub cell: usize,
    /// The value it takes instead.
    pub value: Fr,
}

fn apply(m: &[[Fr; T]; T], v: [Fr; T]) -> [Fr; T] {
    [0, 1, 2].map(|i| m[i][0] * v[0] + m[i][1] * v[1] + m[i][2] * v[2])
}

/// The honest trace of the permutation of `input` (`tamper = None`), or a tampered one.
pub fn trace(input: [Fr; T], tamper: Option<Tamper>) -> Trace {
    let (rc, m) = (folded_round_constants(), mds());
    let mut s = input;
    let mut rows = Vec::with_capacity(ROWS_PER_PERMUTATION - 1);
    for (row, (kind, r)) in row_plan().into_iter().enumerate() {
        let hit = |cell: usize| {
            tamper
                .filter(|t| t.row == row && t.cell == cell)
                .map(|t| t.value)
        };
        for (j, x) in s.iter_mut().enumerate() {
            if let Some(v) = hit(j) {
                *x = v;
            }
        }
        let u = [0, 1, 2].map(|j| s[j] + rc[r][j]);
        let mut h = [Fr::zero(); T];
        let next = match kind {
            RowKind::Full => {
                for j in 0..T {
                    h[j] = hit(T + j).unwrap_or(u[j] * u[j]);
                }
                apply(m, [0, 1, 2].map(|j| h[j] * h[j] * u[j]))
            }
            RowKind::Partial => {
                h[0] = hit(T).unwrap_or(u[0] * u[0]);
                apply(m, [h[0] * h[0] * u[0], u[1], u[2]])
            }
            RowKind::Partial2 => {
                h[0] = hit(T).unwrap_or(u[0] * u[0]);
                let t = apply(m, [h[0] * h[0] * u[0], u[1], u[2]]);
                h[1] = hit(T + 1).unwrap_or(t[0]);
                let mid0 = h[1] + rc[r + 1][0];
                h[2] = hit(T + 2).unwrap_or(mid0 * mid0);
                apply(
                    m,
                    [h[2] * h[2] * mid0, t[1] + rc[r + 1][1], t[2] + rc[r + 1][2]],
                )
            }
        };
        rows.push([s[0], s[1], s[2], h[0], h[1], h[2]]);
        s = next;
    }
    Trace { rows, output: s }
}

/// A circuit of permutations alone, their outputs public (in order): for tests and for benches that compare
/// the gate with halo2-base's Poseidon chip.
#[derive(Debug, Clone, Default)]
pub struct PermutationCircuit {
    /// One trace per permutation.
    pub traces: Vec<Trace>,
}

impl PermutationCircuit {
    /// The honest circuit for `inputs`.
    pub fn new(inputs: &[[Fr; T]]) -> Self {
        Self {
            traces: inputs.iter().map(|x| trace(*x, None)).collect(),
        }
    }

    /// The public outputs.
    pub fn public(&self) -> Vec<Fr> {
        self.traces.iter().flat_map(|t| t.output).collect()
    }

    /// The smallest `k` that holds the permutations (and halo2's blinding rows).
    pub fn k(&self) -> u32 {
        let rows = self.traces.len() * ROWS_PER_PERMUTATION + 10;
        rows.next_power_of_two().trailing_zeros().max(4)
    }
}

impl Circuit<Fr> for PermutationCircuit {
    type Config = (PoseidonGateConfig, Column<Instance>);
    type FloorPlanner = SimpleFloorPlanner;
    type Params = ();

    fn without_witnesses(&self) -> Self {
        self.clone()
    }

    fn configure(meta: &mut ConstraintSystem<Fr>) -> Self::Config {
        let instance = meta.instance_column();
        meta.enable_equality(instance);
        (PoseidonGateConfig::configure(meta), instance)
    }

    fn synthesize(
        &self,
        (config, instance): Self::Config,
        mut layouter: impl Layouter<Fr>,
    ) -> Result<(), halo2_base::halo2_proofs::plonk::Error> {
        let outs = layouter.assign_region(
            || "permutations",
            |mut region| {
                let mut outs = Vec::new();
                for (k, t) in self.traces.iter().enumerate() {
                    let (_, out) = config.assign(&mut region, k * ROWS_PER_PERMUTATION, t);
                    outs.extend(out);
                }
                Ok(outs)
            },
        )?;
        for (i, cell) in outs.into_iter().enumerate() {
            layouter.constrain_instance(cell, instance, i);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::poseidon;
    use halo2_base::halo2_proofs::dev::MockProver;

    fn inputs(n: u64) -> Vec<[Fr; T]> {
        (0..n)
            .map(|i| {
                [
                    Fr::from(i),
                    Fr::from(i * 7 + 1),
                    Fr::from(1u64 << 40) + Fr::from(i),
                ]
            })
            .collect()
    }

    fn mock(traces: Vec<Trace>) -> bool {
        let c = PermutationCircuit { traces };
        MockProver::run(10, &c, vec![c.public()])
            .unwrap()
            .verify()
            .is_ok()
    }

    #[test]
    fn the_gate_computes_the_native_permutation() {
        assert_eq!(ROWS_PER_PERMUTATION, 38);
        for input in inputs(3) {
            let mut native = input;
            poseidon::permute(&mut native);
            assert_eq!(trace(input, None).output, native);
        }
        assert!(mock(
            inputs(3).into_iter().map(|x| trace(x, None)).collect()
        ));
        // The public outputs must be the permutation's: one changed output is refused.
        let traces: Vec<Trace> = inputs(2).into_iter().map(|x| trace(x, None)).collect();
        let mut public: Vec<Fr> = traces.iter().flat_map(|t| t.output).collect();
        public[4] += Fr::from(1u64);
        assert!(
            MockProver::run(10, &PermutationCircuit { traces }, vec![public])
                .unwrap()
                .verify()
                .is_err()
        );
    }

    /// A real proof (not MockProver) verifies: the gates' degree fits the proving system's domain.
    #[test]
    fn a_real_proof_of_permutations_verifies() {
        use crate::halo2::prove::{insecure_test_srs, prove_circuit, verify};
        use halo2_base::halo2_proofs::plonk::{keygen_pk, keygen_vk};
        let c = PermutationCircuit::new(&inputs(4));
        let srs = insecure_test_srs(c.k());
        let vk = keygen_vk(&srs, &c).unwrap();
        let pk = keygen_pk(&srs, vk, &c).unwrap();
        let public = c.public();
        let proof = prove_circuit(&srs, &pk, c, &public).unwrap();
        verify(&srs, pk.get_vk(), &proof, &public).unwrap();
        let mut wrong = public.clone();
        wrong[0] += Fr::from(1u64);
        assert!(verify(&srs, pk.get_vk(), &proof, &wrong).is_err());
    }

    /// Every helper and state cell of every row kind, changed with the rest of the trace recomputed from it
    /// (so only the constraint on that cell can notice), is refused.
    #[test]
    fn each_tampered_cell_is_refused() {
        let plan = row_plan();
        let rows_of = |k: RowKind| plan.iter().position(|(kind, _)| *kind == k).unwrap();
        let mut cases = Vec::new();
        for (kind, cells) in [
            (RowKind::Full, vec![3, 4, 5]),
            (RowKind::Partial, vec![3]),
            (RowKind::Partial2, vec![3, 4, 5]),
        ] {
            let row = rows_of(kind);
            for cell in cells {
                cases.push((format!("{kind:?} row {row} helper {cell}"), row, cell));
            }
        }
        // A state cell of a row whose previous row is of each kind: that row's next-state constraint is the
        // only one that can refuse it.
        for kind in [RowKind::Full, RowKind::Partial, RowKind::Partial2] {
            let row = 1 + plan.iter().position(|(k, _)| *k == kind).unwrap();
            if row < plan.len() {
                for cell in 0..T {
                    cases.push((
                        format!("state {cell} after a {kind:?} row ({row})"),
                        row,
                        cell,
                    ));
                }
            }
        }
        let input = inputs(1)[0];
        for (name, row, cell) in cases {
            let honest = trace(input, None);
            let value = honest.rows[row][cell] + Fr::from(1u64);
            let t = trace(input, Some(Tamper { row, cell, value }));
            assert_ne!(
                t.output, honest.output,
                "{name}: the tamper changes nothing"
            );
            assert!(!mock(vec![t]), "{name}: accepted");
        }
    }
}
