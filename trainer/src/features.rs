//! Per-item influence features: the projected last-layer gradient.
//!
//! For an item `(x, y)` the cross-entropy gradient of the output layer is the outer product
//! `g = delta ⊗ [h, 1]`, with `h` the hidden activations, `delta = softmax(logits) - onehot(y)`, and the
//! appended 1 standing for the bias. No per-example autograd is needed (DESIGN §5). The feature is
//! `phi = R g`, with `R` a `k × (classes · (hidden + 1))` Rademacher matrix (entries `±1/sqrt(k)`) drawn from a
//! seeded ChaCha20 stream, so `<phi_i, phi_j>` approximates `<g_i, g_j>` (Johnson–Lindenstrauss).
//!
//! Everything runs in f32 with sums in a fixed order on one thread per item, so features are bit-identical
//! across runs and thread counts on the same platform.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use zkattr_circuits::fixed::FixedFormat;

use crate::{
    data::Example,
    error::{Error, Result},
    mlp::MlpWeights,
};

/// A seeded random projection from last-layer gradients to `k` dimensions.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    /// Output dimension.
    pub k: usize,
    /// Input dimension: `classes · (hidden + 1)`.
    pub d: usize,
    /// Seed of the ChaCha20 stream.
    pub seed: u64,
    /// Row-major `k × d`, entries `±1/sqrt(k)`.
    matrix: Vec<f32>,
}

impl Projection {
    /// The projection for `model` to `k` dimensions.
    pub fn new(model: &MlpWeights, k: usize, seed: u64) -> Self {
        let d = model.config.classes * (model.config.hidden + 1);
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let v = 1.0 / (k as f32).sqrt();
        let matrix = (0..k * d)
            .map(|_| if rng.gen::<bool>() { v } else { -v })
            .collect();
        Self { k, d, seed, matrix }
    }

    /// `R g`.
    pub fn apply(&self, g: &[f32]) -> Vec<f32> {
        self.matrix
            .chunks(self.d)
            .map(|row| row.iter().zip(g).fold(0.0f32, |acc, (r, x)| acc + r * x))
            .collect()
    }
}

/// Softmax with the max subtracted first.
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let m = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = logits.iter().map(|l| (l - m).exp()).collect();
    let s: f32 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

/// The full last-layer gradient `delta ⊗ [h, 1]` of the loss at label `y`, row-major `classes × (hidden + 1)`.
pub fn last_layer_gradient(model: &MlpWeights, x: &[f32], y: u32) -> Vec<f32> {
    let h = model.hidden(x);
    let mut delta = softmax(&model.logits(&h));
    delta[y as usize] -= 1.0;
    let mut g = Vec::with_capacity(delta.len() * (h.len() + 1));
    for d in &delta {
        g.extend(h.iter().map(|v| d * v));
        g.push(*d);
    }
    g
}

/// Projected features of every example (float).
pub fn features(model: &MlpWeights, proj: &Projection, examples: &[Example]) -> Vec<Vec<f32>> {
    // Each item is computed alone and rayon's collect keeps the order: the thread count cannot matter.
    examples
        .par_iter()
        .map(|e| proj.apply(&last_layer_gradient(model, &e.x, e.y)))
        .collect()
}

/// Quantised features with one global scale: the largest power of two at which every entry fits `bits`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantisedFeatures {
    /// The format (bits and the global scale).
    pub format: FixedFormat,
    /// One integer vector per item.
    pub values: Vec<Vec<i64>>,
}

/// Quantises all items with one global scale: `scale_log2` when given (an error names the largest scale
/// that would fit when some feature does not), else the largest at which every entry fits.
pub fn quantise(
    features: &[Vec<f32>],
    bits: u32,
    scale_log2: Option<i32>,
) -> Result<QuantisedFeatures> {
    let all: Vec<f64> = features.iter().flatten().map(|&v| f64::from(v)).collect();
    let best = FixedFormat::best_scale(bits, &all).ok_or_else(|| {
        Error::BadWeights("every feature is zero or not finite; nothing to quantise".into())
    })?;
    let scale_log2 = match scale_log2 {
        None => best,
        Some(s) if s <= best => s,
        Some(s) => {
            let max = all.iter().fold(0f64, |m, x| m.max(x.abs()));
            return Err(Error::BadWeights(format!(
                "features reach |x| = {max:.4}, which does not fit {bits}-bit fixed point at the governed \
                 scale 2^{s} (fixed_point.feature_scale_log2); the largest scale that fits is 2^{best}"
            )));
        }
    };
    let format = FixedFormat { bits, scale_log2 };
    let values = features
        .iter()
        .map(|f| {
            f.iter()
                .map(|&v| format.quantize(f64::from(v)))
                .collect::<zkattr_circuits::Result<Vec<i64>>>()
        })
        .collect::<zkattr_circuits::Result<_>>()?;
    Ok(QuantisedFeatures { format, values })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlp::MlpConfig;
    use candle_core::{Device, Tensor, Var};

    fn model() -> MlpWeights {
        MlpWeights::init(MlpConfig {
            inputs: 6,
            hidden: 5,
            classes: 3,
            steps: 0,
            lr: 0.0,
            weight_decay: 0.0,
            seed: 11,
        })
    }

    #[test]
    fn outer_product_gradient_equals_autograd() {
        let m = model();
        let x = [0.1f32, 0.9, 0.3, 0.0, 0.5, 0.7];
        let y = 2u32;
        let dev = Device::Cpu;
        let w2 = Var::from_tensor(&Tensor::from_slice(&m.w2, (3, 5), &dev).unwrap()).unwrap();
        let b2 = Var::from_tensor(&Tensor::from_slice(&m.b2, 3, &dev).unwrap()).unwrap();
        let h = Tensor::from_vec(m.hidden(&x), (1, 5), &dev).unwrap();
        let logits = h
            .matmul(&w2.as_tensor().t().unwrap())
            .unwrap()
            .broadcast_add(b2.as_tensor())
            .unwrap();
        let loss =
            candle_nn::loss::cross_entropy(&logits, &Tensor::new(&[y], &dev).unwrap()).unwrap();
        let grads = loss.backward().unwrap();
        let gw: Vec<f32> = grads
            .get(w2.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let gb: Vec<f32> = grads.get(b2.as_tensor()).unwrap().to_vec1().unwrap();
        let g = last_layer_gradient(&m, &x, y);
        for c in 0..3 {
            for j in 0..5 {
                assert!((g[c * 6 + j] - gw[c * 5 + j]).abs() < 1e-6);
            }
            assert!((g[c * 6 + 5] - gb[c]).abs() < 1e-6);
        }
    }

    #[test]
    fn projection_roughly_preserves_inner_products_and_is_seeded() {
        let m = model();
        let p = Projection::new(&m, 512, 1);
        assert_eq!(p, Projection::new(&m, 512, 1));
        assert_ne!(p, Projection::new(&m, 512, 2));
        let a = last_layer_gradient(&m, &[0.1, 0.9, 0.3, 0.0, 0.5, 0.7], 0);
        let dot = |u: &[f32], v: &[f32]| u.iter().zip(v).map(|(x, y)| x * y).sum::<f32>();
        let (exact, approx) = (dot(&a, &a), dot(&p.apply(&a), &p.apply(&a)));
        assert!((approx / exact - 1.0).abs() < 0.25, "{approx} vs {exact}");
    }

    #[test]
    fn parallel_features_equal_serial_and_quantise_within_range() {
        let m = model();
        let p = Projection::new(&m, 4, 3);
        let ex: Vec<Example> = (0..37)
            .map(|i| Example {
                x: (0..6).map(|j| ((i * 7 + j) % 17) as f32 / 16.0).collect(),
                y: (i % 3) as u32,
            })
            .collect();
        let f = features(&m, &p, &ex);
        let serial: Vec<Vec<f32>> = ex
            .iter()
            .map(|e| p.apply(&last_layer_gradient(&m, &e.x, e.y)))
            .collect();
        assert_eq!(f, serial);
        let q = quantise(&f, 16, None).unwrap();
        let max = q.values.iter().flatten().map(|v| v.abs()).max().unwrap();
        assert!(
            max <= 32767 && max > 16383,
            "the scale is the largest that fits: max {max}"
        );
        // A governed scale is used as given: one step coarser halves the values, one finer does not fit.
        let best = q.format.scale_log2;
        let coarser = quantise(&f, 16, Some(best - 1)).unwrap();
        assert_eq!(coarser.format.scale_log2, best - 1);
        let max_coarser = coarser
            .values
            .iter()
            .flatten()
            .map(|v| v.abs())
            .max()
            .unwrap();
        assert!((max_coarser - max / 2).abs() <= 1, "{max_coarser} vs {max}");
        let err = quantise(&f, 16, Some(best + 1)).unwrap_err().to_string();
        assert!(
            err.contains(&format!("largest scale that fits is 2^{best}")),
            "{err}"
        );
    }
}
