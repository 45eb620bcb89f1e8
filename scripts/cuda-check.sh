#!/usr/bin/env bash
# Compile-checks every CUDA path on a machine without a GPU (CI runs it on every submission): clippy (so
# `cargo check` and the lints, -D warnings) over every crate with its `cuda` feature: the trainer and the
# service (candle's CUDA backend), zkattr-gpu-msm and the circuits (halo2-axiom-gpu, and the zkattr-gpu
# binary), the benches. The build scripts compile candle's kernels and halo2-axiom-gpu's .cu files with nvcc
# for sm_90, so every CUDA file is compiled. Linking the GPU binaries (against the driver stand-in of
# scripts/cuda-env.sh) is scripts/build-cuda.sh's part: it needs release code generation of the whole
# proving stack a second time, too slow for CI's budget. The workspace's target dir (the crates the `cuda`
# features leave alone are checked once). Device code is compiled without optimisation (nvcc's
# NVCC_APPEND_FLAGS): every file is still parsed, instantiated, compiled to PTX and assembled, in half the
# time (candle's kernels: 8.6 -> 4.2 min on 2 cores); scripts/build-cuda.sh builds optimised code. Run it
# last (CI does): the next build without the CUDA environment can redo part of the stack.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/cuda-env.sh
export NVCC_APPEND_FLAGS="${NVCC_APPEND_FLAGS:-} -Xcicc -O0 -Xptxas -O0"
cargo clippy --release --workspace --all-targets \
    --features zkattr-trainer/cuda,zkattr-service/cuda,zkattr-gpu-msm/cuda,zkattr-circuits/cuda,zkattr-benches/cuda \
    -- -D warnings
