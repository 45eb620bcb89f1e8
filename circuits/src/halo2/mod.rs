//! halo2-base gadgets for the statement: Poseidon (halo2-base's chip, same parameters as
//! [`crate::poseidon`]) and the Datanet Merkle tree (same layout as [`crate::merkle`]).
//!
//! Circuits are written against `halo2_base::halo2_proofs`, which is halo2-axiom, or halo2-axiom-gpu when
//! halo2-base's `cuda` feature is on (DESIGN §3).

pub mod attribution;
pub mod evm;
pub mod features;
pub mod gated;
pub mod merkle;
pub mod poseidon_gate;
pub mod prove;
pub mod verifier;

pub use halo2_base;
pub use snark_verifier_sdk;
