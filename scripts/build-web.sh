#!/usr/bin/env bash
# Builds the contributors' receipt page into target/web/receipts: the page's files (service/web/receipts)
# and the receipt verifier compiled to WebAssembly (service/web/verifier). The coordinator serves that folder
# at /receipts/ (zkattr serve --receipts-web DIR to serve another); it also works as plain static files.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || true
# No debug information in the page's module, whatever CARGO_PROFILE_RELEASE_DEBUG says.
CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=true \
    cargo build --release --locked -p zkattr-receipt-verifier --target wasm32-unknown-unknown
out=target/web/receipts
mkdir -p "$out"
cp service/web/receipts/index.html service/web/receipts/receipts.js service/web/receipts/receipts.css "$out/"
cp target/wasm32-unknown-unknown/release/zkattr_receipt_verifier.wasm "$out/"
echo "receipt page: $out ($(du -k "$out/zkattr_receipt_verifier.wasm" | cut -f1) KiB of WebAssembly)"
