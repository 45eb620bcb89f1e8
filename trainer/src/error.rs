//! Errors of the trainer.

/// Everything that can go wrong while training or extracting features.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// candle failed.
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
    /// A statement type was invalid.
    #[error(transparent)]
    Statement(#[from] zkattr_circuits::Error),
    /// An item cannot be used by this model.
    #[error("item {item}: {reason}")]
    BadItem {
        /// Item index in the snapshot.
        item: u64,
        /// Why it cannot be used.
        reason: String,
    },
    /// A query is malformed.
    #[error("queries, line {line}: {reason}")]
    BadQuery {
        /// 1-based line number (0 for the file as a whole).
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// Evaluation settings are out of range.
    #[error("eval-attribution: {0}")]
    BadEval(String),
    /// The snapshot holds nothing to train on.
    #[error("the snapshot has no items to train on")]
    Empty,
    /// A weight file is not what this model expects.
    #[error("weights: {0}")]
    BadWeights(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: std::path::PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
