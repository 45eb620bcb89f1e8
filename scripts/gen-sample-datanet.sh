#!/usr/bin/env bash
# Regenerates data/digits/ (records.jsonl, contributors.json) from the digits data set that the
# scikit-learn wheel bundles (sklearn/datasets/data/digits.csv.gz). Needs pip and cargo; the output is
# byte-identical on every run (fixed test keys, fixed-seed generator), so `git diff` after it shows nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: scikit-learn==1.7.2 -d "$tmp"
python3 - "$tmp" <<'PY'
import glob, sys, zipfile
whl = glob.glob(sys.argv[1] + "/scikit_learn-*.whl")[0]
zipfile.ZipFile(whl).extract("sklearn/datasets/data/digits.csv.gz", sys.argv[1])
PY
cargo run --release --quiet -p zkattr-service --example gen_sample_datanet -- \
  "$tmp/sklearn/datasets/data/digits.csv.gz" data/digits
