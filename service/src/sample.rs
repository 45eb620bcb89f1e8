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
