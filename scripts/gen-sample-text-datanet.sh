#!/usr/bin/env bash
# Regenerates data/support/ (records.jsonl, contributors.json, queries.jsonl), the sample text Datanet. The
# output is byte-identical on every run (fixed test keys, fixed-seed generator): `git diff` after it shows nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --quiet -p zkattr-service --example gen_sample_text_datanet -- data/support
