//! The sample Datanet shipped in the repository (`data/digits/`), embedded in the binary so that
//! `zkattr demo` runs anywhere without network or files.

/// `data/digits/records.jsonl`: 1,797 handwritten digits plus near-duplicates, signed by 20 test contributors.
pub const DIGITS_RECORDS: &[u8] = include_bytes!("../../data/digits/records.jsonl");

/// `data/digits/contributors.json`: the test contributors and their roles (honest, mislabeler, near-duplicator).
pub const DIGITS_CONTRIBUTORS: &str = include_str!("../../data/digits/contributors.json");

/// `data/digits/queries.jsonl`: the sample epoch's 100 query inputs (shifted digits, not in the Datanet).
pub const DIGITS_QUERIES: &str = include_str!("../../data/digits/queries.jsonl");

/// `data/support/contributors.json`: the sample text Datanet's roster (its mislabeler is the default for
/// `eval-attribution`'s recall on text).
pub const SUPPORT_CONTRIBUTORS: &str = include_str!("../../data/support/contributors.json");

/// The private key of sample contributor `index` (0..20): `keccak256("zkattr sample contributor NN")`. These
/// keys are public test keys (data/digits/README.md); the demo and tests claim rewards with them.
pub fn contributor_key(index: usize) -> alloy::signers::local::PrivateKeySigner {
    let seed = format!("zkattr sample contributor {index:02}");
    let secret = alloy::primitives::keccak256(seed.as_bytes());
    alloy::signers::local::PrivateKeySigner::from_bytes(&secret)
        .expect("a keccak digest is a valid key")
}

#[cfg(test)]
mod tests {
    #[test]
    fn contributor_keys_match_the_roster() {
        let roster: serde_json::Value = serde_json::from_str(super::DIGITS_CONTRIBUTORS).unwrap();
        let roster = roster.as_array().unwrap();
        assert_eq!(roster.len(), 20);
        for c in roster {
            let i = c["index"].as_u64().unwrap() as usize;
            let address = c["address"].as_str().unwrap().to_lowercase();
            assert_eq!(
                super::contributor_key(i)
                    .address()
                    .to_string()
                    .to_lowercase(),
                address
            );
        }
    }
}
