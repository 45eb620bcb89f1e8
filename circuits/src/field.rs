//! The BN254 scalar field and the encodings of values into it.
//!
//! Text form of a field element everywhere in zkattr (files, JSON, logs): `0x` followed by exactly 64
//! lower-case hex digits, big-endian, canonical (less than the modulus). This is the same order in which
//! Solidity sees a `uint256`.

use ff::PrimeField;

use crate::error::{Error, Result};

/// An element of the BN254 scalar field (the field halo2-axiom circuits over BN254 work in).
pub use halo2curves_axiom::bn256::Fr;

/// Big-endian 32-byte encoding of a field element.
pub fn to_bytes_be(x: &Fr) -> [u8; 32] {
    let mut b = x.to_repr();
    b.reverse();
    b
}

/// Parses a canonical big-endian 32-byte encoding; `None` when the value is not below the modulus.
pub fn from_bytes_be(bytes: &[u8; 32]) -> Option<Fr> {
    let mut le = *bytes;
    le.reverse();
    Option::from(Fr::from_repr(le))
}

/// Interprets 32 bytes as a big-endian integer and reduces it modulo the field order.
///
/// This is what Solidity's `uint256(keccak256(..)) % p` computes, so hashes made here and on-chain agree.
pub fn from_bytes_be_reduced(bytes: &[u8; 32]) -> Fr {
    // x = hi * 2^128 + lo, both halves below the modulus.
    let hi = u128::from_be_bytes(bytes[..16].try_into().expect("16 bytes"));
    let lo = u128::from_be_bytes(bytes[16..].try_into().expect("16 bytes"));
    let two_128 = Fr::from_u128(u128::MAX) + Fr::one();
    Fr::from_u128(hi) * two_128 + Fr::from_u128(lo)
}

/// Embeds an Ethereum address (20 bytes, big-endian) as a field element: the address read as a 160-bit integer.
pub fn from_address(address: &[u8; 20]) -> Fr {
    let mut b = [0u8; 32];
    b[12..].copy_from_slice(address);
    from_bytes_be(&b).expect("a 160-bit integer is below the modulus")
}

/// `x` as a field element (exact: `x < 2^128 < p`).
pub fn from_u128(x: u128) -> Fr {
    <Fr as ff::PrimeField>::from_u128(x)
}

/// Embeds a signed integer: non-negative values as themselves, negative values as `p - |x|`.
pub fn from_i64(x: i64) -> Fr {
    if x >= 0 {
        Fr::from(x as u64)
    } else {
        -Fr::from(x.unsigned_abs())
    }
}

/// `0x` + 64 hex digits, big-endian.
pub fn to_hex(x: &Fr) -> String {
    format!("0x{}", hex::encode(to_bytes_be(x)))
}

/// Parses the text form written by [`to_hex`]; leading zeros may be omitted, the `0x` prefix may not.
pub fn from_hex(s: &str) -> Result<Fr> {
    let err = |reason| Error::InvalidFieldElement {
        input: s.to_owned(),
        reason,
    };
    let digits = s
        .strip_prefix("0x")
        .ok_or_else(|| err("missing 0x prefix"))?;
    if digits.is_empty() || digits.len() > 64 {
        return Err(err("expected 1 to 64 hex digits"));
    }
    let padded = format!("{digits:0>64}");
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(&padded, &mut bytes).map_err(|_| err("not hexadecimal"))?;
    from_bytes_be(&bytes).ok_or_else(|| err("not below the BN254 scalar field modulus"))
}

/// Field elements in their `0x…` text form, for serde.
pub mod serde_hex {
    use super::{from_hex, to_hex, Fr};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serialises as `0x` + 64 hex digits.
    pub fn serialize<S: Serializer>(x: &Fr, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&to_hex(x))
    }

    /// Parses `0x…` text.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Fr, D::Error> {
        let s = String::deserialize(d)?;
        from_hex(&s).map_err(serde::de::Error::custom)
    }

    /// The same for a list of field elements.
    pub mod vec {
        use super::super::{from_hex, to_hex, Fr};
        use serde::{ser::SerializeSeq, Deserialize, Deserializer, Serializer};

        /// Serialises each element as `0x` + 64 hex digits.
        pub fn serialize<S: Serializer>(xs: &[Fr], s: S) -> std::result::Result<S::Ok, S::Error> {
            let mut seq = s.serialize_seq(Some(xs.len()))?;
            for x in xs {
                seq.serialize_element(&to_hex(x))?;
            }
            seq.end()
        }

        /// Parses a list of `0x…` strings.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> std::result::Result<Vec<Fr>, D::Error> {
            Vec::<String>::deserialize(d)?
                .iter()
                .map(|s| from_hex(s).map_err(serde::de::Error::custom))
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ff::Field;

    /// p - 1, big-endian.
    const P_MINUS_1: &str = "0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000000";

    #[test]
    fn hex_round_trip_and_canonical_form() {
        let x = Fr::from(0x1234u64);
        assert_eq!(to_hex(&x), format!("0x{:064x}", 0x1234));
        assert_eq!(from_hex(&to_hex(&x)).unwrap(), x);
        assert_eq!(from_hex("0x1234").unwrap(), x);
        assert_eq!(from_hex(P_MINUS_1).unwrap(), -Fr::ONE);
    }

    #[test]
    fn hex_rejects_bad_input() {
        assert!(from_hex("1234").is_err());
        assert!(from_hex("0x").is_err());
        assert!(from_hex("0xzz").is_err());
        assert!(from_hex(&format!("0x{}", "0".repeat(65))).is_err());
        // The modulus itself is not canonical.
        assert!(
            from_hex("0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001").is_err()
        );
    }

    #[test]
    fn reduction_matches_modular_arithmetic() {
        // p reduces to 0, p + 5 to 5, 2^256 - 1 to (2^256 - 1) mod p.
        let mut p = [0u8; 32];
        hex::decode_to_slice(
            "30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001",
            &mut p,
        )
        .unwrap();
        assert_eq!(from_bytes_be_reduced(&p), Fr::ZERO);
        let mut p5 = p;
        p5[31] += 5;
        assert_eq!(from_bytes_be_reduced(&p5), Fr::from(5u64));
        let all = from_bytes_be_reduced(&[0xff; 32]);
        let two_256_minus_1 = {
            let two_128 = Fr::from_u128(u128::MAX) + Fr::ONE;
            two_128 * two_128 - Fr::ONE
        };
        assert_eq!(all, two_256_minus_1);
    }

    #[test]
    fn address_and_signed_embeddings() {
        let a = [0xabu8; 20];
        let x = from_address(&a);
        assert_eq!(&to_bytes_be(&x)[12..], &a);
        assert_eq!(from_i64(-3) + Fr::from(3u64), Fr::ZERO);
        assert_eq!(from_i64(i64::MIN) + Fr::from(1u64 << 63), Fr::ZERO);
    }
}
