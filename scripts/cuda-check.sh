#!/usr/bin/env bash
# Compile-checks the CUDA paths (feature `cuda` of the trainer and the service, their tests and benches) on a
# machine without a GPU: nvcc 13.0 comes from the PyPI wheels DESIGN §3 names (x86-64 Linux, pinned by
# sha256), installed into .deps/cuda/; candle's kernels are compiled for sm_90 (H100). Own target dir:
# target/cuda-check (the `cuda` feature changes candle's build, so nothing is shared with target/release).
set -euo pipefail
cd "$(dirname "$0")/.."
cuda=.deps/cuda
root="$cuda/nvidia/cu13"
if ! "$root/bin/nvcc" --version >/dev/null 2>&1; then
    rm -rf "$cuda"
    req=$(mktemp)
    trap 'rm -f "$req"' EXIT
    cat >"$req" <<'REQ'
nvidia-cuda-nvcc==13.0.88 --hash=sha256:56fe502eb77625a12f25172caa3cdddb4e4c8ba2c8c17dba44b164761b380f03
nvidia-nvvm==13.0.88 --hash=sha256:c5f41ffeb6466944a026dfa5317d7d85355c119bbec279205d22f1869d1054e0
nvidia-cuda-crt==13.0.88 --hash=sha256:2c8043c7c9e02492716426e9919fc78d2c5b3b2a7a768a88e952676b08aa55a4
nvidia-cuda-cccl==13.0.85 --hash=sha256:e0da7ad981f3a8aff08241b5bfc1af868742a63e2762f53a5171c492ef242649
nvidia-cuda-runtime==13.0.96 --hash=sha256:7f82250d7782aa23b6cfe765ecc7db554bd3c2870c43f3d1821f1d18aebf0548
REQ
    python3 -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes \
        --target "$cuda" -r "$req"
fi
root=$(cd "$root" && pwd)
export PATH="$root/bin:$PATH" CUDA_ROOT="$root" CUDA_PATH="$root" CUDA_HOME="$root"
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}"
nvcc --version | tail -1
cargo check --release -p zkattr-trainer -p zkattr-service -p zkattr-benches --all-targets \
    --features zkattr-trainer/cuda,zkattr-service/cuda --target-dir target/cuda-check
