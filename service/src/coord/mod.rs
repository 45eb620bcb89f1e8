//! The prover network's coordinator: the durable job queue with worker leases and the fee ledger
//! ([`store`]), served over HTTP to workers, operators and contributors.

pub mod auth;
pub mod bundle;
pub mod client;
pub mod datanets;
pub mod server;
pub(crate) mod snapshot;
pub mod store;
pub mod worker;

pub use store::{
    Dialect, EpochRecord, Job, JobKind, JobState, Lease, NewJob, Store, StoreError, Worker,
};
