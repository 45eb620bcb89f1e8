//! Datanets: signed records, all-or-nothing imports, sealed versions and inclusion proofs.

pub mod inclusion;
pub mod record;
pub mod store;

pub use inclusion::{InclusionProof, VerifiedInclusion};
pub use record::{Content, Record};
pub use store::{Datanets, ImportOptions, ImportSummary, SealedVersion};
