//! Inclusion proofs: a self-contained file showing that one signed record is item `i` of a sealed Datanet
//! version, checkable without the Datanet.

use alloy_primitives::Address;
use serde::{Deserialize, Serialize};
use zkattr_circuits::{
    field::{self, Fr},
    merkle::{self, MerklePath},
};

use super::record::{record_hash, verify_record_signature, Content};
use crate::error::{Error, Result};

/// The item an inclusion proof is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionItem {
    /// Item index in the Datanet.
    pub index: u64,
    /// The contributor.
    pub contributor: Address,
    /// Content hash (the leaf commits to it).
    #[serde(with = "field::serde_hex")]
    pub content_hash: Fr,
    /// Label.
    pub label: String,
    /// Licence.
    pub licence: String,
    /// The content itself; may be removed from the file (privacy, size): the proof still verifies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
    /// The contributor's signature of the record, `0x` + 65 bytes.
    pub signature: String,
}

/// The inclusion proof file (`zkattr datanet prove-inclusion`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    /// Always [`InclusionProof::FORMAT`].
    pub format: String,
    /// Datanet name.
    pub datanet: String,
    /// Sealed version.
    pub version: u64,
    /// Items in that version.
    pub items: u64,
    /// Tree depth.
    pub depth: u32,
    /// The version's root, `0x…`.
    pub root: String,
    /// The item.
    pub item: InclusionItem,
    /// Merkle siblings, leaf level first.
    #[serde(with = "field::serde_hex::vec")]
    pub siblings: Vec<Fr>,
}

/// What a successful verification established.
#[derive(Debug, Clone, Serialize)]
pub struct VerifiedInclusion {
    /// Datanet name.
    pub datanet: String,
    /// Version.
    pub version: u64,
    /// Item index.
    pub item: u64,
    /// Contributor, checksummed.
    pub contributor: String,
    /// Root the path leads to.
    pub root: String,
    /// The leaf.
    pub leaf: String,
}

impl InclusionProof {
    /// The format tag of this version of the file.
    pub const FORMAT: &'static str = "zkattr.inclusion.v1";

    /// Parses a proof file's text.
    pub fn from_json(text: &str) -> Result<Self> {
        let p: Self = serde_json::from_str(text).map_err(|e| Error::BadProofFile(e.to_string()))?;
        if p.format != Self::FORMAT {
            return Err(Error::BadProofFile(format!(
                "format {:?}, expected {:?}",
                p.format,
                Self::FORMAT
            )));
        }
        Ok(p)
    }

    /// Pretty JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("proofs serialise")
    }

    /// The leaf this proof is about.
    pub fn leaf(&self) -> Fr {
        merkle::leaf_hash(
            field::from_address(&self.item.contributor.0 .0),
            self.item.content_hash,
            self.item.index,
        )
    }

    /// Checks everything the file states: the signature, the content hash (when the content is included), the
    /// shape of the path and that it leads to `root`. When `expected_root` is given, the file's root must also
    /// equal it (the root registered on-chain or sealed in a home).
    pub fn verify(&self, expected_root: Option<Fr>) -> Result<VerifiedInclusion> {
        let bad = |m: String| Err(Error::InclusionInvalid(m));
        let root =
            field::from_hex(&self.root).map_err(|e| Error::BadProofFile(format!("root: {e}")))?;
        if let Some(expected) = expected_root {
            if expected != root {
                return bad(format!(
                    "the proof is for root {}, not {}",
                    self.root,
                    field::to_hex(&expected)
                ));
            }
        }
        if self.item.index >= self.items {
            return bad(format!(
                "item {} is outside a version of {} items",
                self.item.index, self.items
            ));
        }
        let depth = merkle::depth_for(self.items as usize)?;
        if self.depth != depth || self.siblings.len() != depth as usize {
            return bad(format!(
                "a tree of {} items has depth {depth}; the proof says {} and has {} siblings",
                self.items,
                self.depth,
                self.siblings.len()
            ));
        }
        if let Some(content) = &self.item.content {
            if content.hash() != self.item.content_hash {
                return bad("the included content does not hash to content_hash".into());
            }
        }
        let sig_hex = self
            .item
            .signature
            .strip_prefix("0x")
            .unwrap_or(&self.item.signature);
        let mut sig = [0u8; 65];
        hex::decode_to_slice(sig_hex, &mut sig)
            .map_err(|_| Error::BadProofFile("signature is not 65 hex bytes".into()))?;
        let rh = record_hash(
            self.item.contributor,
            &self.item.content_hash,
            &self.item.label,
            &self.item.licence,
        );
        verify_record_signature(self.item.contributor, &rh, &sig)
            .map_err(Error::InclusionInvalid)?;
        let leaf = self.leaf();
        MerklePath {
            index: self.item.index,
            siblings: self.siblings.clone(),
        }
        .verify(leaf, root)
        .map_err(|e| Error::InclusionInvalid(e.to_string()))?;
        Ok(VerifiedInclusion {
            datanet: self.datanet.clone(),
            version: self.version,
            item: self.item.index,
            contributor: self.item.contributor.to_checksum(None),
            root: self.root.clone(),
            leaf: field::to_hex(&leaf),
        })
    }
}
