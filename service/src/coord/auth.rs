//! Signed requests: every write to the coordinator is signed by the key it acts for (no shared secrets).
//!
//! A signed request carries three headers:
//! - `x-zkattr-address`: the signer's address (`0x…`);
//! - `x-zkattr-time`: the signing time, milliseconds since the Unix epoch;
//! - `x-zkattr-signature`: a 65-byte `r ‖ s ‖ v` EIP-191 (`personal_sign`) signature, hex, of the 32-byte
//!   request digest
//!   `keccak256("zkattr-request-v1" ‖ 0x00 ‖ address (20 bytes) ‖ METHOD ‖ 0x00 ‖ PATH?QUERY ‖ 0x00 ‖
//!   time (8 bytes, big-endian) ‖ keccak256(body))`.
//!
//! A client sends at most one request per signer and millisecond with the same body (the [`Client`]
//! keeps its signing times strictly increasing), since a second one would be taken for a replay.
//!
//! [`Client`]: super::client::Client
//!
//! The coordinator accepts a signature only within [`MAX_SKEW_MS`] of its own clock and only once: it keeps
//! the digests it has seen for that long in its database (`Store::remember_request`), so a replay is refused
//! after a restart too, and by every coordinator sharing a PostgreSQL database. A captured request can be
//! neither replayed nor moved to another route or body. Only the low-s form of a signature is accepted.

use alloy_primitives::{keccak256, Address, Signature, B256};
use k256::ecdsa::SigningKey;

use crate::datanet::record::{canonical_signature, personal_sign};

/// Header naming the signer.
pub const ADDRESS_HEADER: &str = "x-zkattr-address";
/// Header with the signing time (ms).
pub const TIME_HEADER: &str = "x-zkattr-time";
/// Header with the signature (hex).
pub const SIGNATURE_HEADER: &str = "x-zkattr-signature";
/// How far a request's signing time may be from the coordinator's clock.
pub const MAX_SKEW_MS: i64 = 60_000;

const TAG: &[u8] = b"zkattr-request-v1";

/// Why a request's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// A header is absent.
    #[error("missing header {0} (writes must be signed; see docs/coordinator.md)")]
    Missing(&'static str),
    /// A header is not well-formed.
    #[error("malformed header {header}: {reason}")]
    Malformed {
        /// The header.
        header: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The signing time is too far from the coordinator's clock.
    #[error("request signed at {time} ms, more than {MAX_SKEW_MS} ms from the coordinator's clock ({now} ms)")]
    Stale {
        /// The signing time.
        time: i64,
        /// The coordinator's time.
        now: i64,
    },
    /// The signature is not by the named address (or not over this request).
    #[error("signature is not {claimed}'s over this request")]
    WrongSigner {
        /// The address named.
        claimed: Address,
    },
    /// The same signed request was already received.
    #[error("this signed request was already received (replay)")]
    Replay,
}

/// The digest a request's signature is over.
pub fn request_digest(
    signer: Address,
    method: &str,
    path_and_query: &str,
    time_ms: i64,
    body: &[u8],
) -> B256 {
    let mut b =
        Vec::with_capacity(TAG.len() + 20 + method.len() + path_and_query.len() + 3 + 8 + 32);
    b.extend_from_slice(TAG);
    b.push(0);
    b.extend_from_slice(signer.as_slice());
    b.extend_from_slice(method.to_ascii_uppercase().as_bytes());
    b.push(0);
    b.extend_from_slice(path_and_query.as_bytes());
    b.push(0);
    b.extend_from_slice(&time_ms.to_be_bytes());
    b.extend_from_slice(keccak256(body).as_slice());
    keccak256(b)
}

/// The three headers of a request signed by `key` at `time_ms`, as `(name, value)` pairs.
pub fn sign_request(
    key: &SigningKey,
    method: &str,
    path_and_query: &str,
    time_ms: i64,
    body: &[u8],
) -> [(&'static str, String); 3] {
    let digest = request_digest(
        Address::from_private_key(key),
        method,
        path_and_query,
        time_ms,
        body,
    );
    let sig = personal_sign(key, &digest);
    [
        (
            ADDRESS_HEADER,
            format!("{:#x}", Address::from_private_key(key)),
        ),
        (TIME_HEADER, time_ms.to_string()),
        (
            SIGNATURE_HEADER,
            format!("0x{}", hex::encode(sig.as_bytes())),
        ),
    ]
}

/// A request's signature headers as received.
#[derive(Debug, Clone, Copy)]
pub struct SignedHeaders<'a> {
    /// `x-zkattr-address`.
    pub address: Option<&'a str>,
    /// `x-zkattr-time`.
    pub time: Option<&'a str>,
    /// `x-zkattr-signature`.
    pub signature: Option<&'a str>,
}

/// A verified request: who signed it and the digest (for replay detection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The signer.
    pub signer: Address,
    /// The request digest signed.
    pub digest: B256,
    /// When it was signed (ms).
    pub time: i64,
}

/// Checks a request's signature headers against the request and the coordinator's clock `now` (ms).
/// Replays are the caller's to detect, with [`Verified::digest`] (see [`ReplayGuard`]).
pub fn verify_request(
    headers: SignedHeaders<'_>,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    now: i64,
) -> Result<Verified, AuthError> {
    let (claimed, time, sig) = precheck(headers, now)?;
    let digest = request_digest(claimed, method, path_and_query, time, body);
    match sig.recover_address_from_msg(digest) {
        Ok(signer) if signer == claimed => Ok(Verified {
            signer,
            digest,
            time,
        }),
        _ => Err(AuthError::WrongSigner { claimed }),
    }
}

/// Everything [`verify_request`] checks that does not need the body: the headers are present and well
/// formed, the time is within the window, the signature is in low-s form. The coordinator runs it before
/// reading a body, so an unsigned or stale request is refused without receiving its body.
pub fn precheck(
    headers: SignedHeaders<'_>,
    now: i64,
) -> Result<(Address, i64, Signature), AuthError> {
    let address = headers.address.ok_or(AuthError::Missing(ADDRESS_HEADER))?;
    let time = headers.time.ok_or(AuthError::Missing(TIME_HEADER))?;
    let signature = headers
        .signature
        .ok_or(AuthError::Missing(SIGNATURE_HEADER))?;
    let claimed: Address = address.parse().map_err(|e| AuthError::Malformed {
        header: ADDRESS_HEADER,
        reason: format!("{e}"),
    })?;
    let time: i64 = time.parse().map_err(|_| AuthError::Malformed {
        header: TIME_HEADER,
        reason: format!("{time:?} is not an integer number of milliseconds"),
    })?;
    if time.abs_diff(now) > MAX_SKEW_MS as u64 {
        return Err(AuthError::Stale { time, now });
    }
    let raw =
        hex::decode(signature.trim_start_matches("0x")).map_err(|e| AuthError::Malformed {
            header: SIGNATURE_HEADER,
            reason: format!("not hex: {e}"),
        })?;
    let raw: [u8; 65] = raw.try_into().map_err(|r: Vec<u8>| AuthError::Malformed {
        header: SIGNATURE_HEADER,
        reason: format!("{} bytes; expected 65 (r ‖ s ‖ v)", r.len()),
    })?;
    let sig = canonical_signature(&raw).map_err(|reason| AuthError::Malformed {
        header: SIGNATURE_HEADER,
        reason,
    })?;
    Ok((claimed, time, sig))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datanet::record::test_key;

    fn headers<'a>(h: &'a [(&'static str, String); 3]) -> SignedHeaders<'a> {
        SignedHeaders {
            address: Some(&h[0].1),
            time: Some(&h[1].1),
            signature: Some(&h[2].1),
        }
    }

    #[test]
    fn a_signed_request_verifies_and_nothing_about_it_can_change() {
        let key = test_key("worker-1");
        let h = sign_request(&key, "POST", "/v1/jobs/lease", 1_000, b"{\"kinds\":[]}");
        let ok = verify_request(
            headers(&h),
            "POST",
            "/v1/jobs/lease",
            b"{\"kinds\":[]}",
            1_500,
        )
        .unwrap();
        assert_eq!(ok.signer, Address::from_private_key(&key));
        // Another method, route, body or time, or another claimed signer: refused.
        for (m, p, b) in [
            ("PUT", "/v1/jobs/lease", &b"{\"kinds\":[]}"[..]),
            ("POST", "/v1/jobs/1/result", &b"{\"kinds\":[]}"[..]),
            ("POST", "/v1/jobs/lease", &b"{\"kinds\":[\"prove\"]}"[..]),
        ] {
            assert!(matches!(
                verify_request(headers(&h), m, p, b, 1_500),
                Err(AuthError::WrongSigner { .. })
            ));
        }
        let mut moved = h.clone();
        moved[1].1 = "1001".into();
        assert!(matches!(
            verify_request(
                headers(&moved),
                "POST",
                "/v1/jobs/lease",
                b"{\"kinds\":[]}",
                1_500
            ),
            Err(AuthError::WrongSigner { .. })
        ));
        let mut other = h.clone();
        other[0].1 = format!("{:#x}", Address::from_private_key(&test_key("worker-2")));
        assert!(matches!(
            verify_request(
                headers(&other),
                "POST",
                "/v1/jobs/lease",
                b"{\"kinds\":[]}",
                1_500
            ),
            Err(AuthError::WrongSigner { .. })
        ));
    }

    #[test]
    fn stale_missing_malformed_and_replayed_signatures_are_refused() {
        let key = test_key("worker-1");
        let h = sign_request(&key, "POST", "/x", 0, b"");
        assert_eq!(
            verify_request(headers(&h), "POST", "/x", b"", MAX_SKEW_MS + 1),
            Err(AuthError::Stale {
                time: 0,
                now: MAX_SKEW_MS + 1
            })
        );
        let none = SignedHeaders {
            address: None,
            time: None,
            signature: None,
        };
        assert_eq!(
            verify_request(none, "POST", "/x", b"", 0),
            Err(AuthError::Missing(ADDRESS_HEADER))
        );
        let mut short = h.clone();
        short[2].1 = "0xabcd".into();
        assert!(matches!(
            verify_request(headers(&short), "POST", "/x", b"", 0),
            Err(AuthError::Malformed {
                header: SIGNATURE_HEADER,
                ..
            })
        ));
        // The high-s twin of a valid signature is refused.
        let raw = hex::decode(h[2].1.trim_start_matches("0x")).unwrap();
        let sig = Signature::from_raw(&raw).unwrap();
        let n: alloy_primitives::U256 =
            "0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"
                .parse()
                .unwrap();
        let twin = Signature::new(sig.r(), n - sig.s(), !sig.v());
        let mut high = h.clone();
        high[2].1 = format!("0x{}", hex::encode(twin.as_bytes()));
        assert!(matches!(
            verify_request(headers(&high), "POST", "/x", b"", 0),
            Err(AuthError::Malformed {
                header: SIGNATURE_HEADER,
                ..
            })
        ));
        // A time at the edge of the integer range is stale, not an overflow.
        let mut far = h.clone();
        far[1].1 = i64::MIN.to_string();
        assert!(matches!(
            verify_request(headers(&far), "POST", "/x", b"", 0),
            Err(AuthError::Stale { .. })
        ));
    }
}
