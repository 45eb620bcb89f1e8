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
        circuit::{builder::BaseCircuitBuilder, BaseCircuitParams, BaseConfig},
        GateInstructions,
    },
    halo2_proofs::{
        circuit::{Layouter, SimpleFloorPlanner},
        plonk::{Circuit, ConstraintSystem, Error},
    },
    utils::halo2::constrain_virtual_equals_external,
    AssignedValue, Context, QuantumCell,
};
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
}

impl GatedPoseidon {
    /// The permutation of `input`: three new witnesses, proven by the gate.
    pub fn permute(
        &mut self,
        ctx: &mut Context<Fr>,
        input: [AssignedValue<Fr>; T],
    ) -> [AssignedValue<Fr>; T] {
        let mut s = input.map(|c| *c.value());
        poseidon::permute(&mut s);
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
        let mut s = input.map(|c| *c.value());
        poseidon::permute(&mut s);
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
            Ok(s) => println!("GPU prover not checked: {}", s.reason),
            Err(e) => println!("GPU prover not checked: {e}"),
        }
    }
}
