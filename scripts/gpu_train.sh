#!/usr/bin/env bash
# Trains `add pipeline`'s two models (ADD and the Auto-DeepLab baseline) side by side on a lent
# GPU machine, within a wall-clock budget; `add pipeline` then finishes on the CPU (decision
# makers, evaluation, shipping). Pack first with scripts/build_gpu_check.sh, carry gpu-check/:
#     OUT=/some/folder BUDGET_S=500 bash scripts/gpu_train.sh
# 1. generates the pipeline's data (`add synth`, same seed: the same scenes as on the CPU) and
#    checks the card's GPU logits against the CPU's meanwhile;
# 2. a short probe of both trainings at once gives the seconds per step, and the step count is
#    what fits the budget left (the poly decay needs it up front);
# 3. both train at once (checkpoints every 100 steps); the GPU kernel tests run beside them;
# 4. the run folders go to $OUT as run.tar.part-NN (a device run returns files of at most
#    16 MiB); unpack into a pipeline's --out with `cat run.tar.part-* | tar -x -C DIR`, then run
#    `add pipeline --out DIR --steps N ...` with the same N, which skips the finished training.
# If training on the GPU fails in the probe, it trains on the machine's CPUs instead (logged).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT="${OUT:-$PWD/gpu-train-out}"
BUDGET="${BUDGET_S:-500}"
ARCH="${ARCH:-add-3}" F="${FILTERS:-8}" STEM="${STEM_WIDTH:-24}" HEAD="${HEAD_WIDTH:-64}"
BATCH="${BATCH:-8}" CROP="${CROP:-257x513}" SEED="${SEED:-1}" SCENES="${SCENES:-600}"
MAX_STEPS="${MAX_STEPS:-20000}"
mkdir -p "$OUT"
export RUST_BACKTRACE=0
log() { echo "[gpu_train $(date -u +%T) +${SECONDS}s] $*" | tee -a "$OUT/steps.log"; }
source scripts/gpu_env.sh
LOGS="$BIN/logs" WORK="$BIN/run"
mkdir -p "$LOGS" "$WORK"
nvidia-smi >"$LOGS/environment.txt" 2>&1

log "generating $SCENES scenes (seed $SEED); parity of $ARCH F=$F meanwhile"
"$ADD" synth --out "$WORK/data" --count "$SCENES" --size 256x512 --seed "$SEED" >"$LOGS/synth.txt" 2>&1 &
synth=$!
timeout 100 "$ADD" parity --preset "$ARCH" --filters "$F" --size 257x513 --devices cpu,cuda:0 --tol 1e-4 \
    >"$LOGS/parity.txt" 2>&1
log "parity rc=$?: $(grep -m1 -E '^(parity|Error)' "$LOGS/parity.txt")"
wait $synth || { log "synth failed: $(tail -n 3 "$LOGS/synth.txt")"; exit 2; }

# train NAME ARCH DEVICE STEPS LIMIT_S [EXTRA...]: one training run into $WORK/NAME; at the
# limit it gets a Ctrl-C (it saves a checkpoint and stops)
train() {
    local name=$1 arch=$2 dev=$3 steps=$4 limit=$5
    shift 5
    timeout -s INT --kill-after=20 "$limit" "$ADD" train --arch "$arch" --filters "$F" --head-width "$HEAD" --stem-width "$STEM" --data "$WORK/data" \
        --out "$WORK/$name" --steps "$steps" --batch "$BATCH" --crop "$CROP" --seed "$SEED" --device "$dev" \
        --checkpoint-every 100 "$@" >"$LOGS/train_$name.txt" 2>&1
}
# seconds per step of a probe's log: steps 4 to 11, past the warm-up
per_step() { awk -F, 'NR>1 && $1==3 {a=$NF} NR>1 && $1==11 {b=$NF} END {if (a != "" && b != "") printf "%.4f", (b-a)/8}' "$1"; }

DEV=cuda:0
for attempt in gpu cpu; do
    [[ $attempt == cpu ]] && { DEV=cpu; export RAYON_NUM_THREADS=8; }
    log "probe on $DEV: 12 steps of each, at once"
    train "probe_${attempt}_add" "$ARCH" $DEV "$MAX_STEPS" 150 --until 12 &
    q1=$!
    train "probe_${attempt}_base" autodeeplab $DEV "$MAX_STEPS" 150 --until 12 &
    q2=$!
    wait $q1 && wait $q2 || log "probe on $DEV failed: $(tail -q -n 2 "$LOGS"/train_probe_"$attempt"_*.txt | tr '\n' ' ')"
    a=$(per_step "$WORK/probe_${attempt}_add/train_log.csv" 2>/dev/null)
    b=$(per_step "$WORK/probe_${attempt}_base/train_log.csv" 2>/dev/null)
    if [[ -n "$a" && -n "$b" ]]; then
        s=$(python3 -c "print(max($a, $b))")
        log "probe on $DEV: add $a s/step, baseline $b s/step"
        if [[ -z "${slow:-}" ]] || python3 -c "import sys; sys.exit(not $s < $slow)"; then
            slow=$s best=$DEV
        fi
        # the CPUs only when the GPU is slower than a second a step
        python3 -c "import sys; sys.exit(not $s < 1.0)" && break
    fi
done
[[ -n "${slow:-}" ]] || { log "no probe succeeded"; tar -C "$BIN" -czf "$OUT/logs.tar.gz" logs; exit 3; }
DEV=$best
[[ $DEV == cpu ]] || unset RAYON_NUM_THREADS
left=$((BUDGET - SECONDS - 30))
N=$(python3 -c "print(max(100, min($MAX_STEPS, int($left / $slow / 100) * 100)))")
log "training on $DEV at $slow s/step with both running; $left s left: $N steps, batch $BATCH, crop $CROP"

[[ -x "$BIN/gpu-tests" && $DEV != cpu ]] && (timeout 150 "$BIN/gpu-tests" --test-threads=1 >"$LOGS/gpu_tests.txt" 2>&1; \
    echo "gpu-tests rc=$?" >>"$LOGS/gpu_tests.txt") &
limit=$((BUDGET - SECONDS - 15))
train add "$ARCH" $DEV "$N" "$limit" &
p1=$!
train autodeeplab autodeeplab $DEV "$N" "$limit" &
p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
wait
for m in add autodeeplab; do
    log "$m: rc $([[ $m == add ]] && echo $r1 || echo $r2), last row: $(tail -n 1 "$WORK/$m/train_log.csv" 2>/dev/null)"
done
for d in "$WORK"/*/train_log.csv; do cp "$d" "$LOGS/log_$(basename "$(dirname "$d")").csv"; done
tar -C "$BIN" -czf "$OUT/logs.tar.gz" logs
tar -C "$WORK" -cf - add autodeeplab | split -b 15m -d - "$OUT/run.tar.part-"
ls -la "$OUT" | tee -a "$OUT/steps.log"
log "done: $N steps on $DEV"
