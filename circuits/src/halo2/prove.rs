//! Real (non-mock) proofs of the attribution statement: SRS files, keys from an SRS and the circuit's shape
//! (cached on disk), SHPLONK proofs over KZG/BN254, native verification.
//!
//! The Fiat–Shamir transcript is Keccak-256 in the layout of snark-verifier's `EvmTranscript`, so the same
//! proof bytes verify natively ([`verify`]) and in the generated Solidity verifier ([`super::evm`]).

use halo2_base::gates::flex_gate::MultiPhaseThreadBreakPoints;
use halo2_base::{
    gates::circuit::{builder::BaseCircuitBuilder, CircuitBuilderStage},
    halo2_proofs::{
        halo2curves::bn256::{Bn256, G1Affine},
        plonk::{keygen_pk, keygen_vk_custom, verify_proof, ProvingKey, VerifyingKey},
        poly::{
            commitment::{Params, ParamsProver},
            kzg::{
                commitment::{KZGCommitmentScheme, ParamsKZG},
                multiopen::VerifierSHPLONK,
                strategy::SingleStrategy,
            },
        },
        transcript::{TranscriptReadBuffer, TranscriptWriterBuffer},
    },
};
use rand_chacha::rand_core::SeedableRng;
use snark_verifier_sdk::snark_verifier::{
    loader::native::NativeLoader, system::halo2::transcript::evm::EvmTranscript,
};
use zkattr_gpu_msm::{BackendError, CpuProver, ProverBackend};

use super::{
    attribution::{assign, AttributionWitness},
    gated::{GatedCircuit, GatedParams},
};
use crate::{
    error::{Error, Result},
    field::Fr,
};

/// Rows at the end of every column kept free for halo2's blinding (halo2-base's `calculate_params` takes it).
pub const UNUSABLE_ROWS: usize = 9;

/// A KZG setup from a fixed seed: anyone can compute its toxic waste. For tests only.
///
/// The same points as halo2's `ParamsKZG::setup` with that seed (tested), computed with a fixed-base window
/// table instead of one variable-base multiplication per point: `k = 20` in 8 s instead of 134 s. The last one made is kept in memory, so a process that proves and then
/// verifies (`zkattr demo`) computes it once.
pub fn insecure_test_srs(k: u32) -> ParamsKZG<Bn256> {
    static LAST: std::sync::Mutex<Option<ParamsKZG<Bn256>>> = std::sync::Mutex::new(None);
    let mut last = LAST
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(srs) = last.as_ref().filter(|s| s.k() == k) {
        return srs.clone();
    }
    let srs = seeded_setup(k, 0x07e5_75e7_u64 + u64::from(k));
    *last = Some(srs.clone());
    srs
}

/// `ParamsKZG::setup(k, ChaCha20Rng::seed_from_u64(seed))`, computed faster: powers of tau
/// `[s^i] G1` and Lagrange points `[L_i(s)] G1` (`L_i(s) = (s^n - 1) w^i / (n (s - w^i))`) through
/// [`fixed_base_muls`].
fn seeded_setup(k: u32, seed: u64) -> ParamsKZG<Bn256> {
    use ff::{Field, PrimeField};
    use halo2_base::halo2_proofs::halo2curves::bn256::G2Affine;
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
    let s = Fr::random(&mut rng);
    let n = 1usize << k;
    let powers: Vec<Fr> = std::iter::successors(Some(Fr::ONE), |p| Some(*p * s))
        .take(n)
        .collect();
    let mut root = Fr::ROOT_OF_UNITY_INV.invert().expect("non-zero");
    for _ in k..Fr::S {
        root = root.square();
    }
    let roots: Vec<Fr> = std::iter::successors(Some(Fr::ONE), |w| Some(*w * root))
        .take(n)
        .collect();
    let mut denominators: Vec<Fr> = roots.iter().map(|w| s - w).collect();
    ff::BatchInvert::batch_invert(denominators.iter_mut());
    let n_inv = Fr::from(n as u64).invert().expect("n is non-zero");
    let multiplier = (s.pow_vartime([n as u64]) - Fr::ONE) * n_inv;
    let lagrange: Vec<Fr> = roots
        .iter()
        .zip(&denominators)
        .map(|(w, inv)| multiplier * w * inv)
        .collect();
    let g = fixed_base_muls(&powers);
    let g_lagrange = fixed_base_muls(&lagrange);
    let g2 = G2Affine::generator();
    let s_g2: G2Affine = (g2 * s).into();
    // from_parts takes a receiver it does not use.
    ParamsKZG::<Bn256>::setup(1, rand_chacha::ChaCha20Rng::seed_from_u64(0)).from_parts(
        k,
        g,
        Some(g_lagrange),
        g2,
        s_g2,
    )
}

/// `[x] G1` for every `x`, with a table of `d * 2^(8j) * G1` (`j < 32`, `d < 256`): 32 mixed additions per
/// point, in parallel.
fn fixed_base_muls(scalars: &[Fr]) -> Vec<G1Affine> {
    use ff::PrimeField;
    use halo2_base::halo2_proofs::{
        arithmetic::parallelize,
        halo2curves::{
            bn256::G1,
            group::{prime::PrimeCurveAffine, Curve, Group},
        },
    };
    const WINDOWS: usize = 32;
    let mut table_projective = Vec::with_capacity(WINDOWS * 256);
    let mut base = G1::generator();
    for _ in 0..WINDOWS {
        let mut acc = G1::identity();
        for _ in 0..256 {
            table_projective.push(acc);
            acc += base;
        }
        base = acc; // 256 * base = 2^8 * base
    }
    let mut table = vec![G1Affine::identity(); table_projective.len()];
    G1::batch_normalize(&table_projective, &mut table);
    let mut points = vec![G1::identity(); scalars.len()];
    parallelize(&mut points, |chunk, start| {
        for (p, x) in chunk.iter_mut().zip(&scalars[start..]) {
            let bytes = x.to_repr();
            let mut acc = G1::identity();
            for (j, &d) in bytes.as_ref().iter().enumerate() {
                if d != 0 {
                    acc += table[j * 256 + usize::from(d)];
                }
            }
            *p = acc;
        }
    });
    let mut affine = vec![G1Affine::identity(); points.len()];
    parallelize(&mut affine, |chunk, start| {
        G1::batch_normalize(&points[start..start + chunk.len()], chunk);
    });
    affine
}

/// The digest that stands for [`insecure_test_srs`] (of any `k`) where a file's keccak would be recorded.
pub fn insecure_test_srs_digest() -> [u8; 32] {
    keccak(b"zkattr insecure test SRS, ChaCha20 seed 0x07e575e7 + k")
}

/// Reads a KZG setup (SRS) file and downsizes it to `2^k` points.
///
/// The file is halo2-axiom's `ParamsKZG::write_custom` with `SerdeFormat::Processed`: `k` as a u32
/// little-endian, the `2^k` powers of tau in G1 (32-byte compressed points), the same number of Lagrange-basis
/// points, then `g2` and `s·g2` (64-byte compressed). Every point is decoded and checked on read.
/// docs/circuit.md says how to produce such a file from a public ceremony. Returns the setup and the
/// keccak256 of the file, which key files and receipts record.
pub fn load_srs(path: &std::path::Path, k: u32) -> Result<(ParamsKZG<Bn256>, [u8; 32])> {
    use sha3::Digest;
    let bad = |reason: String| Error::Srs {
        path: path.display().to_string(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let digest: [u8; 32] = sha3::Keccak256::digest(&bytes).into();
    let mut params = ParamsKZG::<Bn256>::read_custom(
        &mut bytes.as_slice(),
        halo2_base::halo2_proofs::SerdeFormat::Processed,
    )
    .map_err(|e| bad(format!("not a processed halo2 KZG setup: {e}")))?;
    // Spot-check that the points are powers of one tau matching s·g2: e(g_(i+1), g2) = e(g_i, s·g2) at
    // the start, the middle and the end (a full check would cost a pairing per point).
    {
        use halo2_base::halo2_proofs::halo2curves::bn256::pairing;
        let g = params.get_g();
        let n = g.len();
        for i in [0, n / 2 - 1, n - 2] {
            if pairing(&g[i + 1], &params.g2()) != pairing(&g[i], &params.s_g2()) {
                return Err(bad(format!(
                    "point {} is not tau times point {i} (the G1 and G2 parts disagree)",
                    i + 1
                )));
            }
        }
    }
    if params.k() < k {
        return Err(bad(format!(
            "has 2^{} points; this circuit needs 2^{k}",
            params.k()
        )));
    }
    if params.k() > k {
        params.downsize(k);
    }
    Ok((params, digest))
}

/// Writes `params` in the format [`load_srs`] reads (via a temporary file and a rename).
pub fn save_srs(params: &ParamsKZG<Bn256>, path: &std::path::Path) -> Result<()> {
    let bad = |reason: String| Error::Srs {
        path: path.display().to_string(),
        reason,
    };
    let mut buf = Vec::new();
    params
        .write_custom(&mut buf, halo2_base::halo2_proofs::SerdeFormat::Processed)
        .map_err(|e| bad(e.to_string()))?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &buf).map_err(|e| bad(e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|e| bad(e.to_string()))
}

/// Converts a setup written in halo2's default `ParamsKZG::write` layout (uncompressed, unchecked raw bytes,
/// the form community conversions of public powers-of-tau ceremonies for halo2 are usually published in)
/// into the checked, compressed file [`load_srs`] reads. Returns the output's `k`.
pub fn convert_raw_srs(input: &std::path::Path, output: &std::path::Path) -> Result<u32> {
    let bytes = std::fs::read(input).map_err(|e| Error::Srs {
        path: input.display().to_string(),
        reason: e.to_string(),
    })?;
    let params = ParamsKZG::<Bn256>::read(&mut bytes.as_slice()).map_err(|e| Error::Srs {
        path: input.display().to_string(),
        reason: format!("not a raw halo2 KZG setup: {e}"),
    })?;
    save_srs(&params, output)?;
    // Read it back through the checks.
    let (checked, _) = load_srs(output, params.k())?;
    Ok(checked.k())
}

/// Cell counts of the circuit for a witness's shape (item positions, slots, dimension: all fixed by the
/// parameters); independent of `k`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Advice cells of the main gate.
    pub advice_cells: usize,
    /// Cells copied into lookup (range-check) columns.
    pub lookup_cells: usize,
    /// Distinct constants (fixed cells).
    pub fixed_cells: usize,
    /// Poseidon permutations on the dedicated gate.
    pub permutations: usize,
}

/// Most halo2-base advice columns [`choose_k`] allows before it doubles the rows. The EVM verifier grows with
/// every column (one more commitment and opening, and a selector per advice column), and the Poseidon gate
/// already brings 6 advice, 3 fixed and 3 selector columns: measured at N = 256 (dimension 64, 32 slots),
/// 4 base columns gave a 25.8 KB contract, over the EIP-170 limit (with the gate's earlier 6 fixed columns),
/// and 2 give 22.3 KB (500k gas). Fewer columns cost prover time instead (larger `k`).
pub const MAX_ADVICE_COLUMNS: usize = 2;

/// Counts the cells of the circuit for `w`.
pub fn shape(w: &AttributionWitness, lookup_bits: usize) -> Result<Shape> {
    let mut b = builder(CircuitBuilderStage::Keygen, 20, lookup_bits);
    let (_, poseidon) = assign(&mut b, w)?;
    let st = b.statistics();
    Ok(Shape {
        advice_cells: st.gate.total_advice_per_phase.iter().sum(),
        lookup_cells: st.total_lookup_advice_per_phase.iter().sum(),
        fixed_cells: st.gate.total_fixed,
        permutations: poseidon.requests.len(),
    })
}

/// Host memory (bytes) that keygen or one proof of the attribution circuit at `2^k` rows takes at its peak,
/// roughly: 4 KiB per row. Measured peaks of the proof (docs/circuit.md, CPU, 2 halo2-base columns): 3.8 KiB
/// per row at `k = 17`, 4.3 at 18 and 20, 4.1 at 22; keygen 3.2 to 3.3. A guide for refusing work that
/// cannot fit before it starts, not a bound.
pub fn host_memory_estimate(k: u32) -> u64 {
    4096u64 << k
}

/// The circuit size for `shape`: the smallest `k` (at least `lookup_bits + 1`, so the lookup table fits)
/// at which the advice cells fill at most [`MAX_ADVICE_COLUMNS`] columns of `2^k - 9` usable rows, the
/// constants fit one fixed column and the permutations fit the Poseidon gate's region.
pub fn choose_k(shape: &Shape, lookup_bits: usize) -> u32 {
    let mut k = lookup_bits as u32 + 1;
    loop {
        let rows = (1usize << k) - UNUSABLE_ROWS;
        if shape.advice_cells.div_ceil(rows) <= MAX_ADVICE_COLUMNS
            && shape.fixed_cells <= rows
            && GatedCircuit::gate_rows(shape.permutations) <= rows
        {
            return k;
        }
        k += 1;
    }
}

/// Proving key with the circuit shape it was made for.
#[derive(Debug)]
pub struct Keys {
    /// The proving key (holds the verifying key).
    pub pk: ProvingKey<G1Affine>,
    /// Columns, lookup settings and permutation count of the circuit.
    pub params: GatedParams,
    /// Where each thread's cells break across columns.
    pub break_points: MultiPhaseThreadBreakPoints,
}

fn builder(stage: CircuitBuilderStage, k: u32, lookup_bits: usize) -> BaseCircuitBuilder<Fr> {
    BaseCircuitBuilder::from_stage(stage)
        .use_k(k as usize)
        .use_lookup_bits(lookup_bits)
        .use_instance_columns(1)
}

fn proof_error(e: impl std::fmt::Debug) -> Error {
    Error::InvalidStatement(format!("proving system: {e:?}"))
}

/// Keys for the circuit of `w`'s shape (its item count, slots and dimension) on `srs`.
pub fn keygen(srs: &ParamsKZG<Bn256>, lookup_bits: usize, w: &AttributionWitness) -> Result<Keys> {
    let mut b = builder(CircuitBuilderStage::Keygen, srs.k(), lookup_bits);
    let (_, poseidon) = assign(&mut b, w)?;
    let base = b.calculate_params(Some(UNUSABLE_ROWS));
    let params = GatedParams {
        base,
        permutations: poseidon.requests.len(),
    };
    let circuit = GatedCircuit {
        builder: b,
        poseidon,
        params: params.clone(),
    };
    // Selector compression merges selectors that are never on in the same row into shared fixed columns
    // within the degree bound (one column fewer for the verifier in the test shape; none at N = 256).
    let vk = keygen_vk_custom(srs, &circuit, true).map_err(proof_error)?;
    let pk = keygen_pk(srs, vk, &circuit).map_err(proof_error)?;
    Ok(Keys {
        pk,
        params,
        break_points: circuit.builder.break_points(),
    })
}

/// Keys from [`keygen_cached`].
#[derive(Debug)]
pub struct CachedKeys {
    /// The keys.
    pub keys: Keys,
    /// Cache id: hex keccak over the SRS digest, `k`, the lookup width and the parameters that fix the
    /// circuit's shape.
    pub id: String,
    /// keccak256 of the verifying key's bytes (`SerdeFormat::RawBytes`).
    pub vk_keccak: [u8; 32],
    /// Whether they were read from the cache; otherwise why not.
    pub from_cache: std::result::Result<(), String>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct KeyManifest {
    format: String,
    id: String,
    srs_keccak: String,
    lookup_bits: usize,
    max_items: u32,
    circuit_params: GatedParams,
    break_points: MultiPhaseThreadBreakPoints,
    vk_keccak: String,
    pk_keccak: String,
}

const KEYS_FORMAT: &str = "zkattr.keys.v5";

fn keccak(bytes: &[u8]) -> [u8; 32] {
    use sha3::Digest;
    sha3::Keccak256::digest(bytes).into()
}

fn cache_id(
    srs: &ParamsKZG<Bn256>,
    srs_digest: &[u8; 32],
    lookup_bits: usize,
    w: &AttributionWitness,
) -> String {
    let mut bytes = srs_digest.to_vec();
    bytes.extend(srs.k().to_be_bytes());
    bytes.extend((lookup_bits as u64).to_be_bytes());
    // The shape parameters (max_items among them) are constants of the circuit; the value ones (3, 6, 7, 8)
    // are witnesses. The epoch's item count does not enter: the circuit has max_items positions.
    for (i, v) in w.input.params.to_field_elements().iter().enumerate() {
        if !matches!(i, 3 | 6 | 7 | 8) {
            bytes.extend(crate::field::to_bytes_be(v));
        }
    }
    hex::encode(keccak(&bytes))
}

/// [`keygen`] with an on-disk cache in `dir`: `<id>.json` (shape, break points, hashes), `<id>.vk`,
/// `<id>.pk`. A cache entry whose SRS digest or key hashes do not match is ignored and rewritten (keys are
/// derived data: the verifier derives its key itself). `srs_digest` is [`load_srs`]'s.
pub fn keygen_cached(
    srs: &ParamsKZG<Bn256>,
    srs_digest: &[u8; 32],
    lookup_bits: usize,
    w: &AttributionWitness,
    dir: &std::path::Path,
) -> Result<CachedKeys> {
    use halo2_base::halo2_proofs::SerdeFormat::RawBytes;
    let id = cache_id(srs, srs_digest, lookup_bits, w);
    let io = |path: &std::path::Path, e: std::io::Error| Error::Srs {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let manifest_path = dir.join(format!("{id}.json"));
    let (vk_path, pk_path) = (dir.join(format!("{id}.vk")), dir.join(format!("{id}.pk")));
    let cached = (|| -> std::result::Result<CachedKeys, String> {
        let text =
            std::fs::read_to_string(&manifest_path).map_err(|e| format!("no cache entry ({e})"))?;
        let m: KeyManifest =
            serde_json::from_str(&text).map_err(|e| format!("bad manifest: {e}"))?;
        if m.format != KEYS_FORMAT || m.id != id || m.srs_keccak != hex::encode(srs_digest) {
            return Err("the manifest is for another SRS or format".into());
        }
        let vk_bytes = std::fs::read(&vk_path).map_err(|e| e.to_string())?;
        let pk_bytes = std::fs::read(&pk_path).map_err(|e| e.to_string())?;
        if hex::encode(keccak(&vk_bytes)) != m.vk_keccak
            || hex::encode(keccak(&pk_bytes)) != m.pk_keccak
        {
            return Err("a key file does not match its recorded hash".into());
        }
        let pk = ProvingKey::<G1Affine>::read::<_, GatedCircuit>(
            &mut pk_bytes.as_slice(),
            RawBytes,
            m.circuit_params.clone(),
        )
        .map_err(|e| format!("unreadable proving key: {e}"))?;
        Ok(CachedKeys {
            keys: Keys {
                pk,
                params: m.circuit_params,
                break_points: m.break_points,
            },
            id: id.clone(),
            vk_keccak: keccak(&vk_bytes),
            from_cache: Ok(()),
        })
    })();
    let why = match cached {
        Ok(k) => return Ok(k),
        Err(why) => why,
    };
    let keys = keygen(srs, lookup_bits, w)?;
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let vk_bytes = keys.pk.get_vk().to_bytes(RawBytes);
    let pk_bytes = keys.pk.to_bytes(RawBytes);
    let manifest = KeyManifest {
        format: KEYS_FORMAT.into(),
        id: id.clone(),
        srs_keccak: hex::encode(srs_digest),
        lookup_bits,
        max_items: w.input.params.circuit.max_items,
        circuit_params: keys.params.clone(),
        break_points: keys.break_points.clone(),
        vk_keccak: hex::encode(keccak(&vk_bytes)),
        pk_keccak: hex::encode(keccak(&pk_bytes)),
    };
    // Each file is written under a name of this process's (and write's) own and renamed into place, keys
    // first and the manifest last: a reader (another process sharing the directory, or one after a crash)
    // sees complete files, and a manifest always describes complete key files. Processes or threads deriving
    // the same keys at once write the same bytes (key generation is deterministic).
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let put = |path: &std::path::Path, bytes: &[u8]| -> Result<()> {
        let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".tmp-{}-{n}", std::process::id()));
        let tmp = path.with_file_name(name);
        let written = std::fs::write(&tmp, bytes)
            .map_err(|e| io(&tmp, e))
            .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| io(path, e)));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    };
    put(&vk_path, &vk_bytes)?;
    put(&pk_path, &pk_bytes)?;
    put(
        &manifest_path,
        serde_json::to_string_pretty(&manifest)
            .expect("serialisable")
            .as_bytes(),
    )?;
    Ok(CachedKeys {
        keys,
        id,
        vk_keccak: keccak(&vk_bytes),
        from_cache: Err(why),
    })
}

/// The circuit of `w` assigned for proving with `keys`, and its public inputs (for a prover with another
/// transcript than [`prove`]'s, such as an aggregation layer's).
pub fn prover_circuit(keys: &Keys, w: &AttributionWitness) -> Result<(GatedCircuit, Vec<Fr>)> {
    let mut b = BaseCircuitBuilder::prover(keys.params.base.clone(), keys.break_points.clone());
    let (cells, poseidon) = assign(&mut b, w)?;
    let public: Vec<Fr> = cells.iter().map(|c| *c.value()).collect();
    let circuit = GatedCircuit {
        builder: b,
        poseidon,
        params: keys.params.clone(),
    };
    Ok((circuit, public))
}

/// A proof for `w` and its public inputs, made on the CPU.
pub fn prove(
    srs: &ParamsKZG<Bn256>,
    keys: &Keys,
    w: &AttributionWitness,
) -> Result<(Vec<u8>, Vec<Fr>)> {
    prove_with(&CpuProver, srs, keys, w)
}

/// A proof for `w` and its public inputs, made by `backend` (the CPU or a GPU: the same keys, the same
/// proof format, one verifier for both).
pub fn prove_with<B: ProverBackend>(
    backend: &B,
    srs: &ParamsKZG<Bn256>,
    keys: &Keys,
    w: &AttributionWitness,
) -> Result<(Vec<u8>, Vec<Fr>)> {
    let (circuit, public) = {
        let _s = tracing::info_span!("zkattr_section", phase = "witness").entered();
        prover_circuit(keys, w)?
    };
    let proof = prove_gated_seeded(
        backend,
        srs,
        &keys.pk,
        circuit,
        &public,
        rand_chacha::ChaCha20Rng::from_entropy(),
    )?;
    Ok((proof, public))
}

/// [`prove_circuit_seeded`] for the attribution circuit, from its advice columns laid out directly
/// ([`GatedCircuit::advice_columns`], in parallel) instead of by halo2's one-cell-at-a-time synthesis: the
/// same proof, for the same verifying key, faster where the proving itself is fast (a GPU).
pub fn prove_gated_seeded<B: ProverBackend>(
    backend: &B,
    srs: &ParamsKZG<Bn256>,
    pk: &ProvingKey<G1Affine>,
    circuit: GatedCircuit,
    public: &[Fr],
    rng: rand_chacha::ChaCha20Rng,
) -> Result<Vec<u8>> {
    let advice = {
        let _s = tracing::info_span!("zkattr_section", phase = "advice_columns").entered();
        circuit.advice_columns()?
    };
    drop(circuit); // the builder's cells are in the columns now
    prove_advice_seeded(backend, srs, pk, advice, public, rng)
}

/// A SHPLONK proof with the Keccak transcript from a circuit's advice columns (one `Vec` of `2^k` values per
/// column, in the constraint system's order) and its one instance column `public`, made by `backend`.
pub fn prove_advice_seeded<B: ProverBackend>(
    backend: &B,
    srs: &ParamsKZG<Bn256>,
    pk: &ProvingKey<G1Affine>,
    advice: Vec<Vec<Fr>>,
    public: &[Fr],
    rng: rand_chacha::ChaCha20Rng,
) -> Result<Vec<u8>> {
    with_transcript(|transcript| {
        backend.create_proof_from_advice(srs, pk, advice, &[public], rng, transcript)
    })
}

type ProofTranscript = EvmTranscript<G1Affine, NativeLoader, Vec<u8>, Vec<u8>>;

/// The proof `prove` writes into a fresh Keccak transcript (snark-verifier's EVM layout).
fn with_transcript(
    prove: impl FnOnce(&mut ProofTranscript) -> std::result::Result<(), BackendError>,
) -> Result<Vec<u8>> {
    let mut transcript = <ProofTranscript as TranscriptWriterBuffer<_, G1Affine, _>>::init(vec![]);
    prove(&mut transcript).map_err(backend_error)?;
    Ok(transcript.finalize())
}

fn backend_error(e: BackendError) -> Error {
    match e {
        BackendError::Proof(m) => Error::InvalidStatement(format!("proving system: {m}")),
        other => Error::Backend(other.to_string()),
    }
}

/// A SHPLONK proof with the Keccak transcript of any circuit with one instance column holding `public`,
/// made on the CPU (what [`prove`] does for the attribution circuit; the tests and benches of the gates use
/// it directly).
pub fn prove_circuit<C: halo2_base::halo2_proofs::plonk::Circuit<Fr>>(
    srs: &ParamsKZG<Bn256>,
    pk: &ProvingKey<G1Affine>,
    circuit: C,
    public: &[Fr],
) -> Result<Vec<u8>> {
    prove_circuit_with(&CpuProver, srs, pk, circuit, public)
}

/// [`prove_circuit`] on `backend`, with a fresh random blinding.
pub fn prove_circuit_with<B: ProverBackend, C: halo2_base::halo2_proofs::plonk::Circuit<Fr>>(
    backend: &B,
    srs: &ParamsKZG<Bn256>,
    pk: &ProvingKey<G1Affine>,
    circuit: C,
    public: &[Fr],
) -> Result<Vec<u8>> {
    prove_circuit_seeded(
        backend,
        srs,
        pk,
        circuit,
        public,
        rand_chacha::ChaCha20Rng::from_entropy(),
    )
}

/// [`prove_circuit_with`] with the prover's randomness from `rng` (a seeded one makes the proof
/// reproducible on one backend; whether two backends then agree byte for byte is measured, not assumed).
pub fn prove_circuit_seeded<B: ProverBackend, C: halo2_base::halo2_proofs::plonk::Circuit<Fr>>(
    backend: &B,
    srs: &ParamsKZG<Bn256>,
    pk: &ProvingKey<G1Affine>,
    circuit: C,
    public: &[Fr],
    rng: rand_chacha::ChaCha20Rng,
) -> Result<Vec<u8>> {
    with_transcript(|transcript| backend.create_proof(srs, pk, circuit, &[public], rng, transcript))
}

/// Verifies `proof` (from [`prove`] or [`prove_circuit`]) against `public` with `vk`.
pub fn verify(
    srs: &ParamsKZG<Bn256>,
    vk: &VerifyingKey<G1Affine>,
    proof: &[u8],
    public: &[Fr],
) -> Result<()> {
    let mut transcript =
        <EvmTranscript<G1Affine, NativeLoader, &[u8], Vec<u8>> as TranscriptReadBuffer<
            _,
            G1Affine,
            _,
        >>::init(proof);
    verify_proof::<KZGCommitmentScheme<Bn256>, VerifierSHPLONK<'_, Bn256>, _, _, _>(
        srs.verifier_params(),
        vk,
        SingleStrategy::new(srs),
        &[&[public]],
        &mut transcript,
    )
    .map_err(|e| Error::InvalidStatement(format!("the proof does not verify: {e:?}")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_fast_test_setup_equals_halo2s_seeded_setup() {
        use halo2_base::halo2_proofs::SerdeFormat::RawBytes;
        for k in [1u32, 4, 9] {
            let bytes = |p: &ParamsKZG<Bn256>| {
                let mut b = Vec::new();
                p.write_custom(&mut b, RawBytes).unwrap();
                b
            };
            let seed = 0x07e5_75e7_u64 + u64::from(k);
            let slow = ParamsKZG::<Bn256>::setup(k, rand_chacha::ChaCha20Rng::seed_from_u64(seed));
            assert!(bytes(&seeded_setup(k, seed)) == bytes(&slow), "k = {k}");
        }
    }

    use super::*;
    use crate::{
        params::GovernanceParams,
        statement::{EpochInput, StatementItem},
    };

    fn epoch() -> EpochInput {
        let mut params = GovernanceParams::default();
        params.attribution.feature_dim = 8;
        params.circuit.max_contributors = 4;
        params.circuit.max_items = 16;
        params.circuit.shard_items = 8;
        EpochInput {
            chain_id: 1,
            settlement: [0x42; 20],
            epoch: 9,
            params,
            items: (0..10u8)
                .map(|i| StatementItem {
                    contributor: [1 + i % 3; 20],
                    content_hash: Fr::from(u64::from(i) + 500),
                    features: (0..8)
                        .map(|j| (i64::from(i) * 131 + j * 17) % 200 - 90)
                        .collect(),
                })
                .collect(),
            model_commitment: Fr::from(5u64),
            query_scale_log2: 3,
            query: vec![4, -1, 2, 0, 7, -3, 1, 1],
            pool: 10_000,
        }
    }

    #[test]
    fn srs_files_round_trip_downsize_and_refuse_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("srs-10.bin");
        let srs = insecure_test_srs(10);
        save_srs(&srs, &path).unwrap();
        let (same, digest) = load_srs(&path, 10).unwrap();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        srs.write(&mut a).unwrap();
        same.write(&mut b).unwrap();
        assert_eq!(a, b);
        let (small, digest2) = load_srs(&path, 8).unwrap();
        assert_eq!(small.k(), 8);
        assert_eq!(digest, digest2, "the digest is the file's");
        let err = load_srs(&path, 11).unwrap_err().to_string();
        assert!(err.contains("2^10 points") && err.contains("2^11"), "{err}");
        // A truncated file and a corrupted point are refused.
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        assert!(load_srs(&path, 8).is_err());
        // An encoding that is no curve point, and a valid point that breaks the powers-of-tau structure.
        let mut corrupt = bytes.clone();
        corrupt[4 + 32 * 3..4 + 32 * 4].fill(0xff);
        std::fs::write(&path, &corrupt).unwrap();
        assert!(load_srs(&path, 8).is_err());
        let mut swapped = bytes.clone();
        let (p1, p2) = (4 + 32, 4 + 64);
        let first: Vec<u8> = swapped[p1..p1 + 32].to_vec();
        let second: Vec<u8> = swapped[p2..p2 + 32].to_vec();
        swapped[p1..p1 + 32].copy_from_slice(&second);
        swapped[p2..p2 + 32].copy_from_slice(&first);
        std::fs::write(&path, &swapped).unwrap();
        let err = load_srs(&path, 8).unwrap_err().to_string();
        assert!(err.contains("not tau times"), "{err}");
        assert!(load_srs(&dir.path().join("missing"), 8).is_err());
        // A raw (uncompressed) file converts into the checked format.
        let raw = dir.path().join("raw.bin");
        let mut buf = Vec::new();
        srs.write(&mut buf).unwrap();
        std::fs::write(&raw, &buf).unwrap();
        let out = dir.path().join("converted.bin");
        assert_eq!(convert_raw_srs(&raw, &out).unwrap(), 10);
        assert_eq!(std::fs::read(&out).unwrap(), bytes);
    }

    #[test]
    fn keys_are_cached_checked_and_regenerated() {
        let (w, _) = AttributionWitness::honest(epoch()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let srs_path = dir.path().join("srs.bin");
        save_srs(&insecure_test_srs(15), &srs_path).unwrap();
        let (srs, digest) = load_srs(&srs_path, 15).unwrap();
        let cache = dir.path().join("keys");
        let first = keygen_cached(&srs, &digest, 10, &w, &cache).unwrap();
        assert!(first.from_cache.is_err());
        let second = keygen_cached(&srs, &digest, 10, &w, &cache).unwrap();
        assert_eq!(second.from_cache, Ok(()));
        assert_eq!(second.vk_keccak, first.vk_keccak);
        assert_eq!(second.id, first.id);
        // Cached keys prove, and the proof verifies under a freshly derived verifying key.
        let (proof, public) = prove(&srs, &second.keys, &w).unwrap();
        verify(&srs, first.keys.pk.get_vk(), &proof, &public).unwrap();
        // A corrupted proving key file is noticed and the entry rewritten.
        let pk = cache.join(format!("{}.pk", first.id));
        let mut bytes = std::fs::read(&pk).unwrap();
        bytes[1000] ^= 1;
        std::fs::write(&pk, bytes).unwrap();
        let third = keygen_cached(&srs, &digest, 10, &w, &cache).unwrap();
        assert!(third.from_cache.unwrap_err().contains("hash"));
        assert_eq!(
            keygen_cached(&srs, &digest, 10, &w, &cache)
                .unwrap()
                .from_cache,
            Ok(())
        );
        // Another SRS digest is another cache entry.
        let other = keygen_cached(&srs, &[7; 32], 10, &w, &cache).unwrap();
        assert_ne!(other.id, first.id);
    }

    #[test]
    fn sizing_follows_max_items_not_the_item_count() {
        let (w, _) = AttributionWitness::honest(epoch()).unwrap();
        let small = shape(&w, 10).unwrap();
        let mut fewer = epoch();
        fewer.items.truncate(3);
        let (w_fewer, _) = AttributionWitness::honest(fewer).unwrap();
        assert_eq!(shape(&w_fewer, 10).unwrap(), small);
        let mut e = epoch();
        let extra = e.items.clone();
        e.items.extend(extra);
        e.params.circuit.max_items = 32;
        let (w2, _) = AttributionWitness::honest(e).unwrap();
        let big = shape(&w2, 10).unwrap();
        assert!(big.advice_cells > small.advice_cells && big.lookup_cells > small.lookup_cells);
        assert!(choose_k(&small, 10) >= 11);
        let huge = Shape {
            advice_cells: 40 << 20,
            ..small
        };
        // The smallest k at which the cells fit MAX_ADVICE_COLUMNS columns.
        let k = choose_k(&huge, 10);
        let fits =
            |k: u32| huge.advice_cells.div_ceil((1 << k) - UNUSABLE_ROWS) <= MAX_ADVICE_COLUMNS;
        assert!(fits(k) && !fits(k - 1), "k = {k}");
    }

    #[test]
    fn a_real_proof_verifies_and_tampering_fails() {
        let (w, o) = AttributionWitness::honest(epoch()).unwrap();
        let srs = insecure_test_srs(15);
        let keys = keygen(&srs, 10, &w).unwrap();
        let (proof, public) = prove(&srs, &keys, &w).unwrap();
        assert_eq!(public, o.public.to_field_elements().to_vec());
        verify(&srs, keys.pk.get_vk(), &proof, &public).unwrap();
        // Another epoch number, or one flipped proof byte, does not verify.
        let mut other = public.clone();
        other[2] += Fr::from(1u64);
        assert!(verify(&srs, keys.pk.get_vk(), &proof, &other).is_err());
        let mut bad = proof.clone();
        bad[100] ^= 1;
        assert!(verify(&srs, keys.pk.get_vk(), &bad, &public).is_err());
        // Keys are a function of the SRS and the shape: a second keygen, and one from the all-zero placeholder
        // epoch of the same size and parameters (what a verifier without the data uses), give the same
        // verifying key.
        let again = keygen(&srs, 10, &w).unwrap();
        let e = epoch();
        let (placeholder, _) = AttributionWitness::honest(crate::statement::placeholder_epoch(
            e.params,
            e.items.len(),
        ))
        .unwrap();
        let from_placeholder = keygen(&srs, 10, &placeholder).unwrap();
        use halo2_base::halo2_proofs::SerdeFormat::RawBytes;
        let vk = keys.pk.get_vk().to_bytes(RawBytes);
        assert_eq!(again.pk.get_vk().to_bytes(RawBytes), vk);
        assert_eq!(from_placeholder.pk.get_vk().to_bytes(RawBytes), vk);
        // And the placeholder's keys prove the real epoch.
        let (proof2, _) = prove(&srs, &from_placeholder, &w).unwrap();
        verify(&srs, keys.pk.get_vk(), &proof2, &public).unwrap();
    }
}
