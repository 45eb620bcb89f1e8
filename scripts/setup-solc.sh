#!/usr/bin/env bash
# Installs the Solidity toolchain of verifier-contracts/ from the npm registry, exactly as its package-lock.json
# pins it (npm ci checks every package's integrity hash), into verifier-contracts/node_modules. Idempotent.
# verifier-contracts/bin/solc is the compiler wrapper zkattr (and forge) call; no compiler is downloaded.
set -euo pipefail
cd "$(dirname "$0")/../verifier-contracts"
want=$(node -e 'console.log(require("./package.json").dependencies.solc)')
if [ -f node_modules/solc/package.json ] && [ node_modules/.package-lock.json -nt package-lock.json ] \
    && [ "$(node -e 'console.log(require("./node_modules/solc/package.json").version)')" = "$want" ]; then
    echo "Solidity toolchain present: $(bin/solc --version | tail -1)"
    exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
echo "Solidity toolchain installed: $(bin/solc --version | tail -1)"
