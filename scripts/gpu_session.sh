#!/usr/bin/env bash
# One device run for both GPU issues, as the device tool wants it: one script of at most
# 9 minutes, at most 8 files back. Carry gpu-check/ (scripts/build_gpu_check.sh; its CUDA `add`
# serves the training too), then from the repository root:
#     OUT=$OUT bash scripts/gpu_session.sh          # device `run`, timeout_s 600
# 1. scripts/gpu_train.sh (issue 16, first: the shipped models) within TRAIN_S seconds;
# 2. scripts/gpu_check.sh (issue 17) within what is left of TOTAL_S.
# $OUT gets 6 files: add.safetensors and autodeeplab.safetensors (or their parts),
# train_steps.log and train_logs.tar.gz from the training, summary.md (the check's tables, then
# the training's log) and check_logs.tar.gz (the check's step logs).
# Each script's own settings (see their headers) go in TRAIN_ENV / CHECK_ENV, e.g. for a dry
# run on a CPU with a CPU build:
#     ADD=target/release/add PYTHON=/work/venv/bin/python DEVICE=cpu TOTAL_S=900 TRAIN_S=300 \
#     TRAIN_ENV="SCENES=24 SIZE=65x129 CROP=65x97 FILTERS=4 BATCH=2 MIN_STEPS=4 PROBE=3 WORKERS=0" \
#     CHECK_ENV="SIZES=65x129,129x257 CROP=65x129 BATCH=2 FILTERS=4 REPS=2 APP_SIZE=257x513" \
#     OUT=/tmp/gs bash scripts/gpu_session.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT="${OUT:-$PWD/gpu-session-out}"
TOTAL="${TOTAL_S:-540}" TRAIN="${TRAIN_S:-320}"
mkdir -p "$OUT"
WORK="$(mktemp -d)" # each script's own output folder; only the 6 files above go to $OUT
log() { echo "[gpu_session $(date -u +%T) +${SECONDS}s] $*" | tee -a "$WORK/session.log"; }

log "training (issue 16) within $TRAIN s"
# shellcheck disable=SC2086
env ${TRAIN_ENV:-} OUT="$WORK/train" BUDGET_S="$TRAIN" bash scripts/gpu_train.sh >"$WORK/train.out" 2>&1
rc_train=$?
log "training: rc $rc_train"
for f in add.safetensors autodeeplab.safetensors; do
    cp "$WORK/train/$f"* "$OUT/" 2>/dev/null || log "no $f from the training"
done
cp "$WORK/train/steps.log" "$OUT/train_steps.log" 2>/dev/null
cp "$WORK/train/logs.tar.gz" "$OUT/train_logs.tar.gz" 2>/dev/null

left=$((TOTAL - SECONDS - 10))
log "checks (issue 17) within $left s"
# shellcheck disable=SC2086
env ${CHECK_ENV:-} OUT="$WORK/check" BUDGET_S="$left" bash scripts/gpu_check.sh >"$WORK/check.out" 2>&1
rc_check=$?
log "checks: rc $rc_check"

{
    cat "$WORK/check/summary.md" 2>/dev/null || echo "# No check summary (see check_logs.tar.gz)"
    printf '\n# Training (scripts/gpu_train.sh, rc %s)\n\n```\n' "$rc_train"
    cat "$WORK/train/steps.log" 2>/dev/null
    printf '```\n\n# This run (scripts/gpu_session.sh)\n\n```\n'
    cat "$WORK/session.log"
    printf '```\n'
} >"$OUT/summary.md"
mkdir -p "$WORK/check"
cp "$WORK/train.out" "$WORK/check.out" "$WORK/session.log" "$WORK/check/" 2>/dev/null
tar -C "$WORK" -czf "$OUT/check_logs.tar.gz" check
ls -la "$OUT"
exit $((rc_train != 0 || rc_check != 0))
