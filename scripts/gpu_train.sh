#!/usr/bin/env bash
# Trains the shipped pair (ADD and the Auto-DeepLab baseline, same recipe, same images) with the
# PyTorch trainer (pytorch/add_torch) on a lent GPU machine within a wall-clock budget, and
# brings back our .safetensors models and every log; `add pipeline` then finishes here (BatchNorm
# check, decision makers, evaluation, shipping). That machine has PyTorch but no Rust toolchain:
# `add` (for the scenes and the cards) comes packed by scripts/pack_gpu_train.sh, carry gpu-check/.
#     OUT=/some/folder BUDGET_S=500 bash scripts/gpu_train.sh
# 1. `add synth` writes $SCENES scenes with every core, and `add card` both cards;
# 2. a probe of both trainings at once gives the seconds per step; the step count is what fits
#    the budget left (the poly schedule needs it up front);
# 3. both train at once on the GPU (bf16, channels_last), validating as they go;
# 4. both are evaluated on the val split; models, logs and a summary go to $OUT (a device run
#    returns at most 8 files of at most 16 MiB: larger models are split into parts).
# CPU test at tiny sizes: ADD=target/release/add DEVICE=cpu SCENES=24 SIZE=65x129 CROP=65x97 \
#     FILTERS=4 BATCH=2 BUDGET_S=90 MIN_STEPS=4 PROBE=3 OUT=/tmp/gt bash scripts/gpu_train.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT="${OUT:-$PWD/gpu-train-out}"
BUDGET="${BUDGET_S:-500}"
ARCH="${ARCH:-add-3}" F="${FILTERS:-8}" STEM="${STEM_WIDTH:-24}" HEAD="${HEAD_WIDTH:-64}"
BATCH="${BATCH:-16}" CROP="${CROP:-257x513}" SEED="${SEED:-1}" SCENES="${SCENES:-3000}" SIZE="${SIZE:-256x512}"
DEVICE="${DEVICE:-cuda}" PROBE="${PROBE:-25}" MIN_STEPS="${MIN_STEPS:-200}" MAX_STEPS="${MAX_STEPS:-40000}"
PY="${PYTHON:-python3}" WORKERS="${WORKERS:-6}" EXTRA="${TRAIN_EXTRA:-}"
mkdir -p "$OUT"
log() { echo "[gpu_train $(date -u +%T) +${SECONDS}s] $*" | tee -a "$OUT/steps.log"; }
if [[ -z "${ADD:-}" ]]; then
    source scripts/gpu_env.sh
else
    BIN="$(mktemp -d)"
fi
LOGS="$BIN/logs" WORK="$BIN/run"
mkdir -p "$LOGS" "$WORK"
{ nvidia-smi 2>&1; "$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'; nproc; } >"$LOGS/environment.txt" 2>&1

log "generating $SCENES scenes of $SIZE (seed $SEED)"
"$ADD" synth --out "$WORK/data" --count "$SCENES" --size "$SIZE" --seed "$SEED" >"$LOGS/synth.txt" 2>&1 ||
    { log "synth failed: $(tail -n 3 "$LOGS/synth.txt")"; exit 2; }
for m in add autodeeplab; do
    arch=$ARCH
    [[ $m == autodeeplab ]] && arch=autodeeplab
    "$ADD" card --arch "$arch" --filters "$F" --stem-width "$STEM" --head-width "$HEAD" -o "$WORK/$m.json" >>"$LOGS/cards.txt" 2>&1 ||
        { log "card failed: $(tail -n 3 "$LOGS/cards.txt")"; exit 2; }
done
log "scenes and cards ready: $(grep -c '"split":"train"' "$WORK/data/manifest.jsonl") train"

# train NAME STEPS LIMIT_S [EXTRA...]: one run into $WORK/NAME; at the limit it gets Ctrl-C
# (it saves a checkpoint and stops)
train() {
    local name=$1 steps=$2 limit=$3
    shift 3
    # shellcheck disable=SC2086
    (cd pytorch && timeout -s INT --kill-after=30 "$limit" "$PY" -m add_torch train --card "$WORK/${name#probe_}.json" \
        --data "$WORK/data" --out "$WORK/$name" --steps "$steps" --batch "$BATCH" --crop "$CROP" --seed "$SEED" \
        --device "$DEVICE" --workers "$WORKERS" --cache --checkpoint-every 500 --print-every 100 $EXTRA "$@") \
        >"$LOGS/train_$name.txt" 2>&1
}
# seconds per step of a probe's log, past its warm-up (the second half of its rows)
per_step() { awk -F, -v n="$PROBE" 'NR>1 && $1==int(n/2) {a=$NF} NR>1 && $1==n-1 {b=$NF} END {if (a != "" && b != "" && b + 0 > a + 0) printf "%.4f", (b-a)/(n-1-int(n/2))}' "$1"; }

log "probe: $PROBE steps of each, at once, on $DEVICE"
t_probe=$SECONDS
train probe_add "$MAX_STEPS" 240 --until "$PROBE" &
q1=$!
train probe_autodeeplab "$MAX_STEPS" 240 --until "$PROBE" &
q2=$!
wait $q1; r1=$?
wait $q2; r2=$?
a=$(per_step "$WORK/probe_add/train_log.csv" 2>/dev/null)
b=$(per_step "$WORK/probe_autodeeplab/train_log.csv" 2>/dev/null)
if [[ $r1 != 0 || $r2 != 0 || -z "$a" || -z "$b" ]]; then
    log "probe failed (rc $r1 $r2): $(tail -q -n 3 "$LOGS"/train_probe_*.txt | tr '\n' ' ')"
    tar -C "$BIN" -czf "$OUT/logs.tar.gz" logs
    exit 3
fi
startup=$((SECONDS - t_probe))
slow=$("$PY" -c "print(max($a, $b))")
left=$((BUDGET - SECONDS - startup - 45)) # the real runs start up as the probe did; then evaluation
# 85 % of what fits: a run cut by the limit is unfinished (its poly schedule never ends)
N=$("$PY" -c "print(max($MIN_STEPS, min($MAX_STEPS, int(0.85 * $left / $slow / 100) * 100 or $MIN_STEPS)))")
log "probe: add $a s/step, baseline $b s/step (batch $BATCH, both at once; $startup s with start-up); $left s left: $N steps each"

limit=$((BUDGET - SECONDS - 40))
if ((limit < 60)); then
    log "the probe left ${limit} s of BUDGET_S=$BUDGET for training: nothing trained (give a larger budget)"
    tar -C "$BIN" -czf "$OUT/logs.tar.gz" logs
    exit 4
fi
every=$((N / 4 > 0 ? N / 4 : 1))
train add "$N" "$limit" --eval-every "$every" --eval-images 100 &
p1=$!
train autodeeplab "$N" "$limit" --eval-every "$every" --eval-images 100 &
p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
for m in add autodeeplab; do
    log "$m: rc $([[ $m == add ]] && echo $r1 || echo $r2), last row: $(tail -n 1 "$WORK/$m/train_log.csv" 2>/dev/null)"
    log "$m: $(tail -n 1 "$LOGS/train_$m.txt")"
    (cd pytorch && timeout 60 "$PY" -m add_torch eval --model "$WORK/$m/model.safetensors" --data "$WORK/data" \
        --device "$DEVICE") >"$LOGS/eval_$m.json" 2>"$LOGS/eval_$m.err" &&
        log "$m val mIoU per exit: $("$PY" -c "import json,sys; print([round(v, 2) for v in json.load(open(sys.argv[1]))['miou']])" "$LOGS/eval_$m.json")"
done
for m in add autodeeplab; do
    for f in train_log.csv val_log.csv class_weights.json; do cp "$WORK/$m/$f" "$LOGS/${m}_$f" 2>/dev/null; done
done
# images/s and seconds per step of each run (medians past its first tenth), for the README
"$PY" - "$WORK" <<'PY' | tee -a "$OUT/steps.log"
import csv, os, statistics, sys
for m in ("add", "autodeeplab"):
    try:
        rows = list(csv.DictReader(open(os.path.join(sys.argv[1], m, "train_log.csv"))))
    except OSError:
        continue
    rows = rows[len(rows) // 10:] or rows
    ips = statistics.median(float(r["images_per_s"]) for r in rows)
    print(f"{m}: {len(rows)} steps measured, median {ips:.1f} images/s with the other run sharing the device")
PY
tar -C "$BIN" -czf "$OUT/logs.tar.gz" logs
for m in add autodeeplab; do
    model="$WORK/$m/model.safetensors"
    [[ -f $model ]] || continue
    if (($(stat -c %s "$model") > 15 * 1024 * 1024)); then
        split -b 15m -d "$model" "$OUT/$m.safetensors.part-"
    else
        cp "$model" "$OUT/$m.safetensors"
    fi
done
ls -la "$OUT" | tee -a "$OUT/steps.log"
log "done: $N steps on $DEVICE"
