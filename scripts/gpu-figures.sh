#!/usr/bin/env bash
# The GPU figures of issue #8, in one run on a GPU machine, from what `scripts/build-cuda.sh --figures` put in
# target/cuda-bin/ (carry that folder; nothing else is needed there but the NVIDIA driver):
#   info     nvidia-smi and the devices, the backend `auto` selects
#   tests    the MSM edge tests, every backend against arkworks (gpu-msm/tests/msm_edges.rs), and the
#            circuits' backend test (a GPU proof verifies with the CPU's keys); with ZKATTR_REQUIRE_GPU=1, so
#            that a test whose GPU half cannot run fails instead of skipping
#   msm      GPU MSM = CPU MSM on seeded inputs, both timed (zkattr-gpu --msm)
#   prove    attribution proofs on both backends at N = 4,096 and 16,384: both verify with one key, natively
#            and in revm (verifiers written on the build machine by `zkattr-gpu --write-verifiers`), a
#            tampered proof and a tampered public input refused; where each timed GPU proof's time went
#            (`phase` and `transfer` lines, docs/gpu.md)
#   bench    the criterion MSM bench, GPU only (2^16 … 2^24)
#   pbench   the criterion attribution-proof bench, GPU only (ZKATTR_GPU_PROVE's sizes; the CPU figures are
#            the prove stage's)
#   large    N = 65,536 on the GPU alone (its CPU proof would not fit the run)
# Each stage runs under a share of SECONDS (default 560) and writes OUTDIR/<stage>.log as it goes, so a run
# cut short keeps what it measured; summary.txt gives each stage's exit status and time, smi.csv the GPU's
# memory and load every 250 ms. ZKATTR_GPU_STAGES picks stages (default: all, in the order above);
# ZKATTR_GPU_PROVE (default 4096,16384) and ZKATTR_GPU_LARGE (default 65536) set the sizes and
# ZKATTR_GPU_PROVE_CAP (default 240 s) the prove stage's share and ZKATTR_GPU_CPU_MAX (default: no limit) the
# largest N the prove stage also proves on the CPU, e.g. to measure only what a first run did not reach:
#   ZKATTR_GPU_STAGES="info prove" ZKATTR_GPU_PROVE=16384 ZKATTR_GPU_PROVE_CAP=540 scripts/gpu-figures.sh OUTDIR 560
#
#   scripts/gpu-figures.sh OUTDIR [SECONDS]
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/gpu-figures.sh OUTDIR [SECONDS]}
budget=${2:-560}
bin=${ZKATTR_GPU_BIN_DIR:-target/cuda-bin}
mkdir -p "$out"
start=$(date +%s)
left() { echo $((budget - ($(date +%s) - start))); }
stages=" ${ZKATTR_GPU_STAGES:-info tests msm prove bench pbench large} "

# stage NAME CAP COMMAND...: runs COMMAND for at most CAP seconds (or what is left of the budget).
stage() {
    local name=$1 cap=$2 l t s rc
    shift 2
    [[ $stages == *" $name "* ]] || return 0
    l=$(left)
    l=$((l - 6)) # the kill's grace period and the bookkeeping come out of the budget too
    t=$((cap < l ? cap : l))
    if ((t < 15)); then
        echo "$name: skipped, $l s left" | tee -a "$out/summary.txt"
        return
    fi
    echo "== $name (at most $t s, at $(date -u +%T))"
    s=$(date +%s)
    timeout -k 5 "$t" "$@" >"$out/$name.log" 2>&1
    rc=$?
    echo "$name: rc $rc, $(($(date +%s) - s)) s, from $(date -u -d @"$s" +%T)" | tee -a "$out/summary.txt"
    tail -n 30 "$out/$name.log"
}

if ! ldconfig -p | grep -q 'libcuda.so.1 '; then
    for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu; do
        [ -e "$d/libcuda.so.1" ] && export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" && break
    done
fi
nvidia-smi --query-gpu=timestamp,memory.used,utilization.gpu,power.draw --format=csv,noheader,nounits \
    -lms 250 >"$out/smi.csv" 2>&1 &
smi=$!

stage info 30 bash -c "nvidia-smi; nproc; grep -m1 'model name' /proc/cpuinfo; free -g; $bin/zkattr-gpu"
stage tests 90 env ZKATTR_REQUIRE_GPU=1 bash -c "$bin/msm_edges --nocapture; e=\$?; $bin/circuits_tests every_backend_proves_for_the_same_verifying_key --nocapture; c=\$?
    echo \"msm_edges rc \$e, circuits_tests backend rc \$c\"; [ \$e = 0 ] && [ \$c = 0 ]"
stage msm 120 "$bin/zkattr-gpu" --msm 1,1000,65536,262144,1048576,4194304
stage prove "${ZKATTR_GPU_PROVE_CAP:-240}" "$bin/zkattr-gpu" --prove "${ZKATTR_GPU_PROVE:-4096,16384}" --evm "$bin/evm" \
    ${ZKATTR_GPU_CPU_MAX:+--cpu-max "$ZKATTR_GPU_CPU_MAX"}
stage bench 90 env ZKATTR_MSM_LOG_MAX=0 "$bin/msm_bench" --bench --warm-up-time 1 --measurement-time 3 --noplot
stage pbench 240 env ZKATTR_PROVE_BACKENDS=cuda ZKATTR_PROVE_SIZES="${ZKATTR_GPU_PROVE:-4096,16384}" \
    "$bin/prove_bench" --bench --warm-up-time 1 --measurement-time 5 --noplot
stage large 600 "$bin/zkattr-gpu" --prove "${ZKATTR_GPU_LARGE:-65536}" --cpu-max 0

kill "$smi" 2>/dev/null
echo "total $(($(date +%s) - start)) s" | tee -a "$out/summary.txt"
