#!/usr/bin/env bash
# Installs the Solidity toolchain of verifier-contracts/ from the npm registry, exactly as its package-lock.json
# pins it (npm ci checks every package's integrity hash), into verifier-contracts/node_modules: the npm solc
# (behind the wrapper verifier-contracts/bin/solc that zkattr and forge call), OpenZeppelin Contracts, and
# forge, anvil and cast (their -linux-amd64 packages hold the real binaries). No compiler is downloaded.
# Idempotent: does nothing when node_modules already matches the lock file.
set -euo pipefail
cd "$(dirname "$0")/../verifier-contracts"
if [ -f node_modules/.package-lock.json ] && [ node_modules/.package-lock.json -nt package-lock.json ] \
    && node -e '
        const want = require("./package.json").dependencies;
        for (const [name, version] of Object.entries(want)) {
            if (require("./node_modules/" + name + "/package.json").version !== version) process.exit(1);
        }' 2>/dev/null; then
    echo "Solidity toolchain present: $(bin/solc --version | tail -1)"
    exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
echo "Solidity toolchain installed: $(bin/solc --version | tail -1), $(bin/forge --version | head -1)"
