//! `zkattr eval-attribution NAME --version V --retrains N`

use clap::Args;
use zkattr_trainer::{
    data,
    eval::{evaluate, EvalConfig},
    influence::FeatureSettings,
    mlp::{default_device, MlpConfig},
    text::{
        bert::{locate, Encoder},
        model::{to_examples, TextConfig},
    },
};

use super::{Ctx, Output};
use crate::{
    datanet::{record::parse_address, Datanets},
    epoch::MAX_VALUE,
    error::Result,
    sample,
};

/// Measure attribution quality on a sealed snapshot: LDS over retrains on random halves, the noise ceiling,
/// mislabel recall at 10%, the quantisation gap and the grad-dot and TracIn baselines.
#[derive(Debug, Args)]
pub struct EvalCmd {
    /// The Datanet.
    pub name: String,
    /// The sealed version.
    #[arg(long)]
    pub version: u64,
    /// Retrains on random 50% subsets (each run with two seeds for the noise ceiling).
    #[arg(long, default_value_t = 50)]
    pub retrains: usize,
    /// Attributed models averaged (TRAK ensemble), 1 to 5.
    #[arg(long, default_value_t = 1)]
    pub models: usize,
    /// Every n-th item is held out as a query.
    #[arg(long, default_value_t = 10)]
    pub holdout_every: usize,
    /// Training steps of every model (for text Datanets: of the head) [default: 60 for digits, 20 for
    /// text].
    #[arg(long)]
    pub steps: Option<usize>,
    /// Text Datanets: the MiniLM encoder directory (as for `train`). The encoder stays frozen: retrains
    /// train the head on its embeddings.
    #[arg(long)]
    pub encoder: Option<std::path::PathBuf>,
    /// Contributors whose items count as mislabeled for the recall figure (repeatable). By default, the
    /// sample Datanet's mislabeler.
    #[arg(long = "mislabeler")]
    pub mislabelers: Vec<String>,
    /// Where to write the PNG plot of predicted against measured margins [default:
    /// docs/attribution-NAME-vV.png under the current directory].
    #[arg(long)]
    pub plot: Option<std::path::PathBuf>,
}

fn sample_mislabelers() -> Vec<[u8; 20]> {
    [sample::DIGITS_CONTRIBUTORS, sample::SUPPORT_CONTRIBUTORS]
        .iter()
        .map(|r| serde_json::from_str::<serde_json::Value>(r).unwrap_or_default())
        .collect::<Vec<_>>()
        .iter()
        .flat_map(|roster| roster.as_array().into_iter().flatten())
        .filter(|c| c["role"] == "mislabeler")
        .filter_map(|c| parse_address(c["address"].as_str()?).ok())
        .map(|a| a.0 .0)
        .collect()
}

impl EvalCmd {
    /// Runs it.
    pub fn run(&self, ctx: &Ctx) -> Result<Output> {
        if self.retrains < 2 {
            return Err(zkattr_trainer::Error::BadEval(format!(
                "--retrains {} is too few (at least 2; the protocol uses 50)",
                self.retrains
            ))
            .into());
        }
        let mislabelers = if self.mislabelers.is_empty() {
            sample_mislabelers()
        } else {
            self.mislabelers
                .iter()
                .map(|a| {
                    parse_address(a).map(|a| a.0 .0).map_err(|e| {
                        zkattr_trainer::Error::BadEval(format!("--mislabeler: {e}")).into()
                    })
                })
                .collect::<Result<_>>()?
        };
        let nets = Datanets::open(&ctx.home)?;
        let items = nets.snapshot_items(&self.name, self.version)?;
        let text = matches!(
            items.first().map(|i| &i.content),
            Some(data::ItemContent::Text(_))
        );
        let (model, examples) = if text {
            let labels: std::collections::BTreeSet<&str> =
                items.iter().map(|i| i.label.as_str()).collect();
            let mut config =
                TextConfig::minilm(labels.into_iter().map(String::from).collect(), 2026);
            if let Some(s) = self.steps {
                config.head.steps = s;
            }
            config.validate()?;
            let encoder = Encoder::load(
                &locate(self.encoder.as_deref())?,
                config.max_tokens,
                &default_device(),
            )?;
            let texts = data::texts(&items)?;
            let classes: Vec<u32> = items
                .iter()
                .map(|i| config.class(&i.label).unwrap_or(0))
                .collect();
            let embeddings = encoder.embed(&texts, None)?;
            (config.head, to_examples(&embeddings, &classes))
        } else {
            let mut model = MlpConfig::digits(2026);
            if let Some(s) = self.steps {
                model.steps = s;
            }
            let examples = data::examples(&items, model.inputs, MAX_VALUE, model.classes as u32)?;
            (model, examples)
        };
        let flagged: Vec<bool> = items
            .iter()
            .map(|i| mislabelers.contains(&i.contributor))
            .collect();
        let fs = FeatureSettings::default();
        let config = EvalConfig {
            models: self.models,
            retrains: self.retrains,
            holdout_every: self.holdout_every,
            model,
            k: fs.k,
            projection_seed: fs.projection_seed,
            damping: fs.damping,
            seed: 0xe7a1,
        };
        let r = evaluate(&examples, &flagged, config)?;
        let plot = self.plot.clone().unwrap_or_else(|| {
            std::path::Path::new("docs")
                .join(format!("attribution-{}-v{}.png", self.name, self.version))
        });
        // A plot that cannot be written must not throw away the figures of a long run: report it instead.
        let plotted = zkattr_trainer::plot::margins_png(
            &r,
            &format!(
                "{} v{}: TRAK scores, {} model(s), {} retrains on random halves",
                self.name, self.version, r.models, r.retrains
            ),
            &plot,
        );
        let mut json = serde_json::to_value(&r).expect("serialisable");
        let plot_line = match &plotted {
            Ok(()) => {
                json["plot"] = serde_json::Value::String(plot.display().to_string());
                plot.display().to_string()
            }
            Err(e) => {
                tracing::warn!("no plot: {e}");
                json["plot_error"] = serde_json::Value::String(e.to_string());
                format!("not written: {e}")
            }
        };
        let recall = r
            .mislabel_recall_at_10
            .map_or("n/a".to_owned(), |v| format!("{v:.3}"));
        Ok(Output {
            text: format!(
                "{} v{}: {} model(s), {} retrains, {} queries, {} training items, query accuracy {:.3}\n  LDS {:.3} (noise ceiling {:.3}; grad-dot {:.3}, TracIn {:.3})\n  \
                 mislabel recall at 10%: {recall}\n  quantised LDS gap {:+.4}\n  plot: {}",
                self.name,
                self.version,
                r.models,
                r.retrains,
                r.queries,
                r.train_items,
                r.query_accuracy,
                r.lds,
                r.noise_ceiling,
                r.baselines.grad_dot,
                r.baselines.tracin,
                r.quantised_lds_gap,
                plot_line
            ),
            json,
        })
    }
}
