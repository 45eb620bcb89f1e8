//! The governance parameter set (DESIGN §6): typed, versioned, TOML, bound to proofs by [`GovernanceParams::hash`].
//!
//! Parameters of two kinds live here. *Value* parameters (scales, `min_score`, `max_share_bps`) only
//! change numbers: they are witness values of the circuit, bound by `params_hash`. *Shape* parameters
//! (bit widths, `feature_dim`, everything under `[circuit]`) change the circuit itself: a new value needs
//! new proving/verifying keys and a new verifier contract, registered under the new `params_hash`.
//!
//! ```toml
//! version = 1
//!
//! [fixed_point]
//! feature_bits = 16        # shape: signed width of per-item feature entries
//! feature_scale_log2 = 12  # value: features are integers q standing for q / 2^12
//! query_bits = 16          # shape: signed width of query-vector entries (each query has its own scale)
//!
//! [attribution]
//! feature_dim = 64         # shape: length of feature and query vectors
//! clamp = "contributor"    # value: S_c = max(0, sum of the contributor's scores)
//! min_score = 0            # value: S_c below this (raw integer units) earns nothing
//! max_share_bps = 10000    # value: cap on one contributor's share of the pool, in basis points
//!
//! [circuit]
//! k = 20                   # shape: the circuit has at most 2^k rows (2,048 items need 2^19)
//! lookup_bits = 16         # shape: range-check lookup table width
//! max_items = 2048         # shape: items per proof
//! max_contributors = 32    # shape: reward-list entries per proof
//! shard_items = 256        # shape: items per shard when an epoch is split (DESIGN §7)
//! ```
//!
//! Shape widths are bounded together: `feature_bits + query_bits - 2` plus the bit lengths of `feature_dim`
//! and `max_items` may not exceed 63 ([`MAX_SUM_BITS`]), since the circuit range-checks each contributor's
//! score sum as a signed 64-bit value (the default set needs 49).

use serde::{Deserialize, Serialize};

use crate::{
    error::{Error, Result},
    field::{self, Fr},
    fixed::FixedFormat,
    poseidon,
};

/// The parameter-set version this code reads and writes.
pub const PARAMS_VERSION: u32 = 1;

/// Domain tag that starts the hashed encoding: the ASCII bytes `zkattr.params` read as a big-endian integer.
pub fn params_domain() -> Fr {
    let tag = b"zkattr.params";
    let mut b = [0u8; 32];
    b[32 - tag.len()..].copy_from_slice(tag);
    field::from_bytes_be(&b).expect("13 bytes are below the modulus")
}

/// Fixed-point formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedPointParams {
    /// Signed width of per-item feature entries (shape).
    pub feature_bits: u32,
    /// Global scale of features: `q` stands for `q / 2^feature_scale_log2` (value).
    pub feature_scale_log2: i32,
    /// Signed width of query-vector entries; each query vector carries its own scale (shape).
    pub query_bits: u32,
}

/// How per-item scores are turned into contributor scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClampMode {
    /// `S_c = max(0, sum_{i in c} score_i)`: negative items offset positive ones of the same contributor.
    Contributor,
}

impl ClampMode {
    fn code(self) -> u64 {
        match self {
            ClampMode::Contributor => 1,
        }
    }
}

/// How scores become rewards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributionParams {
    /// Length of feature and query vectors (shape).
    pub feature_dim: u32,
    /// Clamping rule (value).
    pub clamp: ClampMode,
    /// Contributor scores below this, in raw integer units, earn nothing (value).
    pub min_score: i64,
    /// Cap on one contributor's share of the pool in basis points, 1..=10000 (value).
    pub max_share_bps: u32,
}

/// Circuit sizes (all shape).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircuitParams {
    /// The circuit has `2^k` rows.
    pub k: u32,
    /// Width of the range-check lookup table.
    pub lookup_bits: u32,
    /// Items per proof.
    pub max_items: u32,
    /// Reward-list entries per proof.
    pub max_contributors: u32,
    /// Items per shard when an epoch is split across provers.
    pub shard_items: u32,
}

/// The full parameter set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GovernanceParams {
    /// Must equal [`PARAMS_VERSION`].
    pub version: u32,
    /// Fixed-point formats.
    pub fixed_point: FixedPointParams,
    /// Scoring and reward rules.
    pub attribution: AttributionParams,
    /// Circuit sizes.
    pub circuit: CircuitParams,
}

impl Default for GovernanceParams {
    fn default() -> Self {
        Self {
            version: PARAMS_VERSION,
            fixed_point: FixedPointParams {
                feature_bits: 16,
                feature_scale_log2: 12,
                query_bits: 16,
            },
            attribution: AttributionParams {
                feature_dim: 64,
                clamp: ClampMode::Contributor,
                min_score: 0,
                max_share_bps: 10_000,
            },
            circuit: CircuitParams {
                k: 20,
                lookup_bits: 16,
                max_items: 2048,
                max_contributors: 32,
                shard_items: 256,
            },
        }
    }
}

fn invalid(field: &'static str, value: impl ToString, reason: impl Into<String>) -> Error {
    Error::InvalidParam {
        field,
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// The most bits a contributor's score sum may need: the circuit range-checks it as a signed 64-bit value.
pub const MAX_SUM_BITS: u32 = 63;

fn bit_length(x: u64) -> u32 {
    u64::BITS - x.leading_zeros()
}

impl GovernanceParams {
    /// Bits that bound a contributor's score sum under these parameters: `|score_i| < feature_dim *
    /// 2^(feature_bits-1) * 2^(query_bits-1)`, summed over at most `max_items` items (bit lengths, so
    /// rounded up).
    pub fn contributor_sum_bits(&self) -> u32 {
        let fp = &self.fixed_point;
        (fp.feature_bits + fp.query_bits).saturating_sub(2)
            + bit_length(u64::from(self.attribution.feature_dim))
            + bit_length(u64::from(self.circuit.max_items))
    }

    /// Parses and validates TOML text.
    pub fn from_toml(text: &str) -> Result<Self> {
        let p: Self = toml::from_str(text)?;
        p.validate()?;
        Ok(p)
    }

    /// Writes TOML text (validating first).
    pub fn to_toml(&self) -> Result<String> {
        self.validate()?;
        Ok(toml::to_string(self)?)
    }

    /// The feature format.
    pub fn feature_format(&self) -> FixedFormat {
        FixedFormat {
            bits: self.fixed_point.feature_bits,
            scale_log2: self.fixed_point.feature_scale_log2,
        }
    }

    /// Checks every field's range and that no score sum can wrap around the field.
    pub fn validate(&self) -> Result<()> {
        if self.version != PARAMS_VERSION {
            return Err(invalid(
                "version",
                self.version,
                format!("this build reads version {PARAMS_VERSION}"),
            ));
        }
        let fp = &self.fixed_point;
        if !(2..=32).contains(&fp.feature_bits) {
            return Err(invalid(
                "fixed_point.feature_bits",
                fp.feature_bits,
                "must be 2..=32",
            ));
        }
        if !(-64..=64).contains(&fp.feature_scale_log2) {
            return Err(invalid(
                "fixed_point.feature_scale_log2",
                fp.feature_scale_log2,
                "must be -64..=64",
            ));
        }
        if !(2..=32).contains(&fp.query_bits) {
            return Err(invalid(
                "fixed_point.query_bits",
                fp.query_bits,
                "must be 2..=32",
            ));
        }
        let a = &self.attribution;
        if !(1..=4096).contains(&a.feature_dim) {
            return Err(invalid(
                "attribution.feature_dim",
                a.feature_dim,
                "must be 1..=4096",
            ));
        }
        if a.min_score < 0 {
            return Err(invalid(
                "attribution.min_score",
                a.min_score,
                "must be >= 0",
            ));
        }
        if !(1..=10_000).contains(&a.max_share_bps) {
            return Err(invalid(
                "attribution.max_share_bps",
                a.max_share_bps,
                "must be 1..=10000",
            ));
        }
        let c = &self.circuit;
        if !(10..=28).contains(&c.k) {
            return Err(invalid("circuit.k", c.k, "must be 10..=28"));
        }
        if !(8..c.k).contains(&c.lookup_bits) {
            return Err(invalid(
                "circuit.lookup_bits",
                c.lookup_bits,
                format!("must be 8..k (k = {})", c.k),
            ));
        }
        if c.max_items == 0 || u64::from(c.max_items) >= 1u64 << c.k {
            return Err(invalid(
                "circuit.max_items",
                c.max_items,
                format!("must be 1..2^k (k = {})", c.k),
            ));
        }
        if c.max_contributors == 0 || c.max_contributors > c.max_items {
            return Err(invalid(
                "circuit.max_contributors",
                c.max_contributors,
                "must be 1..=max_items",
            ));
        }
        if c.shard_items == 0 || !c.shard_items.is_power_of_two() || c.shard_items > c.max_items {
            return Err(invalid(
                "circuit.shard_items",
                c.shard_items,
                "must be a power of two, at most max_items",
            ));
        }
        // The circuit range-checks each contributor's score sum as a signed 64-bit value, and an epoch whose
        // sums could exceed that is refused (`EpochInput::validate`): refuse such parameters here too, so
        // governance cannot register a `params_hash` under which no epoch can be proven.
        let sum_bits = self.contributor_sum_bits();
        if sum_bits > MAX_SUM_BITS {
            return Err(invalid(
                "fixed_point",
                sum_bits,
                "feature_bits + query_bits + log2(feature_dim) + log2(max_items) allow contributor score sums \
                 over 63 bits",
            ));
        }
        Ok(())
    }

    /// The field elements hashed into `params_hash`, in this fixed order:
    /// `[domain, version, feature_bits, feature_scale_log2, query_bits, feature_dim, clamp, min_score,
    /// max_share_bps, k, lookup_bits, max_items, max_contributors, shard_items, statement_version]`, signed
    /// values as `p - |x|` when negative, `clamp` as 1 for `contributor`. The last is the build's
    /// [`crate::statement::STATEMENT_VERSION`], so one `params_hash` names one circuit (and one verifier)
    /// across statement versions.
    pub fn to_field_elements(&self) -> Vec<Fr> {
        let u = |x: u32| Fr::from(u64::from(x));
        vec![
            params_domain(),
            u(self.version),
            u(self.fixed_point.feature_bits),
            field::from_i64(i64::from(self.fixed_point.feature_scale_log2)),
            u(self.fixed_point.query_bits),
            u(self.attribution.feature_dim),
            Fr::from(self.attribution.clamp.code()),
            field::from_i64(self.attribution.min_score),
            u(self.attribution.max_share_bps),
            u(self.circuit.k),
            u(self.circuit.lookup_bits),
            u(self.circuit.max_items),
            u(self.circuit.max_contributors),
            u(self.circuit.shard_items),
            u(crate::statement::STATEMENT_VERSION),
        ]
    }

    /// `params_hash`: Poseidon over [`Self::to_field_elements`].
    pub fn hash(&self) -> Fr {
        poseidon::hash(&self.to_field_elements())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Mutation = Box<dyn Fn(&mut GovernanceParams)>;
    use ff::Field;

    #[test]
    fn default_is_valid_and_round_trips_through_toml() {
        let p = GovernanceParams::default();
        p.validate().unwrap();
        let text = p.to_toml().unwrap();
        assert_eq!(GovernanceParams::from_toml(&text).unwrap(), p);
    }

    #[test]
    fn module_doc_example_parses_to_the_default() {
        let text = "version = 1\n[fixed_point]\nfeature_bits = 16\nfeature_scale_log2 = 12\nquery_bits = 16\n\
            [attribution]\nfeature_dim = 64\nclamp = \"contributor\"\nmin_score = 0\nmax_share_bps = 10000\n\
            [circuit]\nk = 20\nlookup_bits = 16\nmax_items = 2048\nmax_contributors = 32\nshard_items = 256\n";
        assert_eq!(
            GovernanceParams::from_toml(text).unwrap(),
            GovernanceParams::default()
        );
    }

    #[test]
    fn unknown_fields_and_versions_are_rejected() {
        let text = GovernanceParams::default().to_toml().unwrap();
        assert!(GovernanceParams::from_toml(&format!("{text}\nextra = 1\n")).is_err());
        let v2 = text.replace("version = 1", "version = 2");
        let err = GovernanceParams::from_toml(&v2).unwrap_err().to_string();
        assert!(err.contains("version"), "{err}");
    }

    #[test]
    fn out_of_range_values_name_the_field() {
        let cases: Vec<(&str, Mutation)> = vec![
            (
                "fixed_point.feature_bits",
                Box::new(|p| p.fixed_point.feature_bits = 1),
            ),
            (
                "fixed_point.feature_scale_log2",
                Box::new(|p| p.fixed_point.feature_scale_log2 = 65),
            ),
            (
                "fixed_point.query_bits",
                Box::new(|p| p.fixed_point.query_bits = 33),
            ),
            (
                "attribution.feature_dim",
                Box::new(|p| p.attribution.feature_dim = 0),
            ),
            (
                "attribution.min_score",
                Box::new(|p| p.attribution.min_score = -1),
            ),
            (
                "attribution.max_share_bps",
                Box::new(|p| p.attribution.max_share_bps = 10_001),
            ),
            ("circuit.k", Box::new(|p| p.circuit.k = 29)),
            (
                "circuit.lookup_bits",
                Box::new(|p| p.circuit.lookup_bits = p.circuit.k),
            ),
            (
                "circuit.max_items",
                Box::new(|p| p.circuit.max_items = 1 << p.circuit.k),
            ),
            (
                "circuit.max_contributors",
                Box::new(|p| p.circuit.max_contributors = 4096),
            ),
            (
                "circuit.shard_items",
                Box::new(|p| p.circuit.shard_items = 100),
            ),
            // Contributor sums of 81 bits (32 + 32 - 2 + 7 + 12) at the default dimension and item count:
            // no epoch could be proven under such parameters.
            (
                "fixed_point",
                Box::new(|p| {
                    p.fixed_point.feature_bits = 32;
                    p.fixed_point.query_bits = 32;
                }),
            ),
            (
                "fixed_point",
                Box::new(|p| {
                    p.fixed_point.feature_bits = 32;
                    p.fixed_point.query_bits = 32;
                    p.attribution.feature_dim = 4096;
                    p.circuit.k = 28;
                    p.circuit.max_items = 1 << 27;
                }),
            ),
        ];
        for (field, mutate) in cases {
            let mut p = GovernanceParams::default();
            mutate(&mut p);
            match p.validate() {
                Err(Error::InvalidParam { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: expected InvalidParam, got {other:?}"),
            }
        }
    }

    #[test]
    fn hash_binds_every_field() {
        let base = GovernanceParams::default();
        let h = base.hash();
        let mutations: Vec<Mutation> = vec![
            Box::new(|p| p.fixed_point.feature_bits = 15),
            Box::new(|p| p.fixed_point.feature_scale_log2 = -12),
            Box::new(|p| p.fixed_point.query_bits = 15),
            Box::new(|p| p.attribution.feature_dim = 63),
            Box::new(|p| p.attribution.min_score = 1),
            Box::new(|p| p.attribution.max_share_bps = 9_999),
            Box::new(|p| p.circuit.k = 18),
            Box::new(|p| p.circuit.lookup_bits = 15),
            Box::new(|p| p.circuit.max_items = 2047),
            Box::new(|p| p.circuit.max_contributors = 31),
            Box::new(|p| p.circuit.shard_items = 128),
        ];
        for (i, m) in mutations.iter().enumerate() {
            let mut p = base;
            m(&mut p);
            assert_ne!(p.hash(), h, "mutation {i} left the hash unchanged");
        }
        assert_eq!(base.to_field_elements().len(), 15);
        // The statement version is the last element: a circuit change under the same parameters changes
        // the hash.
        assert_eq!(
            base.to_field_elements()[14],
            Fr::from(u64::from(crate::statement::STATEMENT_VERSION))
        );
        assert_ne!(base.to_field_elements()[0], Fr::ZERO);
    }
}
