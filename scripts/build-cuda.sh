#!/usr/bin/env bash
# Builds the CUDA binaries for a GPU machine (sm_90, H100) on a machine without one, stripped, into
# target/cuda-bin/:
#   zkattr-gpu   the lean check: devices, the backend `auto` picks, MSMs and attribution proofs on the GPU
#                against the CPU (GPU = CPU, both verify with one key), timings, peak GPU memory
#   zkattr       with --zkattr: the whole CLI with `cuda` (training on candle's CUDA backend, proving on
#                halo2-axiom-gpu: `zkattr prove --backend cuda`, `zkattr worker`). candle links cuBLAS,
#                cuBLASLt, cuRAND and NVRTC, so their CUDA 13.0 wheels (about 0.7 GB) are installed to
#                link against; the GPU machine's CUDA 13 provides them at run time.
#   --figures    also what scripts/gpu-figures.sh runs there: the MSM edge tests (msm_edges), the circuits'
#                unit tests (circuits_tests, for the backend test), the criterion MSM bench (msm_bench), the
#                criterion attribution-proof bench (prove_bench), and
#                the EVM verifiers of the synthetic epochs it proves (evm/verifier-N.hex, written by the CPU
#                build of zkattr-gpu, which needs the contracts toolchain: scripts/setup-contracts.sh)
# They need the NVIDIA driver's libcuda.so.1 (CUDA 13.0, driver 580 or later) and a GPU to start
# (docs/gpu.md). Toolchain and environment: scripts/cuda-env.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/cuda-env.sh
target=target/cuda
out=target/cuda-bin
mkdir -p "$out"
cargo build --release --target-dir "$target" -p zkattr-circuits --features cuda --bin zkattr-gpu
bins=(zkattr-gpu)
if [ "${1:-}" = "--figures" ]; then
    copy() { # copy NAME: the one executable cargo just listed
        local exe
        exe=$(sed -n 's/^ *Executable .*(\(.*\))$/\1/p' "$log" | tail -n 1)
        [ -n "$exe" ] || { echo "build-cuda.sh: cargo listed no executable for $1" >&2; exit 1; }
        strip -o "$out/$1" "$exe"
    }
    log=$(mktemp)
    trap 'rm -f "$log"' EXIT
    export CARGO_TERM_COLOR=never # plain "Executable … (path)" lines for copy
    cargo test --release --no-run --target-dir "$target" -p zkattr-gpu-msm --features cuda --test msm_edges 2>&1 | tee "$log"
    copy msm_edges
    cargo test --release --no-run --target-dir "$target" -p zkattr-circuits --features cuda --lib 2>&1 | tee "$log"
    copy circuits_tests
    cargo bench --no-run --target-dir "$target" -p zkattr-gpu-msm --features cuda --bench msm 2>&1 | tee "$log"
    copy msm_bench
    cargo bench --no-run --target-dir "$target" -p zkattr-benches --features cuda --bench prove 2>&1 | tee "$log"
    copy prove_bench
    rm -f "$log"
    # The verifiers come from the CPU build (this one cannot start without a GPU); keys are deterministic.
    cargo build --release -p zkattr-circuits --bin zkattr-gpu
    target/release/zkattr-gpu --write-verifiers 4096,16384 "$out/evm"
fi
if [ "${1:-}" = "--zkattr" ]; then
    libs="$PWD/.deps/cuda-libs"
    want=(libcublas.so.13 libcublasLt.so.13 libcurand.so.10 libnvrtc.so.13)
    have() { for l in "${want[@]}"; do [ -e "$libs/nvidia/cu13/lib/$l" ] || return 1; done; }
    if ! have; then
        rm -rf "$libs"
        req=$(mktemp)
        cat >"$req" <<'REQ'
nvidia-cublas==13.0.2.14 --hash=sha256:0cf238ffdbe46c00cb9aa98e7bca745c223a5ca5a53e686ac8b3e5a08fe80d6c
nvidia-curand==10.4.0.35 --hash=sha256:1aee33a5da6e1db083fe2b90082def8915f30f3248d5896bcec36a579d941bfc
nvidia-cuda-nvrtc==13.0.88 --hash=sha256:ad9b6d2ead2435f11cbb6868809d2adeeee302e9bb94bcf0539c7a40d80e8575
REQ
        python3 -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes \
            --target "$libs" -r "$req"
        rm -f "$req"
        have || { echo "build-cuda.sh: the wheels lack one of ${want[*]}" >&2; exit 1; }
    fi
    for l in "${want[@]}"; do
        ln -sf "$libs/nvidia/cu13/lib/$l" "$root/lib/${l%%.so.*}.so"
    done
    cargo build --release --target-dir "$target" -p zkattr-service --features cuda --bin zkattr
    bins+=(zkattr)
fi
for b in "${bins[@]}"; do
    strip -o "$out/$b" "$target/release/$b"
    echo "$out/$b: $(du -h "$out/$b" | cut -f1); needs $(ldd "$out/$b" | awk '/=>/ {print $1}' | grep -E 'cuda|cublas|curand|nvrtc' | tr '\n' ' ')"
done
