#!/usr/bin/env bash
# The GPU checks of ADD Studio (issue 17), for a machine with an NVIDIA GPU, its driver and
# PyTorch's CUDA libraries but no Rust toolchain. Build and pack first, on any machine (no GPU):
#     bash scripts/build_gpu_check.sh        # -> gpu-check/ (add.xz, gpu-tests.xz, lib/)
# then carry gpu-check/ and run from the repository root (about 7 minutes on an H200):
#     OUT=/some/folder bash scripts/gpu_check.sh
# Steps, each under its own time limit, all within BUDGET_S (default 450 s):
#  1. tests/gpu.rs: every CUDA kernel against its CPU kernel (forward and backward, 1e-5), the
#     exit maps, every exit of add-2, add-3 and autodeeplab at F=20 (a GPU that cannot be
#     opened fails them);
#  2. `add parity` of every exit, GPU against CPU, add-2, add-3, autodeeplab at F=20 (<= 1e-4);
#  3. `add bench --peer python3` on cuda:0: every exit and the full path at 257x513 and
#     1025x2049, ours and PyTorch eager on the same GPU and weights (after a peer parity check);
#  4. one training step (batch 8 of 257x513), ours and PyTorch's;
#  5. GPU memory of loading plus one full-path inference at 1025x2049, ours and PyTorch's;
#  6. `add bench-app`: the app on the device (shipped models), when each exit is on screen after
#     an image is opened and the UI thread's frame times while computing (logged in bench.txt).
# $OUT gets 8 files: summary.md (the tables and the issue's target ratios), steps.log,
# environment.txt, and one log per step (tests, parity, bench, train, mem .txt). A failed step
# is recorded and the script goes on; the exit status is non-zero if any step failed.
#
# Dry run on a machine without a GPU (checks the script's logic, the peer and the summary with
# the CPU build; small sizes):
#     DEVICE=cpu ADD=target/release/add PYTHON=/work/venv/bin/python SIZES=65x129,129x257 \
#         CROP=65x129 BATCH=2 FILTERS=4 REPS=2 APP_SIZE=257x513 OUT=/tmp/gc bash scripts/gpu_check.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT="${OUT:-$PWD/gpu-check-out}"
DEVICE="${DEVICE:-cuda:0}"
SIZES="${SIZES:-257x513,1025x2049}"
BIG="${SIZES##*,}" # the size the targets are judged at
REPS="${REPS:-10}"
F="${FILTERS:-20}"
CROP="${CROP:-257x513}" BATCH="${BATCH:-8}"
PY="${PYTHON:-python3}"
PRESETS=(add-3 autodeeplab add-2)
mkdir -p "$OUT"
export RUST_BACKTRACE="${GPU_CHECK_BACKTRACE:-0}" # one-line errors in the logs; 1 to debug
failed=()
log() { echo "[gpu_check $(date -u +%T) +${SECONDS}s] $*" | tee -a "$OUT/steps.log"; }

# --- the binaries and the libraries they link ---
if [[ -z "${ADD:-}" ]]; then
    source scripts/gpu_env.sh # sets BIN (with add, gpu-tests) and ADD, LD_LIBRARY_PATH
else
    BIN="$(mktemp -d)" # a dry run with a given `add`; GPU_TESTS may name a test binary
    [[ -n "${GPU_TESTS:-}" ]] && cp "$GPU_TESTS" "$BIN/gpu-tests"
fi
STEPS="$(mktemp -d)" # one output per step, for the summary; $OUT gets them grouped by kind

# Runs one step: step KIND NAME LIMIT_S CMD...; its output goes to $STEPS/NAME.txt and is
# appended to $OUT/KIND.txt. Steps share BUDGET_S seconds: a step gets at most what is left,
# none under 20 s.
step() {
    local kind=$1 name=$2 limit=$3
    shift 3
    local left=$((${BUDGET_S:-450} - SECONDS))
    ((limit > left)) && limit=$left
    if ((limit < 20)); then
        failed+=("$name (skipped: time budget spent)")
        log "$name skipped: time budget spent"
        return 1
    fi
    log "$name: $*"
    local t0=$SECONDS
    timeout --kill-after=10 "$limit" "$@" >"$STEPS/$name.txt" 2>&1
    local rc=$?
    { echo "=== $name: rc $rc after $((SECONDS - t0)) s: $*"; cat "$STEPS/$name.txt"; echo; } >>"$OUT/$kind.txt"
    if [[ $rc -ne 0 ]]; then
        failed+=("$name (rc $rc$([[ $rc -eq 124 || $rc -eq 137 ]] && echo ", timed out after ${limit}s"))")
        log "$name FAILED rc=$rc; last lines:"
        tail -n 5 "$STEPS/$name.txt" | tee -a "$OUT/steps.log"
    fi
    return $rc
}

{
    date -u
    nvidia-smi 2>&1 || echo "nvidia-smi failed"
    "$PY" -c 'import torch; print("torch", torch.__version__, "cuda available:", torch.cuda.is_available())' 2>&1
    echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
    ldd "$ADD"
    "$ADD" info --preset add-3 --filters "$F" --device "$DEVICE" 2>&1 | head -n 5
} >"$OUT/environment.txt" 2>&1
if ldd "$ADD" | grep -q 'not found'; then
    log "missing libraries:"
    ldd "$ADD" | grep 'not found' | tee -a "$OUT/steps.log"
    exit 3
fi

# --- 1. kernel tests and exit parity in tests/gpu.rs ---
# --include-ignored: a gpu-tests built without `--features cuda` fails here instead of
# reporting its tests as ignored; ADD_REQUIRE_GPU=1 says a GPU is required.
if [[ -x "$BIN/gpu-tests" ]]; then
    ADD_REQUIRE_GPU=1 step tests gpu_tests 150 "$BIN/gpu-tests" --include-ignored --test-threads=1 --nocapture
elif [[ "$DEVICE" == cuda* ]]; then
    failed+=("gpu_tests (no gpu-tests in the pack)")
    log "gpu_tests FAILED: no gpu-tests in the pack"
fi

# --- 2. parity of every exit, GPU against CPU ---
for p in "${PRESETS[@]}"; do
    step parity "parity_$p" 60 "$ADD" parity --preset "$p" --filters "$F" --size "${SIZES%%,*}" --devices "cpu,$DEVICE" --tol 1e-4
done

# --- 3.-5. ours and PyTorch's on the same device ---
peer=()
if "$PY" -c 'import sys, torch; sys.exit(0 if sys.argv[1] == "cpu" or torch.cuda.is_available() else 1)' "$DEVICE" 2>/dev/null; then
    peer=(--peer "$PY")
else
    failed+=("peer (no PyTorch for $DEVICE under $PY: ours measured alone)")
    log "no PyTorch for $DEVICE under $PY: benchmarks without the peer"
fi
for p in "${PRESETS[@]}"; do
    step bench "bench_$p" 110 "$ADD" bench --preset "$p" --filters "$F" --device "$DEVICE" --size "$SIZES" --reps "$REPS" --json "${peer[@]}"
done
step train train_add-3 90 "$ADD" bench --preset add-3 --filters "$F" --device "$DEVICE" --train-step --batch "$BATCH" --crop "$CROP" --reps 5 --json "${peer[@]}"
for p in add-3 autodeeplab; do
    step mem "mem_$p" 45 "$ADD" bench --preset "$p" --filters "$F" --device "$DEVICE" --peak-mem "$BIG" --json "${peer[@]}"
done

# --- 6. the app on the device: each exit on screen after opening, UI frame times while computing ---
# (the shipped F=8 models, analysis mode; samples at the app's default size, then 1025x2049
# scenes at full size; kittest draws the frames at 60 Hz, no window needed)
APPIMG="$(mktemp -d)"
APP_SIZE="${APP_SIZE:-1025x2049}" # HxW, run at full size
"$ADD" synth --out "$APPIMG" --count 3 --size "$APP_SIZE" --seed 77 --val-fraction 0 >/dev/null 2>&1
step bench app_samples 45 "$ADD" bench-app --device "$DEVICE" --analysis --rounds 3 \
    --images assets/samples/scene_00.png assets/samples/scene_04.png assets/samples/scene_08.png
step bench app_big 60 "$ADD" bench-app --device "$DEVICE" --analysis --rounds 3 --max-side "${APP_SIZE#*x}" \
    --images "$APPIMG"/leftImg8bit/train/*/*.png

# --- summary ---
"$PY" scripts/gpu_summary.py "$STEPS" "$BIG" >"$OUT/summary.md" 2>>"$OUT/steps.log" ||
    failed+=("summary (see steps.log)")
if [[ ${#failed[@]} -gt 0 ]]; then
    printf '\n## Failed steps\n\n' >>"$OUT/summary.md"
    printf -- '- %s\n' "${failed[@]}" >>"$OUT/summary.md"
    log "FAILED steps: ${failed[*]}"
    exit 1
fi
log "all steps passed; see $OUT/summary.md"
