//! The TRAK-style query vector and the attribution artifact.
//!
//! For the epoch's queries (inputs whose outputs are attributed) the query vector is
//! `P = (Φᵀ Φ + λ I)⁻¹ Σ_j g_j`, with `Φ` the items' projected gradients (float), `g_j` the projected
//! gradient of the loss of query `j` at the model's own prediction, and `λ = damping · trace(ΦᵀΦ) / k`.
//! Upweighting item `i` by `ε` moves the weights by `-ε H⁻¹ g_i` and the queries' loss by `-ε <g_q, H⁻¹ g_i>`,
//! so `score_i = <phi_i, P>` is positive for items that lower the queries' loss. The Gauss–Newton
//! inverse is applied once to the summed query gradient (it is linear), in f64 with a Cholesky solve, all in a
//! fixed order.

use serde::{Deserialize, Serialize};
use zkattr_circuits::{commitments, field, fixed::FixedFormat, params::GovernanceParams};

use crate::{
    data::Example,
    error::{Error, Result},
    features::{self, last_layer_gradient, Projection},
    mlp::MlpWeights,
};

/// Solves `A x = b` for symmetric positive-definite `A` (row-major `n × n`) by Cholesky.
pub fn cholesky_solve(a: &[f64], b: &[f64]) -> Option<Vec<f64>> {
    let n = b.len();
    let mut l = vec![0.0f64; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s = (0..j).fold(a[i * n + j], |acc, k| acc - l[i * n + k] * l[j * n + k]);
            if i == j {
                if s <= 0.0 {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    let mut y = vec![0.0; n];
    for i in 0..n {
        y[i] = (0..i).fold(b[i], |acc, k| acc - l[i * n + k] * y[k]) / l[i * n + i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        x[i] = (i + 1..n).fold(y[i], |acc, k| acc - l[k * n + i] * x[k]) / l[i * n + i];
    }
    Some(x)
}

/// The float query vector `P`.
pub fn query_vector(
    model: &MlpWeights,
    proj: &Projection,
    item_features: &[Vec<f32>],
    queries: &[Vec<f32>],
    damping: f64,
) -> Result<Vec<f64>> {
    let k = proj.k;
    if queries.is_empty() {
        return Err(Error::BadWeights("no queries to attribute".into()));
    }
    let mut gram = vec![0.0f64; k * k];
    for phi in item_features {
        for a in 0..k {
            let pa = f64::from(phi[a]);
            for b in 0..k {
                gram[a * k + b] += pa * f64::from(phi[b]);
            }
        }
    }
    let trace: f64 = (0..k).map(|a| gram[a * k + a]).sum();
    let lambda = damping * trace / k as f64;
    for a in 0..k {
        gram[a * k + a] += lambda.max(f64::MIN_POSITIVE);
    }
    let mut sum = vec![0.0f64; k];
    for x in queries {
        let y = model.predict(x);
        for (s, g) in sum
            .iter_mut()
            .zip(proj.apply(&last_layer_gradient(model, x, y)))
        {
            *s += f64::from(g);
        }
    }
    let p = cholesky_solve(&gram, &sum).ok_or_else(|| {
        Error::BadWeights("the damped Gauss-Newton matrix is not positive definite".into())
    })?;
    Ok(p)
}

/// Settings of feature extraction, recorded in the artifact.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSettings {
    /// Projection dimension `k` (the governance `feature_dim`).
    pub k: usize,
    /// Projection seed.
    pub projection_seed: u64,
    /// Signed width of item features.
    pub feature_bits: u32,
    /// Signed width of query-vector entries.
    pub query_bits: u32,
    /// Relative damping of the Gauss–Newton matrix.
    pub damping: f64,
    /// The global feature scale `2^s` fixed by governance (`fixed_point.feature_scale_log2`): features are
    /// quantised at it, and one that does not fit `feature_bits` is an error. `None` picks the largest scale
    /// at which every feature fits (experiments; the prover refuses an artifact whose scale differs from the
    /// parameters').
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_scale_log2: Option<i32>,
}

impl FeatureSettings {
    /// The settings a governance parameter set fixes: its dimension, widths and feature scale, with the
    /// default projection seed and damping.
    pub fn for_params(p: &GovernanceParams) -> Self {
        Self {
            k: p.attribution.feature_dim as usize,
            feature_bits: p.fixed_point.feature_bits,
            query_bits: p.fixed_point.query_bits,
            feature_scale_log2: Some(p.fixed_point.feature_scale_log2),
            ..Self::default()
        }
    }

    /// Checks the ranges: `k` 1..=4096, widths 2..=32, damping finite and positive, scale -64..=64.
    pub fn validate(&self) -> Result<()> {
        let ok = (1..=4096).contains(&self.k)
            && (2..=32).contains(&self.feature_bits)
            && (2..=32).contains(&self.query_bits)
            && self.damping.is_finite()
            && self.damping > 0.0
            && self
                .feature_scale_log2
                .is_none_or(|s| (-64..=64).contains(&s));
        if ok {
            Ok(())
        } else {
            Err(Error::BadWeights(format!(
                "feature settings out of range (k 1..=4096, bits 2..=32, damping > 0, scale -64..=64): {self:?}"
            )))
        }
    }
}

impl Default for FeatureSettings {
    fn default() -> Self {
        Self {
            k: 64,
            projection_seed: 7,
            feature_bits: 16,
            query_bits: 16,
            damping: 0.1,
            feature_scale_log2: None,
        }
    }
}

/// One item in the artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtifactItem {
    /// Item index in the snapshot.
    pub index: u64,
    /// Contributor address, `0x…`.
    pub contributor: String,
    /// Quantised features.
    pub features: Vec<i64>,
}

/// The attribution artifact that the prover reads (`attribution.json`, format `zkattr.attribution.v1`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributionArtifact {
    /// Always [`AttributionArtifact::FORMAT`].
    pub format: String,
    /// `model_commitment`, `0x…`.
    pub model_commitment: String,
    /// Extraction settings.
    pub settings: FeatureSettings,
    /// Global scale of item features (`q / 2^scale_log2`).
    pub feature_scale_log2: i32,
    /// Items in snapshot order.
    pub items: Vec<ArtifactItem>,
    /// The queries' inputs (integer features or texts), so the artifact can be recomputed from the model and
    /// snapshot.
    pub queries: Queries,
    /// Scale of the query vector.
    pub query_scale_log2: i32,
    /// Quantised query vector `P`.
    pub query: Vec<i64>,
    /// `features_root`, `0x…`.
    pub features_root: String,
    /// `query_commitment`, `0x…`.
    pub query_commitment: String,
}

/// The epoch's query inputs as recorded in the artifact: integer features (a JSON array of arrays) or texts
/// (a JSON array of strings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Queries {
    /// Integer feature vectors (the digits model).
    Features(Vec<Vec<i32>>),
    /// Texts (text models).
    Texts(Vec<String>),
}

impl Queries {
    /// Number of queries.
    pub fn len(&self) -> usize {
        match self {
            Queries::Features(q) => q.len(),
            Queries::Texts(q) => q.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One difference found by [`AttributionArtifact::check`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// Item index, or `None` for a field of the whole artifact.
    pub item: Option<u64>,
    /// What differs.
    pub what: String,
}

impl AttributionArtifact {
    /// The format tag.
    pub const FORMAT: &'static str = "zkattr.attribution.v1";

    /// Builds the artifact for `examples` (the snapshot's items in order, with their contributors) and the
    /// query inputs `queries` (scaled by `1/max_value` like the items).
    pub fn build(
        model: &MlpWeights,
        settings: FeatureSettings,
        examples: &[Example],
        contributors: &[[u8; 20]],
        queries: &[Vec<i32>],
        max_value: i32,
    ) -> Result<Self> {
        let query_inputs = scaled_queries(queries, model.config.inputs, max_value)?;
        Self::build_with(
            model,
            model.commitment(),
            settings,
            examples,
            contributors,
            Queries::Features(queries.to_vec()),
            &query_inputs,
        )
    }

    /// Builds the artifact for any model whose last layers are `head`: `examples` hold the head's inputs
    /// (pixels, or a text model's embeddings), `query_inputs` the queries' head inputs, `queries` what the
    /// artifact records of them, `commitment` the whole model's `model_commitment`.
    pub fn build_with(
        head: &MlpWeights,
        commitment: field::Fr,
        settings: FeatureSettings,
        examples: &[Example],
        contributors: &[[u8; 20]],
        queries: Queries,
        query_inputs: &[Vec<f32>],
    ) -> Result<Self> {
        settings.validate()?;
        if queries.len() != query_inputs.len() {
            return Err(Error::BadQuery {
                line: 0,
                reason: format!(
                    "{} queries but {} query inputs",
                    queries.len(),
                    query_inputs.len()
                ),
            });
        }
        if let Some((i, q)) = query_inputs
            .iter()
            .enumerate()
            .find(|(_, q)| q.len() != head.config.inputs)
        {
            return Err(Error::BadQuery {
                line: i as u64 + 1,
                reason: format!(
                    "has {} inputs, the model takes {}",
                    q.len(),
                    head.config.inputs
                ),
            });
        }
        let model = head;
        let proj = Projection::new(model, settings.k, settings.projection_seed);
        let phi = features::features(model, &proj, examples);
        let q = features::quantise(&phi, settings.feature_bits, settings.feature_scale_log2)?;
        let p = query_vector(model, &proj, &phi, query_inputs, settings.damping)?;
        let query_scale_log2 = FixedFormat::best_scale(settings.query_bits, &p)
            .ok_or_else(|| Error::BadWeights("the query vector is zero".into()))?;
        let query = FixedFormat {
            bits: settings.query_bits,
            scale_log2: query_scale_log2,
        }
        .quantize_all(&p)?;
        let features_root = field::to_hex(&commitments::features_root(
            settings.feature_bits,
            &q.values,
        )?);
        let query_commitment = field::to_hex(&commitments::query_commitment(
            query_scale_log2,
            settings.query_bits,
            &query,
        )?);
        let items = q
            .values
            .into_iter()
            .zip(contributors)
            .enumerate()
            .map(|(i, (features, c))| ArtifactItem {
                index: i as u64,
                contributor: format!("0x{}", hex_lower(c)),
                features,
            })
            .collect();
        Ok(Self {
            format: Self::FORMAT.into(),
            model_commitment: field::to_hex(&commitment),
            settings,
            feature_scale_log2: q.format.scale_log2,
            items,
            queries,
            query_scale_log2,
            query,
            features_root,
            query_commitment,
        })
    }

    /// Integer scores `<phi_i, P>` of every item (exact).
    pub fn scores(&self) -> Vec<i64> {
        self.items
            .iter()
            .map(|it| {
                it.features
                    .iter()
                    .zip(&self.query)
                    .map(|(a, b)| a * b)
                    .sum()
            })
            .collect()
    }

    /// Re-derives the artifact from the model and the snapshot under the `expected` settings and lists every
    /// difference, by item. The query inputs are taken from the artifact: this proves that `P` follows from
    /// them, not which queries the epoch had (they are the operator's published input).
    pub fn check(
        &self,
        model: &MlpWeights,
        examples: &[Example],
        contributors: &[[u8; 20]],
        max_value: i32,
        expected: FeatureSettings,
    ) -> Result<Vec<Mismatch>> {
        let Queries::Features(queries) = &self.queries else {
            return Ok(vec![Mismatch {
                item: None,
                what: "queries: the artifact has texts, this model takes integer features".into(),
            }]);
        };
        let query_inputs = scaled_queries(queries, model.config.inputs, max_value)?;
        self.check_with(
            model,
            model.commitment(),
            examples,
            contributors,
            &query_inputs,
            expected,
        )
    }

    /// [`Self::check`] for any model with last layers `head` (see [`Self::build_with`]); `query_inputs` are
    /// the head inputs of the artifact's own queries.
    pub fn check_with(
        &self,
        head: &MlpWeights,
        commitment: field::Fr,
        examples: &[Example],
        contributors: &[[u8; 20]],
        query_inputs: &[Vec<f32>],
        expected: FeatureSettings,
    ) -> Result<Vec<Mismatch>> {
        // The settings are part of what is checked: features extracted under other settings (another
        // projection, damping or width) are reported, not silently re-derived under those settings.
        if self.settings != expected {
            return Ok(vec![Mismatch {
                item: None,
                what: format!(
                    "settings: artifact has {:?}, expected {expected:?}",
                    self.settings
                ),
            }]);
        }
        let fresh = Self::build_with(
            head,
            commitment,
            self.settings,
            examples,
            contributors,
            self.queries.clone(),
            query_inputs,
        )?;
        let mut out = Vec::new();
        let mut whole = |what: &str, a: String, b: String| {
            if a != b {
                out.push(Mismatch {
                    item: None,
                    what: format!("{what}: artifact has {a}, recomputed {b}"),
                });
            }
        };
        whole("format", self.format.clone(), fresh.format.clone());
        whole(
            "model_commitment",
            self.model_commitment.clone(),
            fresh.model_commitment.clone(),
        );
        whole(
            "feature_scale_log2",
            self.feature_scale_log2.to_string(),
            fresh.feature_scale_log2.to_string(),
        );
        whole(
            "query_scale_log2",
            self.query_scale_log2.to_string(),
            fresh.query_scale_log2.to_string(),
        );
        whole(
            "query",
            format!("{:?}", self.query),
            format!("{:?}", fresh.query),
        );
        whole(
            "features_root",
            self.features_root.clone(),
            fresh.features_root.clone(),
        );
        whole(
            "query_commitment",
            self.query_commitment.clone(),
            fresh.query_commitment.clone(),
        );
        whole(
            "item count",
            self.items.len().to_string(),
            fresh.items.len().to_string(),
        );
        for (a, b) in self.items.iter().zip(&fresh.items) {
            if a != b {
                let what = if a.contributor != b.contributor {
                    format!(
                        "contributor {} recomputed as {}",
                        a.contributor, b.contributor
                    )
                } else if a.index != b.index {
                    format!("index {} recomputed as {}", a.index, b.index)
                } else {
                    match a.features.iter().zip(&b.features).position(|(x, y)| x != y) {
                        Some(j) => format!(
                            "feature {j} is {}, recomputed {}",
                            a.features[j], b.features[j]
                        ),
                        None => format!(
                            "{} features, recomputed {}",
                            a.features.len(),
                            b.features.len()
                        ),
                    }
                };
                out.push(Mismatch {
                    item: Some(b.index),
                    what,
                });
            }
        }
        Ok(out)
    }
}

/// Integer query features checked (`inputs` values in `0..=max_value`) and scaled like the items.
fn scaled_queries(queries: &[Vec<i32>], inputs: usize, max_value: i32) -> Result<Vec<Vec<f32>>> {
    queries
        .iter()
        .enumerate()
        .map(|(i, q)| {
            crate::data::check_features(q, inputs, max_value).map_err(|reason| {
                Error::BadQuery {
                    line: i as u64 + 1,
                    reason,
                }
            })?;
            Ok(q.iter().map(|&v| v as f32 / max_value as f32).collect())
        })
        .collect()
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlp::MlpConfig;
    use candle_core::Device;

    #[test]
    fn cholesky_solves() {
        let a = [4.0, 2.0, 2.0, 3.0];
        let x = cholesky_solve(&a, &[2.0, 1.0]).unwrap();
        assert!((4.0 * x[0] + 2.0 * x[1] - 2.0).abs() < 1e-12);
        assert!((2.0 * x[0] + 3.0 * x[1] - 1.0).abs() < 1e-12);
        assert!(cholesky_solve(&[0.0, 0.0, 0.0, 0.0], &[1.0, 1.0]).is_none());
    }

    /// Model, examples, contributors, query inputs.
    type Setup = (MlpWeights, Vec<Example>, Vec<[u8; 20]>, Vec<Vec<i32>>);

    fn setup() -> Setup {
        let raw: Vec<(Vec<i32>, u32)> = (0..60)
            .map(|i: i32| {
                let y = (i % 3) as u32;
                (
                    (0..6)
                        .map(|j| {
                            if j / 2 == y as i32 {
                                12 + (i + j) % 5
                            } else {
                                (i * j) % 4
                            }
                        })
                        .collect(),
                    y,
                )
            })
            .collect();
        let ex: Vec<Example> = raw
            .iter()
            .map(|(x, y)| Example {
                x: x.iter().map(|&v| v as f32 / 16.0).collect(),
                y: *y,
            })
            .collect();
        let config = MlpConfig {
            inputs: 6,
            hidden: 8,
            classes: 3,
            steps: 80,
            lr: 0.05,
            weight_decay: 0.0,
            seed: 5,
        };
        let model = MlpWeights::train(config, &ex, &Device::Cpu).unwrap();
        let contributors = (0..60).map(|i| [(i % 4) as u8; 20]).collect();
        let queries = raw
            .iter()
            .take(9)
            .map(|(x, _)| x.iter().map(|v| (v + 1).min(16)).collect())
            .collect();
        (model, ex, contributors, queries)
    }

    fn settings() -> FeatureSettings {
        FeatureSettings {
            k: 8,
            ..FeatureSettings::default()
        }
    }

    #[test]
    fn artifact_recomputes_and_names_tampered_items() {
        let (model, ex, contributors, queries) = setup();
        let art = AttributionArtifact::build(&model, settings(), &ex, &contributors, &queries, 16)
            .unwrap();
        assert_eq!(
            art.check(&model, &ex, &contributors, 16, settings())
                .unwrap(),
            vec![]
        );
        assert!(art.scores().iter().any(|&s| s > 0));

        let mut t = art.clone();
        t.items[17].features[3] += 1;
        let m = t.check(&model, &ex, &contributors, 16, settings()).unwrap();
        assert_eq!(
            m,
            vec![Mismatch {
                item: Some(17),
                what: m[0].what.clone()
            }]
        );
        assert!(m[0].what.contains("feature 3"));

        let mut t = art.clone();
        t.feature_scale_log2 += 1;
        let m = t.check(&model, &ex, &contributors, 16, settings()).unwrap();
        assert!(m
            .iter()
            .any(|m| m.item.is_none() && m.what.starts_with("feature_scale_log2")));

        // Features extracted under other settings are reported even if everything else is consistent.
        let other = FeatureSettings {
            damping: 0.2,
            ..settings()
        };
        let rebuilt =
            AttributionArtifact::build(&model, other, &ex, &contributors, &queries, 16).unwrap();
        let m = rebuilt
            .check(&model, &ex, &contributors, 16, settings())
            .unwrap();
        assert!(m.len() == 1 && m[0].what.starts_with("settings"), "{m:?}");
        // A truncated feature vector is described by its length.
        let mut t = art.clone();
        t.items[3].features.pop();
        let m = t.check(&model, &ex, &contributors, 16, settings()).unwrap();
        assert!(m[0].what.contains("7 features, recomputed 8"), "{m:?}");
        // Out-of-range settings and queries are refused before any work.
        let bad = FeatureSettings {
            query_bits: 64,
            ..settings()
        };
        assert!(AttributionArtifact::build(&model, bad, &ex, &contributors, &queries, 16).is_err());
        let bad_q = vec![vec![0; 5]];
        assert!(
            AttributionArtifact::build(&model, settings(), &ex, &contributors, &bad_q, 16).is_err()
        );

        let mut changed = model.clone();
        changed.w2[0] += 0.01;
        let m = art
            .check(&changed, &ex, &contributors, 16, settings())
            .unwrap();
        assert!(m.iter().any(|m| m.what.starts_with("model_commitment")));
        assert!(
            m.iter().any(|m| m.item.is_some()),
            "a weight change alters item features"
        );
    }
}
