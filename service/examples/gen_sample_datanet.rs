//! Regenerates the sample Datanet `data/digits/` from the digits data bundled in the scikit-learn wheel.
//! Run through `scripts/gen-sample-datanet.sh`, which fetches the wheel and passes `digits.csv.gz`.
//!
//! Usage: `gen_sample_datanet DIGITS_CSV_GZ OUT_DIR`
//!
//! Deterministic: fixed test keys and a fixed-seed generator, so the output is byte-identical every run.
//! Also writes `queries.jsonl`, the sample epoch's 100 query inputs.
//! Contributors 0..=17 are honest; 18 labels every sample wrongly; 19 submits near-duplicates (one pixel
//! changed by one) of other contributors' samples.

use std::{
    fmt::Write as _,
    io::{BufRead, BufReader},
};

use alloy_primitives::Address;
use flate2::read::GzDecoder;
use zkattr_service::datanet::{record::test_key, Content, Record};

const CONTRIBUTORS: usize = 20;
const MISLABELER: usize = 18;
const NEAR_DUPLICATOR: usize = 19;
const NEAR_DUPLICATES: usize = 60;
const LICENCE: &str = "CC-BY-4.0";
const SEED: u64 = 2026;
const QUERIES: usize = 100;

/// SplitMix64: tiny, fixed and documented, so the sample does not depend on a crate's RNG stream.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn key_seed(c: usize) -> String {
    format!("zkattr sample contributor {c:02}")
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(args.len() == 3, "usage: {} DIGITS_CSV_GZ OUT_DIR", args[0]);
    let file = std::fs::File::open(&args[1])?;
    let mut samples: Vec<(Vec<i32>, u8)> = Vec::new();
    for line in BufReader::new(GzDecoder::new(file)).lines() {
        let line = line?;
        let xs: Vec<i32> = line
            .split(',')
            .map(|v| v.trim().parse())
            .collect::<Result<_, _>>()?;
        anyhow::ensure!(
            xs.len() == 65,
            "expected 64 pixels and a label, got {} values",
            xs.len()
        );
        samples.push((xs[..64].to_vec(), u8::try_from(xs[64])?));
    }
    anyhow::ensure!(
        samples.len() == 1797,
        "expected the 1,797 digits, got {}",
        samples.len()
    );

    let keys: Vec<_> = (0..CONTRIBUTORS).map(|c| test_key(&key_seed(c))).collect();
    let mut rng = SplitMix(SEED);
    // Uneven shares: honest contributor c has weight 1 + c % 6; the mislabeler weight 3.
    let weights: Vec<u64> = (0..=MISLABELER)
        .map(|c| {
            if c == MISLABELER {
                3
            } else {
                1 + (c as u64 % 6)
            }
        })
        .collect();
    let total: u64 = weights.iter().sum();
    let mut owner = Vec::with_capacity(samples.len());
    let mut out = String::new();
    let mut counts = [0usize; CONTRIBUTORS];
    for (pixels, label) in &samples {
        let mut r = rng.below(total);
        let c = weights
            .iter()
            .position(|&w| {
                if r < w {
                    true
                } else {
                    r -= w;
                    false
                }
            })
            .expect("r < total");
        let shown = if c == MISLABELER {
            (*label as u64 + 1 + rng.below(9)) % 10
        } else {
            *label as u64
        };
        let rec = Record::sign(
            &keys[c],
            Content::Features(pixels.clone()),
            &shown.to_string(),
            LICENCE,
        );
        writeln!(out, "{}", rec.to_json())?;
        owner.push(c);
        counts[c] += 1;
    }
    // Near-duplicates of distinct samples owned by honest contributors.
    let mut taken = std::collections::BTreeSet::new();
    while taken.len() < NEAR_DUPLICATES {
        let i = rng.below(samples.len() as u64) as usize;
        if owner[i] == MISLABELER || !taken.insert(i) {
            continue;
        }
        let (mut pixels, label) = samples[i].clone();
        let p = rng.below(64) as usize;
        pixels[p] = if pixels[p] < 16 {
            pixels[p] + 1
        } else {
            pixels[p] - 1
        };
        let rec = Record::sign(
            &keys[NEAR_DUPLICATOR],
            Content::Features(pixels),
            &label.to_string(),
            LICENCE,
        );
        writeln!(out, "{}", rec.to_json())?;
        counts[NEAR_DUPLICATOR] += 1;
    }

    let roster: Vec<_> = (0..CONTRIBUTORS)
        .map(|c| {
            let role = match c {
                MISLABELER => "mislabeler",
                NEAR_DUPLICATOR => "near-duplicator",
                _ => "honest",
            };
            serde_json::json!({
                "index": c,
                "address": Address::from_private_key(&keys[c]).to_checksum(None),
                "key_seed": key_seed(c),
                "role": role,
                "items": counts[c],
            })
        })
        .collect();
    let dir = std::path::Path::new(&args[2]);
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("records.jsonl"), out)?;
    std::fs::write(
        dir.join("contributors.json"),
        serde_json::to_string_pretty(&roster)? + "\n",
    )?;
    // The epoch's queries: 100 inputs the model is asked about, not in the Datanet. Every 18th digit shifted
    // one pixel to the right (the left column becomes blank), so they resemble but do not equal any record.
    let mut queries = String::new();
    for (pixels, _) in samples.iter().step_by(18).take(QUERIES) {
        let shifted: Vec<i32> = (0..64)
            .map(|p| if p % 8 == 0 { 0 } else { pixels[p - 1] })
            .collect();
        writeln!(queries, "{}", serde_json::json!({ "features": shifted }))?;
    }
    std::fs::write(dir.join("queries.jsonl"), queries)?;
    eprintln!(
        "wrote {} records from {CONTRIBUTORS} contributors to {}",
        counts.iter().sum::<usize>(),
        dir.display()
    );
    Ok(())
}
