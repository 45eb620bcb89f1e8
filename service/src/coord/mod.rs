//! The prover network's coordinator: the durable job queue with worker leases and the fee ledger
//! ([`store`]), served over HTTP to workers, operators and contributors.

pub mod auth;
pub mod store;

pub use store::{Dialect, Job, JobKind, JobState, Lease, NewJob, Store, StoreError, Worker};
