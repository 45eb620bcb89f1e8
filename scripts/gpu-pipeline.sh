#!/usr/bin/env bash
# The real pipeline on a GPU machine, with the `cuda` build of zkattr (`scripts/build-cuda.sh --zkattr`):
# a second epoch of a demo home is trained (candle on CUDA), proved (`--backend cuda`), verified natively
# and settled on the home's embedded chain, whose distributor calls the verifier deployed by the CPU build;
# then a third epoch, the same artifact proved with `--backend cpu`, is verified and settled the same way.
# So one verifying key and one on-chain verifier accept the proofs of both backends, and the two proof
# phases give the speed-up on the sample epoch.
#
#   zkattr --home H demo                         # here, CPU build: the demo home is H/demo
#   scripts/gpu-pipeline.sh ZKATTR H/demo OUTDIR  # there, on a copy of H/demo (keys are derived again)
#
# Each step's output goes to OUTDIR/pipeline.log, and the two statements (with their phase timings) to
# OUTDIR/statement-{gpu,cpu}.json; the first failing step stops the run.
# ZKATTR_PIPELINE_BACKEND=cpu runs the same steps with the CPU prover (a rehearsal on any machine).
set -euo pipefail
cd "$(dirname "$0")/.."
zkattr=${1:?usage: scripts/gpu-pipeline.sh ZKATTR DEMO_HOME OUTDIR}
home=${2:?usage: scripts/gpu-pipeline.sh ZKATTR DEMO_HOME OUTDIR}
out=${3:?usage: scripts/gpu-pipeline.sh ZKATTR DEMO_HOME OUTDIR}
mkdir -p "$out"

main() {
    # candle links cuBLAS, cuRAND and NVRTC of CUDA 13: the GPU machine's, from its Python wheels if need be.
    for lib in libcublas.so.13 libcurand.so.10 libnvrtc.so.13; do
        ldconfig -p | grep -q "$lib " && continue
        found=$(find /opt /usr /usr/local -name "$lib" -print -quit 2>/dev/null || true)
        if [ -n "$found" ]; then
            export LD_LIBRARY_PATH="$(dirname "$found")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
        fi
    done
    echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"

    state="$home/deployments/embedded.json"
    distributor=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["distributor"])' "$state")
    chain_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["chain_id"])' "$state")

    step() {
        echo "== $* ($(date -u +%T))"
        local s
        s=$(date +%s.%N)
        "$@"
        echo "== done in $(python3 -c "import time; print(round(time.time() - $s, 2))") s"
    }
    step "$zkattr" --home "$home" train digits --version 1 --out "$home/epoch-gpu" \
        --queries data/digits/queries.jsonl
    step "$zkattr" --home "$home" prove --datanet digits --version 1 --artifact "$home/epoch-gpu" --epoch 2 \
        --pool 1000000000000000000000000 --chain-id "$chain_id" --settlement "$distributor" \
        --insecure-test-srs --out "$home/proof-gpu" --backend "${ZKATTR_PIPELINE_BACKEND:-cuda}"
    step "$zkattr" --home "$home" verify "$home/proof-gpu" --insecure-test-srs
    step "$zkattr" --home "$home" settle "$home/proof-gpu"
    step "$zkattr" --home "$home" prove --datanet digits --version 1 --artifact "$home/epoch-gpu" --epoch 3 \
        --pool 1000000000000000000000000 --chain-id "$chain_id" --settlement "$distributor" \
        --insecure-test-srs --out "$home/proof-cpu" --backend cpu
    step "$zkattr" --home "$home" verify "$home/proof-cpu" --insecure-test-srs
    step "$zkattr" --home "$home" settle "$home/proof-cpu"
    cp "$home/proof-gpu/statement.json" "$out/statement-gpu.json"
    cp "$home/proof-cpu/statement.json" "$out/statement-cpu.json"
}

# Through a pipe rather than `exec > >(tee …)`, so the log is complete when the script returns; pipefail
# keeps the first failing step's status.
main 2>&1 | tee -a "$out/pipeline.log"
