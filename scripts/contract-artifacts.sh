#!/usr/bin/env bash
# Builds the contracts with forge and writes the artifacts zkattr embeds (ABI and creation code) to
# verifier-contracts/artifacts/<Contract>.json. The zkattr binary reads these committed files, so it builds and
# deploys without npm; `cargo test --release -p zkattr-tests --test contract_artifacts` fails when they drift from the sources.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-contracts.sh >/dev/null
cd verifier-contracts
bin/forge build --quiet
mkdir -p artifacts
node -e '
const fs = require("fs");
const names = ["OpenToken", "DatanetRegistry", "ParamsRegistry", "RewardDistributor", "ZkattrGovernor", "TimelockController"];
for (const n of names) {
  const a = JSON.parse(fs.readFileSync(`out/${n}.sol/${n}.json`, "utf8"));
  const out = { contractName: n, abi: a.abi, bytecode: { object: a.bytecode.object } };
  fs.writeFileSync(`artifacts/${n}.json`, JSON.stringify(out, null, 1) + "\n");
  console.log(`artifacts/${n}.json: ${(a.bytecode.object.length - 2) / 2} bytes of creation code, ${(a.deployedBytecode.object.length - 2) / 2} deployed`);
}'
