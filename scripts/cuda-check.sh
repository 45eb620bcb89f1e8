#!/usr/bin/env bash
# Compile-checks the CUDA paths (feature `cuda` of the trainer and the service, their tests and benches) on a
# machine without a GPU: nvcc 13.0 comes from the PyPI wheels DESIGN §3 names, installed into .deps/cuda/
# (idempotent); candle's kernels are compiled for sm_90 (H100). Own target dir: target/cuda-check.
set -euo pipefail
cd "$(dirname "$0")/.."
cuda=.deps/cuda
root="$cuda/nvidia/cu13"
if [ ! -x "$root/bin/nvcc" ]; then
    python3 -m pip install --quiet --disable-pip-version-check --target "$cuda" \
        "nvidia-cuda-nvcc==13.0.88" "nvidia-nvvm==13.0.88" "nvidia-cuda-crt==13.0.88" \
        "nvidia-cuda-cccl==13.0.85" "nvidia-cuda-runtime==13.0.96"
fi
root=$(cd "$root" && pwd)
export PATH="$root/bin:$PATH" CUDA_ROOT="$root" CUDA_PATH="$root" CUDA_HOME="$root"
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}"
nvcc --version | tail -1
cargo check --release -p zkattr-trainer -p zkattr-service -p zkattr-benches --all-targets \
    --features zkattr-trainer/cuda,zkattr-service/cuda --target-dir target/cuda-check
