#!/usr/bin/env bash
# The main job (the README's first command): installs the npm Solidity toolchain the demo's generated
# verifier is compiled with (scripts/setup-contracts.sh; idempotent), then runs `zkattr demo`, the whole epoch
# on the embedded sample Datanet against the embedded chain. Arguments go to `zkattr demo` (e.g. --json).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-contracts.sh
cargo run --release --bin zkattr -- demo "$@"
