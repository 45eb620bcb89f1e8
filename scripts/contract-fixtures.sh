#!/usr/bin/env bash
# Regenerates the forge tests' fixtures from the Rust prover: a real attribution proof (insecure test SRS,
# test shape) bound to forge's chain id and the distributor's test address, written to
# verifier-contracts/test/fixtures/{epoch.json,EpochFixture.sol}; also the committed test verifier.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-contracts.sh
ZKATTR_BLESS=1 cargo test --release -p zkattr-circuits --features halo2 --test evm -- --test-threads=1
