//! Datanet records: the JSONL import format, the canonical hashes and the contributor's signature.
//!
//! One record per line:
//!
//! ```json
//! {"contributor":"0x…20 bytes…","content":{"features":[0,3,16]},"label":"7","licence":"CC-BY-4.0","signature":"0x…65 bytes…"}
//! ```
//!
//! `content` is either `{"text": "…"}` or `{"features": [i32, …]}` (integers; the trainer scales them).
//! Unknown fields are refused. `label` may be empty; `licence` may not.
//!
//! # What is hashed and signed
//!
//! 1. Content bytes: `0x01 ‖ utf8(text)` for text; `0x02 ‖ u32be(n) ‖ i32be(x_1) ‖ … ‖ i32be(x_n)` for features.
//! 2. `content_hash = uint256(keccak256(content bytes)) mod p` (p: the BN254 scalar field order), written as
//!    32 big-endian bytes. It goes into the Merkle leaf and is what duplicates are detected by.
//! 3. `record_hash = keccak256("zkattr.record.v1" ‖ contributor (20 bytes) ‖ content_hash (32 bytes) ‖
//!    u32be(len label) ‖ utf8(label) ‖ u32be(len licence) ‖ utf8(licence))`.
//! 4. The contributor signs `record_hash` with EIP-191 `personal_sign`, i.e. the 32 raw bytes of
//!    `record_hash` as the message: the signed digest is
//!    `keccak256("\x19Ethereum Signed Message:\n32" ‖ record_hash)`. The signature is `r ‖ s ‖ v`
//!    (65 bytes, `v` 27/28 or 0/1) — what `eth_sign`/`personal_sign` wallets and `cast wallet sign` return.

use alloy_primitives::{keccak256, Address, Signature, B256};
use k256::ecdsa::SigningKey;
use serde::{Deserialize, Serialize};
use zkattr_circuits::field::{self, Fr};

/// Domain tag at the start of the signed record encoding.
pub const RECORD_TAG: &[u8] = b"zkattr.record.v1";

/// A record's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Content {
    /// Free text.
    Text(String),
    /// Integer features.
    Features(Vec<i32>),
}

impl Content {
    /// The canonical content bytes (see the module docs).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        match self {
            Content::Text(t) => {
                let mut b = Vec::with_capacity(1 + t.len());
                b.push(1);
                b.extend_from_slice(t.as_bytes());
                b
            }
            Content::Features(xs) => {
                let mut b = Vec::with_capacity(5 + 4 * xs.len());
                b.push(2);
                b.extend_from_slice(&(xs.len() as u32).to_be_bytes());
                for x in xs {
                    b.extend_from_slice(&x.to_be_bytes());
                }
                b
            }
        }
    }

    /// `keccak256(canonical bytes) mod p`.
    pub fn hash(&self) -> Fr {
        field::from_bytes_be_reduced(&keccak256(self.canonical_bytes()).0)
    }
}

/// The JSON form of a record, as read from a line.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordJson {
    contributor: String,
    content: Content,
    label: String,
    licence: String,
    signature: String,
}

/// A parsed, well-formed record (its signature not yet checked: see [`Record::verify_signature`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The contributor's address.
    pub contributor: Address,
    /// The content.
    pub content: Content,
    /// Label (may be empty).
    pub label: String,
    /// Licence of the content (SPDX identifier recommended).
    pub licence: String,
    /// `r ‖ s ‖ v`.
    pub signature: [u8; 65],
}

/// Parses an address; a mixed-case address must carry a valid EIP-55 checksum.
pub fn parse_address(s: &str) -> Result<Address, String> {
    let digits = s
        .strip_prefix("0x")
        .ok_or_else(|| format!("address {s:?} lacks the 0x prefix"))?;
    if digits.len() != 40 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("address {s:?} is not 20 hex bytes"));
    }
    let mixed = digits.bytes().any(|b| b.is_ascii_lowercase())
        && digits.bytes().any(|b| b.is_ascii_uppercase());
    if mixed {
        Address::parse_checksummed(s, None)
            .map_err(|_| format!("address {s:?} has a wrong EIP-55 checksum"))
    } else {
        s.parse().map_err(|e| format!("address {s:?}: {e}"))
    }
}

fn parse_signature(s: &str) -> Result<[u8; 65], String> {
    let digits = s
        .strip_prefix("0x")
        .ok_or("signature lacks the 0x prefix")?;
    let mut b = [0u8; 65];
    hex::decode_to_slice(digits, &mut b).map_err(|_| "signature is not 65 hex bytes".to_owned())?;
    Ok(b)
}

impl Record {
    /// Parses one JSONL line.
    pub fn from_json(line: &str) -> Result<Self, String> {
        let r: RecordJson =
            serde_json::from_str(line).map_err(|e| format!("not a valid record: {e}"))?;
        let contributor = parse_address(&r.contributor)?;
        if r.licence.trim().is_empty() {
            return Err("licence is empty".into());
        }
        match &r.content {
            Content::Features(xs) if xs.is_empty() => {
                return Err("content.features is empty".into())
            }
            Content::Text(t) if t.is_empty() => return Err("content.text is empty".into()),
            _ => {}
        }
        let signature = parse_signature(&r.signature)?;
        Ok(Self {
            contributor,
            content: r.content,
            label: r.label,
            licence: r.licence,
            signature,
        })
    }

    /// The JSONL line for this record.
    pub fn to_json(&self) -> String {
        let r = RecordJson {
            contributor: self.contributor.to_checksum(None),
            content: self.content.clone(),
            label: self.label.clone(),
            licence: self.licence.clone(),
            signature: format!("0x{}", hex::encode(self.signature)),
        };
        serde_json::to_string(&r).expect("records serialise")
    }

    /// `record_hash` (see the module docs).
    pub fn record_hash(&self) -> B256 {
        record_hash(
            self.contributor,
            &self.content.hash(),
            &self.label,
            &self.licence,
        )
    }

    /// Checks that the contributor signed [`Self::record_hash`].
    pub fn verify_signature(&self) -> Result<(), String> {
        verify_record_signature(self.contributor, &self.record_hash(), &self.signature)
    }

    /// Builds and signs a record (for tools and tests holding the contributor's key).
    pub fn sign(key: &SigningKey, content: Content, label: &str, licence: &str) -> Self {
        let contributor = Address::from_private_key(key);
        let sig = personal_sign(
            key,
            &record_hash(contributor, &content.hash(), label, licence),
        );
        Self {
            contributor,
            content,
            label: label.into(),
            licence: licence.into(),
            signature: sig.as_bytes(),
        }
    }
}

/// `record_hash` from its parts.
pub fn record_hash(contributor: Address, content_hash: &Fr, label: &str, licence: &str) -> B256 {
    let mut b = Vec::with_capacity(RECORD_TAG.len() + 20 + 32 + 8 + label.len() + licence.len());
    b.extend_from_slice(RECORD_TAG);
    b.extend_from_slice(contributor.as_slice());
    b.extend_from_slice(&field::to_bytes_be(content_hash));
    b.extend_from_slice(&(label.len() as u32).to_be_bytes());
    b.extend_from_slice(label.as_bytes());
    b.extend_from_slice(&(licence.len() as u32).to_be_bytes());
    b.extend_from_slice(licence.as_bytes());
    keccak256(b)
}

/// The EIP-191 (`personal_sign`) signature by `key` of the 32 bytes `hash`.
pub fn personal_sign(key: &SigningKey, hash: &B256) -> Signature {
    let digest = alloy_primitives::eip191_hash_message(hash);
    let (sig, recid) = key
        .sign_prehash_recoverable(digest.as_slice())
        .expect("signing a 32-byte digest");
    Signature::from_signature_and_parity(sig, recid.is_y_odd())
}

/// Parses `r ‖ s ‖ v`: `v` must be 27, 28, 0 or 1, and only the low-s form is accepted, so nobody can turn
/// a valid signature into a second one by negating s. Errors complete "signature …".
pub fn canonical_signature(raw: &[u8; 65]) -> Result<Signature, String> {
    let v = raw[64];
    if !matches!(v, 0 | 1 | 27 | 28) {
        return Err(format!("v = {v}; expected 27, 28, 0 or 1"));
    }
    let sig = Signature::from_raw_array(raw).map_err(|e| format!("is malformed: {e}"))?;
    if sig.normalize_s().is_some() {
        return Err("s is in the upper half of the curve order (non-canonical)".into());
    }
    Ok(sig)
}

/// Checks an EIP-191 signature of `record_hash` by `contributor`.
pub fn verify_record_signature(
    contributor: Address,
    record_hash: &B256,
    signature: &[u8; 65],
) -> Result<(), String> {
    let sig = canonical_signature(signature).map_err(|e| format!("signature {e}"))?;
    let signer = sig
        .recover_address_from_msg(record_hash)
        .map_err(|e| format!("cannot recover signer: {e}"))?;
    if signer != contributor {
        return Err(format!(
            "signed by {signer}, but the record's contributor is {contributor}"
        ));
    }
    Ok(())
}

/// A deterministic test key: the secret is `keccak256(seed)` (for samples and tests only, never for real funds).
pub fn test_key(seed: &str) -> SigningKey {
    SigningKey::from_slice(keccak256(seed.as_bytes()).as_slice())
        .expect("a keccak digest is a valid secret")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        Record::sign(
            &test_key("alice"),
            Content::Features(vec![0, -3, 16]),
            "7",
            "CC-BY-4.0",
        )
    }

    #[test]
    fn signed_record_verifies_and_round_trips_through_json() {
        let r = sample();
        r.verify_signature().unwrap();
        let back = Record::from_json(&r.to_json()).unwrap();
        assert_eq!(back, r);
        back.verify_signature().unwrap();
    }

    #[test]
    fn any_change_breaks_the_signature() {
        let r = sample();
        let mut x = r.clone();
        x.label = "1".into();
        assert!(x.verify_signature().is_err());
        let mut x = r.clone();
        x.licence = "MIT".into();
        assert!(x.verify_signature().is_err());
        let mut x = r.clone();
        x.content = Content::Features(vec![0, -3, 15]);
        assert!(x.verify_signature().is_err());
        let mut x = r.clone();
        x.contributor = Address::from_private_key(&test_key("bob"));
        let err = x.verify_signature().unwrap_err();
        assert!(err.contains("signed by"), "{err}");
        let mut x = r.clone();
        x.signature[10] ^= 1;
        assert!(x.verify_signature().is_err());
        // v outside {0, 1, 27, 28}.
        let mut x = r.clone();
        x.signature[64] = 37;
        assert!(x.verify_signature().unwrap_err().contains("expected 27"));
        // The high-s twin of a valid signature recovers the same signer but is refused.
        let sig = Signature::from_raw_array(&r.signature).unwrap();
        let n: alloy_primitives::U256 =
            "0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"
                .parse()
                .unwrap();
        let twin = Signature::new(sig.r(), n - sig.s(), !sig.v());
        assert_eq!(
            twin.recover_address_from_msg(r.record_hash()).unwrap(),
            r.contributor
        );
        let mut x = r.clone();
        x.signature = twin.as_bytes();
        assert!(x.verify_signature().unwrap_err().contains("non-canonical"));
    }

    #[test]
    fn content_encoding_separates_kinds_and_lengths() {
        assert_ne!(
            Content::Text("\u{0}".into()).hash(),
            Content::Features(vec![]).hash()
        );
        assert_ne!(
            Content::Features(vec![1]).hash(),
            Content::Features(vec![1, 0]).hash()
        );
        assert_eq!(
            Content::Features(vec![1, -1]).canonical_bytes(),
            vec![2, 0, 0, 0, 2, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]
        );
    }

    #[test]
    fn record_hash_is_pinned() {
        // Pins the documented byte layout: keccak256 of exactly these bytes.
        let contributor = Address::repeat_byte(0x11);
        let ch = Fr::from(5u64);
        let mut bytes = b"zkattr.record.v1".to_vec();
        bytes.extend_from_slice(&[0x11; 20]);
        bytes.extend_from_slice(&[0; 31]);
        bytes.push(5);
        bytes.extend_from_slice(&[0, 0, 0, 1, b'7', 0, 0, 0, 3, b'M', b'I', b'T']);
        assert_eq!(record_hash(contributor, &ch, "7", "MIT"), keccak256(bytes));
    }

    #[test]
    fn malformed_records_are_explained() {
        let good = sample().to_json();
        for (bad, needle) in [
            ("{", "not a valid record"),
            (
                &good.replace("\"label\"", "\"lable\"") as &str,
                "not a valid record",
            ),
            (&good.replace("CC-BY-4.0", ""), "licence is empty"),
            (&good.replace("0x", "1x"), "0x prefix"),
            (&good.replace("[0,-3,16]", "[]"), "features is empty"),
            (&good.replace("[0,-3,16]", "[0.5]"), "not a valid record"),
        ] {
            let err = Record::from_json(bad).unwrap_err();
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }

    #[test]
    fn checksum_is_enforced_on_mixed_case() {
        let a = Address::from_private_key(&test_key("alice"));
        let sum = a.to_checksum(None);
        assert_eq!(parse_address(&sum).unwrap(), a);
        assert_eq!(parse_address(&sum.to_lowercase()).unwrap(), a);
        // Flip the case of one letter.
        let i = sum[2..].find(|c: char| c.is_ascii_alphabetic()).unwrap() + 2;
        let mut broken = sum.clone().into_bytes();
        broken[i] ^= 0x20;
        let broken = String::from_utf8(broken).unwrap();
        assert!(
            broken[2..].chars().any(|c| c.is_ascii_lowercase())
                && broken[2..].chars().any(|c| c.is_ascii_uppercase()),
            "the flipped address must stay mixed-case for this test to mean anything"
        );
        assert!(parse_address(&broken).is_err());
    }
}
