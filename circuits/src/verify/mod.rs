//! Verifying attribution proofs with halo2-axiom alone: what a receipt carries and what the WebAssembly
//! verifier in the browser runs (feature `verify`; no halo2-base, no prover, no EVM).
//!
//! A SHPLONK verifier over KZG needs three points of the setup (the G1 generator `g1`, the G2 generator `g2`
//! and `s·g2`) and the verifying key. [`VerifierKey`] holds exactly that; [`VerifierKeyFile`] is its JSON
//! form (documented in `docs/receipts.md`).
//!
//! The verifying key's bytes (halo2-axiom `SerdeFormat::RawBytes`) do not hold the constraint system:
//! halo2 rebuilds it by running the circuit's `configure`. The circuit is written with halo2-base, which
//! WebAssembly cannot build (its halo2-axiom has threads), so the prover describes the key's constraint
//! system as data ([`CsDescription`], made by `zkattr_circuits::halo2::verifier` after selectors became
//! fixed columns, so the key travels without selector assignments) and [`configure`] rebuilds exactly that.
//! Nothing here trusts the description: halo2 hashes the whole constraint system into the key's transcript
//! representative ([`VerifierKey::transcript_repr`]), which opens the proof's transcript, so a description
//! that differs from the circuit the proof was made for makes the proof fail; and `zkattr receipt verify
//! --srs` re-derives the key from the setup and the circuit and compares. What a contributor compares is
//! [`VerifierKey::fingerprint`], which covers the representative and the setup points.
//!
//! The verifier itself is [`Key::verify`] (module `plonk`): halo2's verifying algorithm run on the key's
//! parts, because halo2-axiom builds its own verifying key only with an evaluation domain whose FFT tables
//! cost far more than verifying (tested to accept and refuse the same proofs as halo2-axiom's verifier).
//! The Fiat–Shamir transcript is [`KeccakTranscript`], written here from the layout of snark-verifier's
//! `EvmTranscript` (the one the prover writes and the Solidity verifier reads); a test checks that both
//! accept and refuse the same proofs.

use std::io::{self, Read};

use halo2_axiom::{
    arithmetic::CurveAffine,
    halo2curves::{
        bn256::{Fq, G1Affine, G2Affine},
        ff::PrimeField,
        group::GroupEncoding,
        serde::SerdeObject,
    },
    plonk::{
        Advice, Challenge, Column, ConstraintSystem, Expression, FirstPhase, Fixed, Instance,
        SecondPhase, Selector, ThirdPhase,
    },
    poly::Rotation,
    transcript::{EncodedChallenge, Transcript, TranscriptRead},
};
use serde::{Deserialize, Serialize};
use sha3::{Digest, Keccak256};

mod plonk;

pub use plonk::Key;

use crate::{
    error::{Error, Result},
    field::{self, Fr},
};

fn bad(reason: impl Into<String>) -> Error {
    Error::InvalidStatement(reason.into())
}
/// A challenge of [`KeccakTranscript`]: the 32-byte digest read big-endian and reduced modulo `p`.
#[derive(Debug, Clone, Copy)]
pub struct KeccakChallenge(Fr);

impl EncodedChallenge<G1Affine> for KeccakChallenge {
    type Input = [u8; 32];

    fn new(input: &[u8; 32]) -> Self {
        Self(field::from_bytes_be_reduced(input))
    }

    fn get_scalar(&self) -> Fr {
        self.0
    }
}

/// The proof reader with the EVM verifier's Fiat–Shamir rules.
///
/// - The state is a byte string, empty at the start.
/// - Absorbing a scalar appends its 32 big-endian bytes; absorbing a point appends `x` then `y`, 32
///   big-endian bytes each. The point at infinity is (0, 0) in halo2curves' affine form, so it is absorbed
///   as 64 zero bytes, as snark-verifier's EVM transcript does (and a proof may carry it: halo2 accepts
///   identity commitments; KZG's soundness does not depend on refusing them).
/// - Squeezing hashes the state with keccak256 (after appending one byte `0x01` when the state is exactly a
///   previous digest, so that two challenges in a row differ), replaces the state by the digest, and reads
///   the digest as a big-endian integer modulo `p`.
/// - Proof elements are read in the same encodings and absorbed as read; a coordinate or scalar that is not
///   canonical (not below its modulus) or a point off the curve is an error.
#[derive(Debug)]
pub struct KeccakTranscript<R> {
    reader: R,
    state: Vec<u8>,
}

impl<R: Read> KeccakTranscript<R> {
    /// A transcript reading the proof from `reader`.
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            state: Vec::new(),
        }
    }

    fn read_32(&mut self) -> io::Result<[u8; 32]> {
        let mut b = [0u8; 32];
        self.reader.read_exact(&mut b)?;
        Ok(b)
    }
}

fn invalid_data(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

impl<R: Read> Transcript<G1Affine, KeccakChallenge> for KeccakTranscript<R> {
    fn squeeze_challenge(&mut self) -> KeccakChallenge {
        if self.state.len() == 32 {
            self.state.push(1);
        }
        let digest: [u8; 32] = Keccak256::digest(&self.state).into();
        self.state = digest.to_vec();
        KeccakChallenge::new(&digest)
    }

    fn common_point(&mut self, point: G1Affine) -> io::Result<()> {
        let (x, y): (Fq, Fq) = Option::from(point.coordinates().map(|c| (*c.x(), *c.y())))
            // Never taken for BN254's G1 (the identity's coordinates are (0, 0)); kept for curves whose
            // identity has none.
            .ok_or_else(|| {
                invalid_data("a point without affine coordinates cannot enter the transcript")
            })?;
        for coordinate in [x, y] {
            let mut repr = coordinate.to_repr();
            repr.as_mut().reverse();
            self.state.extend_from_slice(repr.as_ref());
        }
        Ok(())
    }

    fn common_scalar(&mut self, scalar: Fr) -> io::Result<()> {
        self.state.extend_from_slice(&field::to_bytes_be(&scalar));
        Ok(())
    }
}

impl<R: Read> TranscriptRead<G1Affine, KeccakChallenge> for KeccakTranscript<R> {
    fn read_point(&mut self) -> io::Result<G1Affine> {
        let mut coordinate = || -> io::Result<Fq> {
            let mut b = self.read_32()?;
            b.reverse();
            Option::from(Fq::from_repr(b)).ok_or_else(|| {
                invalid_data("a coordinate in the proof is not below the base field's modulus")
            })
        };
        let (x, y) = (coordinate()?, coordinate()?);
        let point: G1Affine = Option::from(G1Affine::from_xy(x, y))
            .ok_or_else(|| invalid_data("a point in the proof is not on the curve"))?;
        self.common_point(point)?;
        Ok(point)
    }

    fn read_scalar(&mut self) -> io::Result<Fr> {
        let b = self.read_32()?;
        let scalar = field::from_bytes_be(&b).ok_or_else(|| {
            invalid_data("a scalar in the proof is not below the field's modulus")
        })?;
        self.common_scalar(scalar)?;
        Ok(scalar)
    }
}

/// Most columns, selectors, gates or lookups a described constraint system may have (the attribution
/// circuit has fewer than 100 of each).
pub const MAX_COLUMNS: usize = 1024;
/// Largest rotation a query may have (the attribution circuit's are at most a few rows).
pub const MAX_ROTATION: u32 = 64;
/// Largest circuit size (`2^k` rows) a key may have: verifying builds tables of `2^(k+2)` entries.
pub const MAX_K: u32 = 24;

/// A polynomial of the constraint system, as data. Queries name their column by index and their rotation;
/// constants are field elements in hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expr {
    /// A constant.
    Constant(#[serde(with = "field::serde_hex")] Fr),
    /// Selector `index`.
    Selector(usize),
    /// Fixed column `.0` at rotation `.1`.
    Fixed(usize, i32),
    /// Advice column `.0` at rotation `.1`.
    Advice(usize, i32),
    /// Instance column `.0` at rotation `.1`.
    Instance(usize, i32),
    /// Challenge `index`.
    Challenge(usize),
    /// `-a`.
    Negated(Box<Expr>),
    /// `a + b`.
    Sum(Box<Expr>, Box<Expr>),
    /// `a * b`.
    Product(Box<Expr>, Box<Expr>),
    /// `a * c` for a constant `c`.
    Scaled(Box<Expr>, #[serde(with = "field::serde_hex")] Fr),
}

/// A column of the permutation argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnRef {
    /// Advice column.
    Advice(usize),
    /// Fixed column.
    Fixed(usize),
    /// Instance column.
    Instance(usize),
}

/// A gate: its name, its constraints' names and polynomials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateDesc {
    /// Name.
    pub name: String,
    /// Constraint names.
    pub constraint_names: Vec<String>,
    /// Polynomials.
    pub polys: Vec<Expr>,
}

/// A lookup argument.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupDesc {
    /// Name.
    pub name: String,
    /// Input expressions.
    pub inputs: Vec<Expr>,
    /// Table expressions.
    pub tables: Vec<Expr>,
}

/// A constraint system before selector compression, as the circuit's `configure` leaves it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsDescription {
    /// Fixed columns.
    pub fixed_columns: usize,
    /// The phase of each advice column.
    pub advice_phases: Vec<u8>,
    /// Instance columns.
    pub instance_columns: usize,
    /// Whether each selector is simple.
    pub selectors_simple: Vec<bool>,
    /// The phase after which each challenge is usable.
    pub challenge_phases: Vec<u8>,
    /// Advice queries `(column, rotation)` in registration order.
    pub advice_queries: Vec<(usize, i32)>,
    /// Fixed queries in registration order.
    pub fixed_queries: Vec<(usize, i32)>,
    /// Instance queries in registration order.
    pub instance_queries: Vec<(usize, i32)>,
    /// Gates in order.
    pub gates: Vec<GateDesc>,
    /// Columns of the permutation argument in order.
    pub permutation: Vec<ColumnRef>,
    /// Fixed columns enabled for constants, in order.
    pub constants: Vec<usize>,
    /// Lookup arguments in order.
    pub lookups: Vec<LookupDesc>,
    /// The minimum degree the circuit asked for.
    pub minimum_degree: Option<usize>,
}

fn phase_column(meta: &mut ConstraintSystem<Fr>, phase: u8) -> Column<Advice> {
    match phase {
        0 => meta.advice_column_in(FirstPhase),
        1 => meta.advice_column_in(SecondPhase),
        _ => meta.advice_column_in(ThirdPhase),
    }
}

struct Columns {
    advice: Vec<Column<Advice>>,
    fixed: Vec<Column<Fixed>>,
    instance: Vec<Column<Instance>>,
    selectors: Vec<Selector>,
    challenges: Vec<Challenge>,
}

impl Columns {
    fn expr(&self, vc: &mut halo2_axiom::plonk::VirtualCells<'_, Fr>, e: &Expr) -> Expression<Fr> {
        match e {
            Expr::Constant(c) => Expression::Constant(*c),
            Expr::Selector(i) => vc.query_selector(self.selectors[*i]),
            Expr::Fixed(c, r) => vc.query_fixed(self.fixed[*c], Rotation(*r)),
            Expr::Advice(c, r) => vc.query_advice(self.advice[*c], Rotation(*r)),
            Expr::Instance(c, r) => vc.query_instance(self.instance[*c], Rotation(*r)),
            Expr::Challenge(i) => vc.query_challenge(self.challenges[*i]),
            Expr::Negated(a) => -self.expr(vc, a),
            Expr::Sum(a, b) => self.expr(vc, a) + self.expr(vc, b),
            Expr::Product(a, b) => self.expr(vc, a) * self.expr(vc, b),
            Expr::Scaled(a, c) => self.expr(vc, a) * *c,
        }
    }
}

impl CsDescription {
    /// Checks that every index names an existing column, selector or challenge (a description that does not
    /// would make `configure` panic).
    pub fn validate(&self) -> Result<()> {
        let (na, nf, ni) = (
            self.advice_phases.len(),
            self.fixed_columns,
            self.instance_columns,
        );
        let (ns, nc) = (self.selectors_simple.len(), self.challenge_phases.len());
        if na > MAX_COLUMNS || nf > MAX_COLUMNS || ns > MAX_COLUMNS || ni > 16 || nc > 16 {
            return Err(bad(format!(
                "the constraint system is larger than any attribution circuit ({na} advice, {nf} fixed, \
                 {ni} instance columns, {ns} selectors, {nc} challenges)"
            )));
        }
        if self.gates.is_empty()
            || self.gates.len() > MAX_COLUMNS
            || self.lookups.len() > MAX_COLUMNS
        {
            return Err(bad(
                "the constraint system has no gates, or too many gates or lookups",
            ));
        }
        fn walk(e: &Expr, ok: &dyn Fn(&Expr) -> bool) -> bool {
            ok(e)
                && match e {
                    Expr::Negated(a) | Expr::Scaled(a, _) => walk(a, ok),
                    Expr::Sum(a, b) | Expr::Product(a, b) => walk(a, ok) && walk(b, ok),
                    _ => true,
                }
        }
        let rot = |r: i32| r.unsigned_abs() <= MAX_ROTATION;
        // Selectors have become fixed columns in a verifying key's constraint system: none may remain.
        let leaf = |e: &Expr| match e {
            Expr::Selector(_) => false,
            Expr::Fixed(c, r) => *c < nf && rot(*r),
            Expr::Advice(c, r) => *c < na && rot(*r),
            Expr::Instance(c, r) => *c < ni && rot(*r),
            Expr::Challenge(i) => *i < nc,
            _ => true,
        };
        let exprs_ok = self.gates.iter().all(|g| {
            !g.polys.is_empty()
                && g.polys.len() == g.constraint_names.len()
                && g.polys.iter().all(|p| walk(p, &leaf))
        }) && self.lookups.iter().all(|l| {
            !l.inputs.is_empty()
                && l.inputs.len() == l.tables.len()
                && l.inputs.iter().chain(&l.tables).all(|p| walk(p, &leaf))
        });
        // Each query is one evaluation in every proof: a key cannot ask for more than its columns allow.
        let queries =
            self.advice_queries.len() + self.fixed_queries.len() + self.instance_queries.len();
        let columns_ok = queries <= 4 * MAX_COLUMNS
            && self.advice_queries.iter().all(|q| q.0 < na && rot(q.1))
            && self.fixed_queries.iter().all(|q| q.0 < nf && rot(q.1))
            && self.instance_queries.iter().all(|q| q.0 < ni && rot(q.1))
            && self.constants.iter().all(|c| *c < nf)
            && self.permutation.iter().all(|c| match c {
                ColumnRef::Advice(i) => *i < na,
                ColumnRef::Fixed(i) => *i < nf,
                ColumnRef::Instance(i) => *i < ni,
            });
        // halo2 creates an advice column of phase p > 0 only after one of phase p - 1, and a challenge of
        // phase p only when an advice column of phase p exists.
        let phases_ok = self
            .advice_phases
            .iter()
            .enumerate()
            .all(|(j, &p)| p < 3 && (p == 0 || self.advice_phases[..j].contains(&(p - 1))))
            && self
                .challenge_phases
                .iter()
                .all(|p| self.advice_phases.contains(p));
        if !(exprs_ok && columns_ok && phases_ok) {
            return Err(bad(
                "the constraint-system description is not one halo2 can build: a column, selector, \
                 challenge, rotation or phase it cannot have",
            ));
        }
        Ok(())
    }
}

/// Configures `meta` as `d` describes: the same columns, selectors, challenges, queries (in the same
/// order), gates, permutation columns, constants, lookups and minimum degree. `d` must be valid
/// ([`CsDescription::validate`]).
pub fn configure(meta: &mut ConstraintSystem<Fr>, d: &CsDescription) {
    // Columns, selectors and challenges are numbered per kind, so creating them kind by kind gives the
    // original numbering.
    let cols = Columns {
        advice: d
            .advice_phases
            .iter()
            .map(|&p| phase_column(meta, p))
            .collect(),
        fixed: (0..d.fixed_columns).map(|_| meta.fixed_column()).collect(),
        instance: (0..d.instance_columns)
            .map(|_| meta.instance_column())
            .collect(),
        selectors: d
            .selectors_simple
            .iter()
            .map(|&simple| {
                if simple {
                    meta.selector()
                } else {
                    meta.complex_selector()
                }
            })
            .collect(),
        challenges: d
            .challenge_phases
            .iter()
            .map(|&p| match p {
                0 => meta.challenge_usable_after(FirstPhase),
                1 => meta.challenge_usable_after(SecondPhase),
                _ => meta.challenge_usable_after(ThirdPhase),
            })
            .collect(),
    };
    // Queries are numbered in the order they are first made, and the verifier reads the proof's
    // evaluations in that order: make every recorded query first, inside the first gate.
    for (i, g) in d.gates.iter().enumerate() {
        meta.create_gate(g.name.clone(), |vc| {
            if i == 0 {
                for &(c, r) in &d.advice_queries {
                    vc.query_advice(cols.advice[c], Rotation(r));
                }
                for &(c, r) in &d.fixed_queries {
                    vc.query_fixed(cols.fixed[c], Rotation(r));
                }
                for &(c, r) in &d.instance_queries {
                    vc.query_instance(cols.instance[c], Rotation(r));
                }
            }
            g.constraint_names
                .iter()
                .zip(&g.polys)
                .map(|(n, p)| (n.clone(), cols.expr(vc, p)))
                .collect::<Vec<_>>()
        });
    }
    for c in &d.permutation {
        match *c {
            ColumnRef::Advice(i) => meta.enable_equality(cols.advice[i]),
            ColumnRef::Fixed(i) => meta.enable_equality(cols.fixed[i]),
            ColumnRef::Instance(i) => meta.enable_equality(cols.instance[i]),
        }
    }
    for &c in &d.constants {
        meta.enable_constant(cols.fixed[c]);
    }
    for l in &d.lookups {
        meta.lookup_any(l.name.clone(), |vc| {
            l.inputs
                .iter()
                .zip(&l.tables)
                .map(|(a, b)| (cols.expr(vc, a), cols.expr(vc, b)))
                .collect()
        });
    }
    if let Some(m) = d.minimum_degree {
        meta.set_minimum_degree(m);
    }
}

/// What verifying needs: the circuit's size and shape, its verifying key and three setup points.
#[derive(Debug, Clone)]
pub struct VerifierKey {
    /// log2 of the circuit's rows.
    pub k: u32,
    /// The constraint system.
    pub cs: CsDescription,
    key: Key,
    vk_bytes: Vec<u8>,
    g1: G1Affine,
    g2: G2Affine,
    s_g2: G2Affine,
}

/// [`VerifierKey`] as JSON: hex strings (`0x…`), points in their compressed encodings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifierKeyFile {
    /// log2 of the circuit's rows.
    pub k: u32,
    /// The circuit's constraint system before selector compression.
    pub constraint_system: CsDescription,
    /// The verifying key: halo2-axiom `SerdeFormat::RawBytes` up to its commitments (see [`VerifierKey`]).
    pub vk: String,
    /// keccak256 of those bytes.
    pub vk_keccak: String,
    /// The setup's G1 generator (32 bytes compressed).
    pub g1: String,
    /// The setup's G2 generator (64 bytes compressed).
    pub g2: String,
    /// `s·g2` (64 bytes compressed).
    pub s_g2: String,
}

fn hex_bytes(what: &str, s: &str) -> Result<Vec<u8>> {
    hex::decode(s.strip_prefix("0x").unwrap_or(s))
        .map_err(|e| bad(format!("{what}: not hex ({e})")))
}

fn point<P: GroupEncoding>(what: &str, s: &str) -> Result<P> {
    let bytes = hex_bytes(what, s)?;
    let mut repr = P::Repr::default();
    if repr.as_ref().len() != bytes.len() {
        return Err(bad(format!(
            "{what}: {} bytes; a compressed point has {}",
            bytes.len(),
            repr.as_ref().len()
        )));
    }
    repr.as_mut().copy_from_slice(&bytes);
    Option::from(P::from_bytes(&repr))
        .ok_or_else(|| bad(format!("{what}: not a point of the group")))
}

fn keccak_hex(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(Keccak256::digest(bytes)))
}

/// Reads the verifying key's bytes (without selector assignments; see `zkattr_circuits::halo2::verifier`)
/// for the constraint system `d`: version byte 2, `k` (4 bytes little-endian), the selector-compression
/// flag, the number of fixed commitments (4 bytes little-endian), the fixed commitments and the permutation
/// commitments (uncompressed G1 points, 64 bytes each, halo2's raw form), and nothing more.
fn read_key(bytes: &[u8], d: &CsDescription) -> Result<Key> {
    let mut r = bytes;
    let mut take = |n: usize, what: &str| -> Result<&[u8]> {
        if r.len() < n {
            return Err(bad(format!("the verifying key ends inside {what}")));
        }
        let (head, rest) = r.split_at(n);
        r = rest;
        Ok(head)
    };
    if take(1, "its version")? != [2] {
        return Err(bad(
            "the verifying key is not in halo2-axiom's format (version byte 2)",
        ));
    }
    let k = u32::from_le_bytes(take(4, "k")?.try_into().expect("4 bytes"));
    if !(1..=MAX_K).contains(&k) {
        return Err(bad(format!(
            "the verifying key says k = {k}; keys of 2 to 2^{MAX_K} rows are read"
        )));
    }
    // The selector-compression flag: how the key's fixed columns were made, not read by a verifier.
    if !matches!(take(1, "its selector flag")?, [0] | [1]) {
        return Err(bad("the verifying key's selector flag is not 0 or 1"));
    }
    let fixed =
        u32::from_le_bytes(take(4, "its column count")?.try_into().expect("4 bytes")) as usize;
    // The sizes must agree before anything is built from the description.
    if fixed != d.fixed_columns || bytes.len() != 10 + 64 * (fixed + d.permutation.len()) {
        return Err(bad(format!(
            "the verifying key has {fixed} fixed commitments in {} bytes; its constraint system {} fixed \
             and {} permutation columns",
            bytes.len(),
            d.fixed_columns,
            d.permutation.len()
        )));
    }
    let mut cs = ConstraintSystem::<Fr>::default();
    configure(&mut cs, d);
    // The evaluation domain holds 2^(k + log2(degree - 1)) points at most 2^28 (the field's two-adicity).
    if cs.degree() < 3 {
        return Err(bad(format!(
            "the constraint system has degree {}; a halo2 circuit with a permutation has at least 3",
            cs.degree()
        )));
    }
    let degree = cs.degree() as u64;
    if (u64::from(k) + 64 - u64::from((degree - 2).leading_zeros())) > u64::from(MAX_K + 2) {
        return Err(bad(format!(
            "a circuit of degree {degree} on 2^{k} rows is larger than this verifier reads"
        )));
    }
    let mut point = |what: &str| -> Result<G1Affine> {
        G1Affine::from_raw_bytes(take(64, what)?)
            .ok_or_else(|| bad(format!("the verifying key's {what} is not a curve point")))
    };
    let fixed_commitments = (0..fixed)
        .map(|_| point("fixed commitment"))
        .collect::<Result<Vec<_>>>()?;
    let sigma = (0..cs.permutation().get_columns().len())
        .map(|_| point("permutation commitment"))
        .collect::<Result<Vec<_>>>()?;
    if !r.is_empty() {
        return Err(bad(format!(
            "the verifying key has {} bytes after its commitments",
            r.len()
        )));
    }
    Ok(Key::new(k, cs, fixed_commitments, sigma))
}

impl VerifierKey {
    /// Reads the JSON form: checks the key's hash, the points and that the key is for `k`.
    pub fn from_file(f: &VerifierKeyFile) -> Result<Self> {
        let vk_bytes = hex_bytes("vk", &f.vk)?;
        if keccak_hex(&vk_bytes) != f.vk_keccak.to_lowercase() {
            return Err(bad("the verifying key's bytes do not hash to vk_keccak"));
        }
        f.constraint_system.validate()?;
        let key = read_key(&vk_bytes, &f.constraint_system)?;
        if key.k != f.k {
            return Err(bad(format!(
                "the verifying key is for k = {}, not {}",
                key.k, f.k
            )));
        }
        Ok(Self {
            k: key.k,
            cs: f.constraint_system.clone(),
            key,
            vk_bytes,
            g1: point("g1", &f.g1)?,
            g2: point("g2", &f.g2)?,
            s_g2: point("s_g2", &f.s_g2)?,
        })
    }

    /// The JSON form.
    pub fn to_file(&self) -> VerifierKeyFile {
        VerifierKeyFile {
            k: self.k,
            constraint_system: self.cs.clone(),
            vk: format!("0x{}", hex::encode(&self.vk_bytes)),
            vk_keccak: self.vk_keccak(),
            g1: format!("0x{}", hex::encode(self.g1.to_bytes())),
            g2: format!("0x{}", hex::encode(self.g2.to_bytes())),
            s_g2: format!("0x{}", hex::encode(self.s_g2.to_bytes())),
        }
    }

    /// keccak256 of the verifying key's bytes, `0x…`.
    pub fn vk_keccak(&self) -> String {
        keccak_hex(&self.vk_bytes)
    }

    /// The verifying key's transcript representative (`0x…`): halo2's hash of the whole key (domain,
    /// constraint system, fixed and permutation commitments), the first thing a proof's transcript absorbs.
    pub fn transcript_repr(&self) -> String {
        field::to_hex(&self.key.transcript_repr())
    }

    /// What a contributor compares (`0x…`): keccak256 of the key's transcript representative (32 bytes,
    /// little-endian) and the setup's three points as [`VerifierKey::setup_points`] gives them. The setup
    /// points are part of it because the representative does not cover them, and a verifier given an `s·g2`
    /// whose secret is known accepts forged openings.
    pub fn fingerprint(&self) -> String {
        let mut h = Keccak256::new();
        h.update(self.key.transcript_repr().to_repr());
        let (g1, g2, s_g2) = self.setup_points();
        for p in [g1, g2, s_g2] {
            h.update(p);
        }
        format!("0x{}", hex::encode(h.finalize()))
    }

    /// The setup's three points, compressed: `g1`, `g2`, `s·g2`.
    pub fn setup_points(&self) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        (
            self.g1.to_bytes().as_ref().to_vec(),
            self.g2.to_bytes().as_ref().to_vec(),
            self.s_g2.to_bytes().as_ref().to_vec(),
        )
    }

    /// Verifies `proof` for the public inputs `public` (in statement order, one instance column).
    pub fn verify(&self, proof: &[u8], public: &[Fr]) -> Result<()> {
        self.key
            .verify(proof, &[public], self.g1, self.g2, self.s_g2)
    }
}
