#!/usr/bin/env bash
# Compile-checks every CUDA path on a machine without a GPU (CI runs it on every submission):
#  - `cargo check` of the trainer, the service and the benches with the `cuda` feature (candle's kernels and
#    halo2-axiom-gpu's .cu files are compiled with nvcc for sm_90 by their build scripts);
#  - a real build of zkattr-gpu-msm with `cuda` (its tests and the zkattr-gpu binary), linked against the
#    driver stand-in, then run against it: a driver without devices, so the backends must fall back to
#    the CPU (`auto`) or refuse with the reason (`cuda`), with no panic.
# Toolchain and environment: scripts/cuda-env.sh. Own target dir, target/cuda (the feature changes builds).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/cuda-env.sh
target=target/cuda
cargo check --release --target-dir "$target" --all-targets \
    -p zkattr-trainer -p zkattr-service -p zkattr-benches \
    --features zkattr-trainer/cuda,zkattr-service/cuda
cargo build --release --target-dir "$target" -p zkattr-gpu-msm --features cuda --tests --bins
export LD_LIBRARY_PATH="$ZKATTR_CUDA_STUB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
ZKATTR_EXPECT_NO_GPU=1 cargo test --release --target-dir "$target" -p zkattr-gpu-msm --features cuda
"$target/release/zkattr-gpu" --expect-no-gpu
