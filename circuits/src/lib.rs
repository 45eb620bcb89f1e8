//! zkattr statement types and circuits.
//!
//! Without features this crate is pure arithmetic: the BN254 scalar field ([`field`]), the Poseidon hash
//! that halo2-base's chip computes ([`poseidon`]), the Datanet Merkle tree ([`merkle`]), fixed-point
//! encodings ([`fixed`]) and the governance parameter set ([`params`]). The `halo2` feature (on by default)
//! adds the halo2-base gadgets that prove the same computations ([`halo2`]).
//!
//! ```
//! use zkattr_circuits::{field::Fr, merkle::MerkleTree, poseidon};
//!
//! let leaves: Vec<Fr> = (0..5u64).map(|i| poseidon::hash(&[Fr::from(i)])).collect();
//! let tree = MerkleTree::new(&leaves).unwrap();
//! let proof = tree.proof(3).unwrap();
//! assert!(proof.verify(leaves[3], tree.root()).is_ok());
//! ```
#![deny(missing_docs)]

pub mod commitments;
pub mod error;
pub mod field;
pub mod fixed;
pub mod merkle;
pub mod params;
pub mod poseidon;
pub mod statement;

#[cfg(feature = "halo2")]
pub mod halo2;
#[cfg(feature = "verify")]
pub mod receipt;
#[cfg(feature = "verify")]
pub mod verify;

pub use error::{Error, Result};
