//! zkattr trainer: turns a sealed Datanet snapshot into a committed model and the per-item influence
//! features the attribution proof consumes, and measures their quality (DESIGN §4–5).
//!
//! ```
//! use zkattr_trainer::{data::Example, mlp::{MlpConfig, MlpWeights}};
//!
//! let examples = vec![Example { x: vec![0.0; 64], y: 3 }, Example { x: vec![1.0; 64], y: 7 }];
//! let config = MlpConfig { steps: 5, ..MlpConfig::digits(1) };
//! let model = MlpWeights::train(config, &examples, &candle_core::Device::Cpu)?;
//! println!("model_commitment {}", zkattr_circuits::field::to_hex(&model.commitment()));
//! # Ok::<(), zkattr_trainer::Error>(())
//! ```
#![deny(missing_docs)]

pub mod data;
pub mod error;
pub mod eval;
pub mod features;
pub mod influence;
pub mod mlp;
pub mod plot;
pub mod text;

pub use error::{Error, Result};
