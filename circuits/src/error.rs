//! Errors of the statement types.

/// Errors raised while parsing or validating statement values.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A hex string did not encode a field element.
    #[error("invalid field element {input:?}: {reason}")]
    InvalidFieldElement {
        /// The text that was given.
        input: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A value does not fit the fixed-point format it was meant for.
    #[error("value {value} does not fit in {bits}-bit fixed point with scale 2^{scale_log2}")]
    FixedPointOverflow {
        /// The value that was given.
        value: f64,
        /// Width of the signed integer.
        bits: u32,
        /// Power-of-two scale.
        scale_log2: i32,
    },
    /// A value that is not a finite number was given to the fixed-point encoder.
    #[error("value {value} is not finite")]
    NotFinite {
        /// The value that was given.
        value: f64,
    },
    /// The governance parameter file could not be parsed.
    #[error("governance parameters: {0}")]
    ParamsParse(#[from] toml::de::Error),
    /// The governance parameter file could not be written.
    #[error("governance parameters: {0}")]
    ParamsSerialize(#[from] toml::ser::Error),
    /// A structured reference string (KZG setup) file is missing, malformed or too small.
    #[error("SRS {path}: {reason}")]
    Srs {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The Solidity compiler failed or is missing.
    #[error("Solidity compiler {compiler}: {reason}")]
    Solc {
        /// The compiler command.
        compiler: String,
        /// What went wrong.
        reason: String,
    },
    /// An epoch's statement inputs are inconsistent or out of range.
    #[error("statement: {0}")]
    InvalidStatement(String),
    /// The proving backend failed or is unavailable (a GPU without a usable device, a driver error).
    #[error("proving backend: {0}")]
    Backend(String),
    /// A governance parameter is out of its allowed range.
    #[error("governance parameter `{field}` = {value}: {reason}")]
    InvalidParam {
        /// Dotted name of the parameter, as in the TOML file.
        field: &'static str,
        /// The value that was given, as text.
        value: String,
        /// What the allowed range is.
        reason: String,
    },
    /// A Merkle tree was asked for over no leaves.
    #[error("a Merkle tree needs at least one leaf")]
    EmptyTree,
    /// A Merkle tree would be deeper than supported.
    #[error("{leaves} leaves exceed the maximum tree depth {max_depth}")]
    TreeTooDeep {
        /// Number of leaves requested.
        leaves: usize,
        /// The deepest tree supported.
        max_depth: u32,
    },
    /// A leaf index outside the tree was asked for.
    #[error("item {index} is outside a tree of {leaves} items")]
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// Number of items in the tree.
        leaves: u64,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
