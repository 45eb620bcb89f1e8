#!/usr/bin/env bash
# Compile-checks every CUDA path on a machine without a GPU (CI runs it on every submission):
#  - `cargo check` of the trainer, the service and the benches with the `cuda` feature (candle's kernels and
#    halo2-axiom-gpu's .cu files are compiled with nvcc for sm_90 by their build scripts);
#  - a real build of zkattr-gpu-msm with `cuda` (its tests and benches) and of the zkattr-gpu binary (MSM
#    and attribution proofs on the GPU), linked against the driver stand-in of scripts/cuda-env.sh.
# The CUDA binaries are not run here: halo2-axiom-gpu's memory manager (openvm-cuda-common) selects the
# device in a static constructor and aborts the process when there is none (docs/gpu.md).
# Own target dir, target/cuda (the feature changes builds).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/cuda-env.sh
target=target/cuda
cargo check --release --target-dir "$target" --all-targets \
    -p zkattr-trainer -p zkattr-service -p zkattr-benches \
    --features zkattr-trainer/cuda,zkattr-service/cuda
cargo build --release --target-dir "$target" -p zkattr-gpu-msm --features cuda --all-targets
cargo build --release --target-dir "$target" -p zkattr-circuits --features cuda --bin zkattr-gpu
cargo clippy --release --target-dir "$target" -p zkattr-gpu-msm -p zkattr-circuits --features \
    zkattr-gpu-msm/cuda,zkattr-circuits/cuda --all-targets -- -D warnings
ls -l "$target/release/zkattr-gpu"
