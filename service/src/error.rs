//! Errors of the service library.

use std::path::PathBuf;

/// Everything that can go wrong in the service and the command line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The state database failed.
    #[error("state database: {0}")]
    Db(#[from] rusqlite::Error),
    /// The coordinator's database failed.
    #[error(transparent)]
    Store(#[from] crate::coord::StoreError),
    /// The state database was written by a newer zkattr.
    #[error(
        "state database schema version {found} is newer than this zkattr understands ({supported})"
    )]
    SchemaTooNew {
        /// Version found in the database.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
    /// A statement type was invalid.
    #[error(transparent)]
    Statement(#[from] zkattr_circuits::Error),
    /// Training or feature extraction failed.
    #[error(transparent)]
    Train(#[from] zkattr_trainer::Error),
    /// A Datanet name is not allowed.
    #[error("invalid Datanet name {name:?}: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// What names may contain.
        reason: &'static str,
    },
    /// No Datanet of that name exists in this home.
    #[error(
        "no Datanet named {name:?} in this home (create it with `zkattr datanet create {name}`)"
    )]
    DatanetNotFound {
        /// The name given.
        name: String,
    },
    /// A Datanet of that name already exists.
    #[error("a Datanet named {name:?} already exists")]
    DatanetExists {
        /// The name given.
        name: String,
    },
    /// A record could not be parsed or is not well-formed.
    #[error("line {line}: {reason}")]
    Malformed {
        /// 1-based line number in the import file.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A record is larger than the import's limit.
    #[error("line {line}: record is {bytes} bytes, over the limit of {limit} bytes (raise it with --max-record-bytes)")]
    RecordTooLarge {
        /// 1-based line number.
        line: u64,
        /// Size of the record (at least this many bytes).
        bytes: u64,
        /// The limit in force.
        limit: u64,
    },
    /// A record's signature does not verify for its contributor.
    #[error("line {line}: bad signature: {reason}")]
    BadSignature {
        /// 1-based line number.
        line: u64,
        /// What failed.
        reason: String,
    },
    /// A record's content is already in the Datanet.
    #[error("line {line}: duplicate content (content hash {content_hash}): same as item {earlier_item}, {earlier}")]
    Duplicate {
        /// 1-based line number.
        line: u64,
        /// The content hash both records share.
        content_hash: String,
        /// Index of the earlier item.
        earlier_item: u64,
        /// Where the earlier item came from.
        earlier: String,
    },
    /// An import file holds no records.
    #[error("{source_name}: no records to import")]
    EmptyImport {
        /// The file.
        source_name: String,
    },
    /// Sealing would produce the same snapshot as the last version.
    #[error("Datanet {name:?} has no items added since version {version}; nothing to seal")]
    NothingToSeal {
        /// The Datanet.
        name: String,
        /// The latest sealed version (0 when nothing was ever added).
        version: u64,
    },
    /// A seal was asked for a number of items the Datanet does not have (records were added meanwhile).
    #[error("Datanet {name:?} has {items} items, not the {expected} this seal was asked for; nothing sealed")]
    SealMismatch {
        /// The Datanet.
        name: String,
        /// Items it has.
        items: u64,
        /// Items the caller expected.
        expected: u64,
    },
    /// A version that was never sealed was asked for.
    #[error("Datanet {name:?} has no sealed version {version} (latest: {latest})")]
    VersionNotFound {
        /// The Datanet.
        name: String,
        /// The version asked for.
        version: u64,
        /// The latest sealed version, 0 for none.
        latest: u64,
    },
    /// An item index beyond a version's items was asked for.
    #[error("Datanet {name:?} version {version} has {items} items; there is no item {item}")]
    ItemNotFound {
        /// The Datanet.
        name: String,
        /// The version.
        version: u64,
        /// The item asked for.
        item: u64,
        /// Number of items in the version.
        items: u64,
    },
    /// The state database holds something zkattr never writes (edited or damaged by hand).
    #[error("the state database is corrupt: {0}")]
    Corrupt(String),
    /// A model or attribution file is not well-formed.
    #[error("{0}")]
    BadArtifact(String),
    /// A proof would need more memory than it may use.
    #[error(
        "a circuit of 2^{k} rows needs about {need} of memory for its keys and proof, and {limit_what} is \
         {limit}: prove on a machine with more memory, lower circuit.max_items, or set --memory-limit if \
         more will be free"
    )]
    OutOfMemory {
        /// The circuit's `k`.
        k: u32,
        /// The estimate ("4.0 GiB").
        need: String,
        /// What the limit is ("the memory this machine has available", "--memory-limit").
        limit_what: &'static str,
        /// The limit ("2.0 GiB").
        limit: String,
    },
    /// `zkattr recompute` found differences.
    #[error("recompute does not match the artifact: {0}")]
    RecomputeMismatch(String),
    /// An inclusion proof file is not well-formed.
    #[error("inclusion proof: {0}")]
    BadProofFile(String),
    /// A file is not a receipt, or a receipt field cannot be used.
    #[error("receipt: {0}")]
    BadReceipt(String),
    /// A receipt failed one or more checks: the report (text and JSON) says which and why.
    #[error("{text}")]
    ReceiptInvalid {
        /// The human report.
        text: String,
        /// The `--json` report.
        json: serde_json::Value,
    },
    /// An epoch proof directory is inconsistent or its proof does not verify.
    #[error("the epoch proof is not valid: {0}")]
    ProofInvalid(String),
    /// The coordinator or a worker failed (prover network).
    #[error("{0}")]
    Coordinator(String),
    /// A chain (embedded or over RPC) could not be used.
    #[error("chain: {0}")]
    Chain(String),
    /// A transaction or call reverted.
    #[error("{what} reverted: {reason}")]
    Reverted {
        /// What was attempted.
        what: String,
        /// The decoded revert.
        reason: String,
    },
    /// Something about the deployment is missing or inconsistent.
    #[error("deployment: {0}")]
    Deployment(String),
    /// An inclusion proof does not verify.
    #[error("inclusion proof does not verify: {0}")]
    InclusionInvalid(String),
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
