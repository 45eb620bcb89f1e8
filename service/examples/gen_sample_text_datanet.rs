//! Generates the sample text Datanet `data/support/`: short customer-support messages in four classes
//! (`account`, `billing`, `delivery`, `technical`), written by this generator from phrase templates (the text is
//! the project's own, CC0-1.0).
//!
//! Usage: `gen_sample_text_datanet OUT_DIR` (or `scripts/gen-sample-text-datanet.sh`).
//!
//! Deterministic: fixed test keys and a fixed-seed SplitMix64, so the output is byte-identical every run.
//! Contributors 0..=7 are honest; 8 labels every message with a wrong class; 9 submits near-duplicates
//! (one word appended) of other contributors' messages. Also writes `queries.jsonl`, the sample epoch's 40
//! query texts, drawn from the same templates with another seed and never equal to a record.

use std::{collections::BTreeSet, fmt::Write as _};

use alloy_primitives::Address;
use zkattr_service::datanet::{record::test_key, Content, Record};

const CONTRIBUTORS: usize = 10;
const MISLABELER: usize = 8;
const NEAR_DUPLICATOR: usize = 9;
const PER_HONEST: usize = 36;
const MISLABELED: usize = 30;
const NEAR_DUPLICATES: usize = 24;
const QUERIES: usize = 40;
const LICENCE: &str = "CC0-1.0";
const SEED: u64 = 0x5u64 << 32 | 2026;
const CLASSES: [&str; 4] = ["account", "billing", "delivery", "technical"];

struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

/// Templates per class; `{a}`, `{b}` and `{c}` are filled from the class's slot lists.
fn templates(class: usize) -> (&'static [&'static str], [&'static [&'static str]; 3]) {
    match class {
        0 => (
            &[
                "I can't log in to my {a} since {b}.",
                "Please {c} my {a}, I {b}.",
                "How do I {c} the {a} on my profile?",
                "My {a} stopped working after {b}.",
                "Someone else may have access to my {a}; {b}.",
                "Can you help me {c} my {a}?",
            ],
            [
                &[
                    "account",
                    "password",
                    "username",
                    "two-factor login",
                    "email address",
                    "profile",
                ],
                &[
                    "yesterday",
                    "the last update",
                    "I changed phones",
                    "this morning",
                    "I moved abroad",
                    "last week",
                ],
                &["reset", "change", "recover", "delete", "verify", "unlock"],
            ],
        ),
        1 => (
            &[
                "I was charged {a} for {b}.",
                "Why is there a {c} on my {b} invoice?",
                "Please refund the {c}, I was billed {a}.",
                "My card was charged {a} but {b} shows nothing.",
                "The {c} on my statement for {b} looks wrong.",
                "Can I get a receipt for the {c}? I was billed {a}.",
            ],
            [
                &[
                    "twice",
                    "$49.99",
                    "the wrong amount",
                    "after cancelling",
                    "in the wrong currency",
                    "an extra fee",
                ],
                &[
                    "the annual plan",
                    "my subscription",
                    "last month",
                    "the March order",
                    "the upgrade",
                    "a gift card",
                ],
                &[
                    "charge", "refund", "payment", "late fee", "tax line", "discount",
                ],
            ],
        ),
        2 => (
            &[
                "My {a} has not arrived after {b}.",
                "The tracking for my {a} says {c}.",
                "The courier left my {a} {c}.",
                "Can you change the delivery address for my {a}? It ships in {b}.",
                "My {a} arrived damaged after {b}.",
                "When will my {a} be delivered? It has been {b}.",
            ],
            [
                &[
                    "parcel",
                    "order",
                    "package",
                    "replacement",
                    "shipment",
                    "box",
                ],
                &[
                    "two weeks",
                    "ten days",
                    "a month",
                    "five days",
                    "the promised date",
                    "three days",
                ],
                &[
                    "delivered but it is not here",
                    "at the wrong house",
                    "stuck in customs",
                    "returned to sender",
                    "outside in the rain",
                    "lost in transit",
                ],
            ],
        ),
        _ => (
            &[
                "The {a} crashes when I {c}.",
                "I get error {b} every time I {c}.",
                "The {a} is very slow since {b}.",
                "After the update the {a} will not {c}.",
                "Sync fails with code {b} on the {a}.",
                "The {a} freezes whenever I {c}.",
            ],
            [
                &[
                    "app",
                    "desktop client",
                    "browser extension",
                    "mobile app",
                    "dashboard",
                    "API",
                ],
                &[
                    "500",
                    "E42",
                    "timeout",
                    "403",
                    "the new version",
                    "0x80070005",
                ],
                &[
                    "open a file",
                    "upload a photo",
                    "start",
                    "sync",
                    "export a report",
                    "connect",
                ],
            ],
        ),
    }
}

fn message(rng: &mut SplitMix, class: usize) -> String {
    let (ts, [a, b, c]) = templates(class);
    rng.pick(ts)
        .replace("{a}", rng.pick(a))
        .replace("{b}", rng.pick(b))
        .replace("{c}", rng.pick(c))
}

fn key_seed(c: usize) -> String {
    format!("zkattr sample text contributor {c:02}")
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(args.len() == 2, "usage: {} OUT_DIR", args[0]);
    let keys: Vec<_> = (0..CONTRIBUTORS).map(|c| test_key(&key_seed(c))).collect();
    let mut rng = SplitMix(SEED);
    let mut seen = BTreeSet::new();
    let mut out = String::new();
    let mut counts = [0usize; CONTRIBUTORS];
    let mut honest: Vec<(String, usize)> = Vec::new();
    let mut push = |c: usize, text: String, label: usize, out: &mut String| -> anyhow::Result<()> {
        let rec = Record::sign(&keys[c], Content::Text(text), CLASSES[label], LICENCE);
        writeln!(out, "{}", rec.to_json())?;
        counts[c] += 1;
        Ok(())
    };
    // Honest and mislabeled messages, interleaved in a fixed order; each text is new.
    let mut plan: Vec<usize> = (0..MISLABELER)
        .flat_map(|c| std::iter::repeat_n(c, PER_HONEST))
        .chain(std::iter::repeat_n(MISLABELER, MISLABELED))
        .collect();
    for i in (1..plan.len()).rev() {
        plan.swap(i, rng.below(i + 1));
    }
    for c in plan {
        let class = rng.below(CLASSES.len());
        let text = loop {
            let t = message(&mut rng, class);
            if seen.insert(t.clone()) {
                break t;
            }
        };
        let label = if c == MISLABELER {
            (class + 1 + rng.below(CLASSES.len() - 1)) % CLASSES.len()
        } else {
            honest.push((text.clone(), class));
            class
        };
        push(c, text, label, &mut out)?;
    }
    // Near-duplicates: an honest message with one word appended.
    let mut taken = BTreeSet::new();
    while taken.len() < NEAR_DUPLICATES {
        let i = rng.below(honest.len());
        if !taken.insert(i) {
            continue;
        }
        let (text, class) = &honest[i];
        let text = format!(
            "{text} {}",
            rng.pick(&["Thanks.", "Please.", "Urgent.", "Regards."])
        );
        seen.insert(text.clone());
        push(NEAR_DUPLICATOR, text, *class, &mut out)?;
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
    let mut queries = String::new();
    let mut qrng = SplitMix(SEED ^ 0x9e37);
    let mut n = 0;
    while n < QUERIES {
        let t = message(&mut qrng, n % CLASSES.len());
        if seen.insert(t.clone()) {
            writeln!(queries, "{}", serde_json::json!({ "text": t }))?;
            n += 1;
        }
    }
    let dir = std::path::Path::new(&args[1]);
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("records.jsonl"), out)?;
    std::fs::write(
        dir.join("contributors.json"),
        serde_json::to_string_pretty(&roster)? + "\n",
    )?;
    std::fs::write(dir.join("queries.jsonl"), queries)?;
    eprintln!(
        "wrote {} records from {CONTRIBUTORS} contributors to {}",
        counts.iter().sum::<usize>(),
        dir.display()
    );
    Ok(())
}
