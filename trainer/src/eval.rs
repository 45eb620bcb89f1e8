//! Measured attribution quality (DESIGN §5): linear datamodeling score, its noise ceiling, mislabel recall
//! and the cost of quantisation, with gradient-dot as a baseline.
//!
//! Protocol: every `holdout_every`-th example is a query (with its true label), the rest are training items.
//! The attributed model is trained on all training items. Retrain `m` (of `retrains`) trains on a random half
//! `S_m` of the training items (subset and initialisation seeds from a fixed schedule) and measures each query's
//! margin `logit_y - logsumexp(other logits)`. For each query `j` the LDS is the Spearman correlation over `m`
//! between the predicted `sum_{i in S_m} tau_ij` and the measured margin; the report averages over queries.
//! The noise ceiling repeats every retrain with another initialisation seed and correlates the two margins.

use rand::{seq::SliceRandom, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::Serialize;
use zkattr_circuits::fixed::FixedFormat;

use crate::{
    data::Example,
    error::{Error, Result},
    features::{self, last_layer_gradient, Projection},
    influence::cholesky_solve,
    mlp::{MlpConfig, MlpWeights},
};

/// Evaluation settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EvalConfig {
    /// Attributed models averaged (TRAK ensemble), 1 to 5, trained on all training items with different seeds.
    pub models: usize,
    /// Number of retrains on random halves (at least 2; the protocol uses >= 50).
    pub retrains: usize,
    /// Every n-th example is a query.
    pub holdout_every: usize,
    /// Model to train (its seed is the attributed model's; retrains derive theirs).
    pub model: MlpConfig,
    /// Projection dimension.
    pub k: usize,
    /// Projection seed.
    pub projection_seed: u64,
    /// Relative damping.
    pub damping: f64,
    /// Seed of the subset schedule.
    pub seed: u64,
}

/// The report printed by `zkattr eval-attribution --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    /// Attributed models averaged.
    pub models: usize,
    /// Mean per-query LDS of the TRAK-style scores (float).
    pub lds: f64,
    /// Mean per-query Spearman between retrains that differ only in their initialisation seed.
    pub noise_ceiling: f64,
    /// Fraction of flagged (mislabeled) training items among the top 10% by self-influence; `None` when no
    /// training item is flagged.
    pub mislabel_recall_at_10: Option<f64>,
    /// LDS of the int16-quantised scores minus the float LDS.
    pub quantised_lds_gap: f64,
    /// Baseline LDS values.
    pub baselines: Baselines,
    /// Accuracy of the attributed model on the held-out queries.
    pub query_accuracy: f64,
    /// Retrains run (each twice: two seeds).
    pub retrains: usize,
    /// Queries.
    pub queries: usize,
    /// Training items.
    pub train_items: usize,
    /// Per query, the predicted (float TRAK scores) and measured margins behind `lds`, for plots.
    #[serde(skip)]
    pub margins: Vec<QueryMargins>,
}

/// One query's predicted and measured margins over the retrains.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryMargins {
    /// `sum_{i in S_m} tau_ij` for every retrain `m`.
    pub predicted: Vec<f64>,
    /// The margin measured after retrain `m`.
    pub actual: Vec<f64>,
    /// Spearman correlation of the two (this query's LDS).
    pub lds: f64,
}

/// Baseline methods' LDS.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Baselines {
    /// Dot product of full last-layer gradients, no preconditioning.
    pub grad_dot: f64,
    /// TracIn: last-layer gradient dot products summed over 4 checkpoints of the first model's training,
    /// each weighted by the learning rate.
    pub tracin: f64,
}

/// Ranks with ties averaged (1-based).
fn ranks(xs: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..xs.len()).collect();
    idx.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
    let mut r = vec![0.0; xs.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && xs[idx[j + 1]] == xs[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &t in &idx[i..=j] {
            r[t] = avg;
        }
        i = j + 1;
    }
    r
}

/// Spearman rank correlation; 0 when either side is constant.
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let (ra, rb) = (ranks(a), ranks(b));
    let n = ra.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let cov: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = ra.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = rb.iter().map(|y| (y - mb).powi(2)).sum();
    if va == 0.0 || vb == 0.0 {
        0.0
    } else {
        cov / (va * vb).sqrt()
    }
}

/// `logit_y - logsumexp(other logits)`.
pub fn margin(model: &MlpWeights, e: &Example) -> f64 {
    let l: Vec<f64> = model
        .logits(&model.hidden(&e.x))
        .into_iter()
        .map(f64::from)
        .collect();
    let y = e.y as usize;
    let m = l
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != y)
        .map(|(_, v)| *v)
        .fold(f64::NEG_INFINITY, f64::max);
    let lse = m + l
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != y)
        .map(|(_, v)| (v - m).exp())
        .sum::<f64>()
        .ln();
    l[y] - lse
}

/// Per-query LDS averaged over queries: `tau[j][i]` are the scores, `subsets[m]` the membership masks,
/// `actual[m][j]` the measured margins.
fn lds(tau: &[Vec<f64>], subsets: &[Vec<bool>], actual: &[Vec<f64>]) -> f64 {
    let per_query = query_margins(tau, subsets, actual);
    per_query.iter().map(|q| q.lds).sum::<f64>() / per_query.len() as f64
}

/// Each query's predicted and measured margins over the retrains, with its Spearman correlation.
fn query_margins(
    tau: &[Vec<f64>],
    subsets: &[Vec<bool>],
    actual: &[Vec<f64>],
) -> Vec<QueryMargins> {
    tau.iter()
        .enumerate()
        .map(|(j, t)| {
            let predicted: Vec<f64> = subsets
                .iter()
                .map(|s| {
                    t.iter()
                        .zip(s)
                        .filter(|(_, &inn)| inn)
                        .map(|(v, _)| v)
                        .sum()
                })
                .collect();
            let actual: Vec<f64> = actual.iter().map(|a| a[j]).collect();
            QueryMargins {
                lds: spearman(&predicted, &actual),
                predicted,
                actual,
            }
        })
        .collect()
}

/// Scores from one attributed model (an ensemble member).
struct Member {
    model: MlpWeights,
    tau: Vec<Vec<f64>>,
    tau_q: Vec<Vec<f64>>,
    tau_gd: Vec<Vec<f64>>,
    self_influence: Vec<f64>,
}

fn member(
    config: &EvalConfig,
    seed: u64,
    train: &[Example],
    queries: &[Example],
    device: &candle_core::Device,
) -> Result<Member> {
    let model = MlpWeights::train(
        MlpConfig {
            seed,
            ..config.model
        },
        train,
        device,
    )?;
    let proj = Projection::new(&model, config.k, config.projection_seed);
    let phi = features::features(&model, &proj, train);

    // Damped Gauss-Newton matrix and per-query preconditioned vectors.
    let k = config.k;
    let mut gram = vec![0.0f64; k * k];
    for f in &phi {
        for a in 0..k {
            for b in 0..k {
                gram[a * k + b] += f64::from(f[a]) * f64::from(f[b]);
            }
        }
    }
    let lambda = config.damping * (0..k).map(|a| gram[a * k + a]).sum::<f64>() / k as f64;
    for a in 0..k {
        gram[a * k + a] += lambda.max(f64::MIN_POSITIVE);
    }
    let solve = |g: &[f64]| {
        cholesky_solve(&gram, g)
            .ok_or_else(|| Error::BadWeights("singular Gauss-Newton matrix".into()))
    };
    let query_vecs: Vec<Vec<f64>> = queries
        .iter()
        .map(|q| {
            solve(
                &proj
                    .apply(&last_layer_gradient(&model, &q.x, q.y))
                    .into_iter()
                    .map(f64::from)
                    .collect::<Vec<_>>(),
            )
        })
        .collect::<Result<_>>()?;
    let dot = |a: &[f32], b: &[f64]| a.iter().zip(b).map(|(x, y)| f64::from(*x) * y).sum::<f64>();
    let tau: Vec<Vec<f64>> = query_vecs
        .iter()
        .map(|p| phi.iter().map(|f| dot(f, p)).collect())
        .collect();

    // Quantised scores: int16 items with one global scale, each query vector with its own scale.
    let q_items = features::quantise(&phi, 16, None)?;
    let tau_q: Vec<Vec<f64>> = query_vecs
        .iter()
        .map(|p| {
            let s = FixedFormat::best_scale(16, p).unwrap_or(0);
            let unit = 2f64.powi(q_items.format.scale_log2 + s);
            let qp = FixedFormat {
                bits: 16,
                scale_log2: s,
            }
            .quantize_all(p)?;
            Ok(q_items
                .values
                .iter()
                // Back to real units, so ensemble members with different scales weigh the same.
                .map(|f| f.iter().zip(&qp).map(|(a, b)| (a * b) as f64).sum::<f64>() / unit)
                .collect())
        })
        .collect::<Result<_>>()?;

    // Gradient-dot baseline on the full last-layer gradients.
    let tau_gd = grad_dot(&model, train, queries);

    let self_influence = phi
        .iter()
        .map(|f| {
            let g: Vec<f64> = f.iter().map(|v| f64::from(*v)).collect();
            Ok(dot(f, &solve(&g)?))
        })
        .collect::<Result<_>>()?;
    Ok(Member {
        model,
        tau,
        tau_q,
        tau_gd,
        self_influence,
    })
}

/// `tau[j][i] = <g_i, g_j>` on the full last-layer gradients of `model`.
fn grad_dot(model: &MlpWeights, train: &[Example], queries: &[Example]) -> Vec<Vec<f64>> {
    let full: Vec<Vec<f32>> = train
        .iter()
        .map(|e| last_layer_gradient(model, &e.x, e.y))
        .collect();
    queries
        .iter()
        .map(|q| {
            let g = last_layer_gradient(model, &q.x, q.y);
            full.iter()
                .map(|f| f.iter().zip(&g).map(|(a, b)| f64::from(a * b)).sum())
                .collect()
        })
        .collect()
}

/// Element-wise mean of score matrices.
fn mean(ms: &[&Vec<Vec<f64>>]) -> Vec<Vec<f64>> {
    let n = ms.len() as f64;
    (0..ms[0].len())
        .map(|j| {
            (0..ms[0][j].len())
                .map(|i| ms.iter().map(|m| m[j][i]).sum::<f64>() / n)
                .collect()
        })
        .collect()
}

/// Runs the protocol. `flagged[i]` marks examples known to be mislabeled (for recall).
pub fn evaluate(examples: &[Example], flagged: &[bool], config: EvalConfig) -> Result<EvalReport> {
    if config.retrains < 2 || config.holdout_every < 2 || !(1..=5).contains(&config.models) {
        return Err(Error::BadEval(format!(
            "needs at least 2 retrains (got {}), holdout_every >= 2 (got {}) and 1 to 5 models (got {})",
            config.retrains, config.holdout_every, config.models
        )));
    }
    let (mut train, mut train_flags, mut queries) = (Vec::new(), Vec::new(), Vec::new());
    for (i, e) in examples.iter().enumerate() {
        if i % config.holdout_every == config.holdout_every - 1 {
            queries.push(e.clone());
        } else {
            train.push(e.clone());
            train_flags.push(flagged.get(i).copied().unwrap_or(false));
        }
    }
    if queries.is_empty() || train.len() < 4 {
        return Err(Error::Empty);
    }
    let device = candle_core::Device::Cpu;
    let members: Vec<Member> = (0..config.models as u64)
        .map(|e| {
            member(
                &config,
                config.model.seed.wrapping_add(1000 * e),
                &train,
                &queries,
                &device,
            )
        })
        .collect::<Result<_>>()?;
    let tau = mean(&members.iter().map(|m| &m.tau).collect::<Vec<_>>());
    let tau_q = mean(&members.iter().map(|m| &m.tau_q).collect::<Vec<_>>());
    let tau_gd = &members[0].tau_gd;
    // TracIn over 4 checkpoints of the first model's run (same seed, so the last checkpoint is that model).
    let every = (config.model.steps / 4).max(1);
    let (_, checkpoints) =
        MlpWeights::train_with_checkpoints(config.model, &train, &device, every)?;
    let tau_tracin =
        checkpoints
            .iter()
            .fold(vec![vec![0.0; train.len()]; queries.len()], |mut acc, c| {
                for (a, t) in acc.iter_mut().zip(grad_dot(c, &train, &queries)) {
                    for (x, y) in a.iter_mut().zip(t) {
                        *x += config.model.lr * y;
                    }
                }
                acc
            });
    let model = &members[0].model;

    // Retrains on random halves, each with two initialisation seeds.
    let mut rng = ChaCha20Rng::seed_from_u64(config.seed);
    let (mut subsets, mut actual, mut actual2) = (Vec::new(), Vec::new(), Vec::new());
    for m in 0..config.retrains {
        let mut order: Vec<usize> = (0..train.len()).collect();
        order.shuffle(&mut rng);
        let mut mask = vec![false; train.len()];
        for &i in &order[..train.len() / 2] {
            mask[i] = true;
        }
        let subset: Vec<Example> = train
            .iter()
            .zip(&mask)
            .filter(|(_, &inn)| inn)
            .map(|(e, _)| e.clone())
            .collect();
        let seed = config.model.seed.wrapping_add(1 + 2 * m as u64);
        let a = MlpWeights::train(
            MlpConfig {
                seed,
                ..config.model
            },
            &subset,
            &device,
        )?;
        let b = MlpWeights::train(
            MlpConfig {
                seed: seed + 1,
                ..config.model
            },
            &subset,
            &device,
        )?;
        actual.push(queries.iter().map(|q| margin(&a, q)).collect::<Vec<f64>>());
        actual2.push(queries.iter().map(|q| margin(&b, q)).collect::<Vec<f64>>());
        subsets.push(mask);
        tracing::info!(retrain = m + 1, of = config.retrains, "eval retrain");
    }
    let noise_ceiling = {
        let per: Vec<f64> = (0..queries.len())
            .map(|j| {
                let a: Vec<f64> = actual.iter().map(|v| v[j]).collect();
                let b: Vec<f64> = actual2.iter().map(|v| v[j]).collect();
                spearman(&a, &b)
            })
            .collect();
        per.iter().sum::<f64>() / per.len() as f64
    };

    // Mislabel recall at 10% by self-influence <phi_i, H^-1 phi_i>.
    let flagged_total = train_flags.iter().filter(|f| **f).count();
    let mislabel_recall_at_10 = if flagged_total == 0 {
        None
    } else {
        let mut self_inf: Vec<(f64, bool)> = (0..train.len())
            .map(|i| {
                (
                    members.iter().map(|m| m.self_influence[i]).sum::<f64>(),
                    train_flags[i],
                )
            })
            .collect();
        self_inf.sort_by(|a, b| b.0.total_cmp(&a.0));
        let top = (train.len() as f64 * 0.1).ceil() as usize;
        Some(self_inf[..top].iter().filter(|(_, fl)| *fl).count() as f64 / flagged_total as f64)
    };

    let margins = query_margins(&tau, &subsets, &actual);
    let lds_float = margins.iter().map(|q| q.lds).sum::<f64>() / margins.len() as f64;
    Ok(EvalReport {
        margins,
        lds: lds_float,
        noise_ceiling,
        mislabel_recall_at_10,
        quantised_lds_gap: lds(&tau_q, &subsets, &actual) - lds_float,
        baselines: Baselines {
            grad_dot: lds(tau_gd, &subsets, &actual),
            tracin: lds(&tau_tracin, &subsets, &actual),
        },
        models: config.models,
        query_accuracy: model.accuracy(&queries),
        retrains: config.retrains,
        queries: queries.len(),
        train_items: train.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_basics() {
        assert!((spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]) - 1.0).abs() < 1e-12);
        assert!((spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        assert_eq!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), 0.0);
        assert_eq!(ranks(&[5.0, 1.0, 5.0, 3.0]), vec![3.5, 1.0, 3.5, 2.0]);
    }
}
