#!/usr/bin/env bash
# The CPU training campaign of the shipped pair (issue 28): ADD and the Auto-DeepLab baseline
# trained with the PyTorch trainer on the same batches, the same recipe and the same images seen,
# on the extendable `wsd` schedule (warm-up, then a constant rate for as long as the campaign
# runs), so it can stop anywhere and continue on any machine.
#
#   bash scripts/campaign.sh start    # start or continue every run, niced, in the background
#   bash scripts/campaign.sh pause    # kill -STOP them (before a benchmark); `cont` continues
#   bash scripts/campaign.sh stop     # Ctrl-C them: each saves a checkpoint and stops
#   bash scripts/campaign.sh status   # step, images/s and the last validation of each run
#   bash scripts/campaign.sh save     # copy each run's state into models/campaign/ (commit it)
#   bash scripts/campaign.sh decay add add_lld autodeeplab   # decays branched off, val per exit
#   bash scripts/campaign.sh ship add # the decays of `add` and the baseline, finished, compared, shipped
#
# A run continues from runs/campaign/NAME/checkpoint.pt, else (a new machine) from
# models/campaign/NAME.safetensors and its .optimizer.safetensors, which record the step,
# schedule and recipe; the scenes are regenerated identically from their seed.
#
# The runs: `add` (the reference's loss: every exit's cross-entropy averaged), `add_lld` (ours:
# forked off `add`, the decoder's shared low-level branch dropped for half of each batch's
# images in training), `autodeeplab` (the baseline); `add_deep` (exits weighted 1:1:2 and the
# early exits distilled from the last) ran in the first session and is kept resumable
# (RUNS="add_deep" bash scripts/campaign.sh start). Each takes one core (two single-threaded trainers on two cores run at 1.0x each,
# one trainer on two threads at 1.25x of one).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
C="$(realpath -m "${CAMPAIGN:-runs/campaign}")" STATE="$(realpath -m "${STATE:-models/campaign}")"
ADD="$(realpath -m "${ADD:-target/release/add}")" PY="${PYTHON:-$PWD/benches/peer/.venv/bin/python}"
SCENES="${SCENES:-3000}" SEED=1 SIZE="${SIZE:-256x512}" F=8 STEM=24 HEAD=64
RUNS="${RUNS:-add add_lld autodeeplab}"
# the stable phase's recipe (the decay's crop and batch are campaign_ship.sh's)
RECIPE=(--batch 8 --crop 129x257 --scale 0.75,1.5 --lr 0.05 --schedule wsd --warmup 200 --seed "$SEED")

card_of() { case $1 in autodeeplab) echo autodeeplab ;; *) echo add ;; esac; }
extra_of() {
    case $1 in
        add_deep) echo "--exit-weights 1,1,2 --distill 0.5 --distill-temperature 2" ;;
        add_lld) echo "--low-level-dropout 0.5" ;;
    esac
}
# a variant forked off another run (at the step that run had reached) instead of started fresh
fork_of() { case $1 in add_lld) echo add ;; esac; }
pids() { for n in $RUNS; do running "$n" && cat "$C/$n.pid"; done; true; }

prepare() {
    mkdir -p "$C"
    [[ -x "$ADD" ]] || { echo "campaign: $ADD not built (cargo build --release)" >&2; exit 2; }
    "$PY" -c 'import torch' 2>/dev/null || { echo "campaign: $PY has no torch (bash benches/peer/setup.sh)" >&2; exit 2; }
    if [[ ! -f "$C/data/manifest.jsonl" ]]; then
        "$ADD" synth --out "$C/data" --count "$SCENES" --size "$SIZE" --seed "$SEED"
    fi
    for m in add autodeeplab; do
        arch=$m
        [[ $m == add ]] && arch=add-3
        [[ -f "$C/$m.json" ]] || "$ADD" card --arch "$arch" --filters "$F" --stem-width "$STEM" --head-width "$HEAD" -o "$C/$m.json"
    done
}

running() { [[ -f "$C/$1.pid" ]] && kill -0 "$(cat "$C/$1.pid")" 2>/dev/null; }
wait_for() { while running "$1"; do sleep 2; done; }
stop_all() {
    local n
    for n in $RUNS; do running "$n" && { kill -CONT "$(cat "$C/$n.pid")"; kill -INT "$(cat "$C/$n.pid")"; }; done
    for n in $RUNS; do wait_for "$n"; done
}
# the step of a run's checkpoint (0 without one)
ckpt_step() {
    [[ -f "$C/$1/checkpoint.pt" ]] || { echo 0; return; }
    (cd pytorch && "$PY" -c "import sys, torch; print(torch.load(sys.argv[1], map_location='cpu', weights_only=False)['step'])" "$C/$1/checkpoint.pt")
}

start() {
    prepare
    for n in $RUNS; do
        if running "$n"; then
            echo "$n: already running (pid $(cat "$C/$n.pid"))"
            continue
        fi
        start_one "$n"
    done
}

# start_one NAME: continues (or starts) one run in the background; $UNTIL pauses it at that step
start_one() {
    local n=$1 from=()
    if [[ -f "$C/$n/checkpoint.pt" ]]; then
        from=(--resume)
    elif [[ -f "$STATE/$n.safetensors" ]]; then
        from=(--resume-from-model "$STATE/$n.safetensors")
    elif [[ -n "$(fork_of "$n")" && -f "$C/$(fork_of "$n")/checkpoint.pt" ]]; then
        from=(--fork-from "$C/$(fork_of "$n")")
    fi
    local track=() until=()
    [[ $n == autodeeplab ]] || track=(--track-shared --shared-images 30)
    [[ -n "${UNTIL:-}" ]] && until=(--until "$UNTIL")
    # shellcheck disable=SC2046
    (cd pytorch && exec nice -n 19 "$PY" -m add_torch train --card "$C/$(card_of "$n").json" \
        --data "$C/data" --out "$C/$n" --steps "${STEPS:-1000000}" "${RECIPE[@]}" \
        $(extra_of "$n") --device cpu --threads 1 --workers 0 --cache --checkpoint-every 200 \
        --eval-every 1000 --eval-images 60 --print-every 200 "${track[@]}" "${until[@]}" "${from[@]}") \
        >>"$C/$n.log" 2>&1 &
    echo $! >"$C/$n.pid"
    echo "$n: started (pid $!, ${from[*]:-fresh}), log $C/$n.log"
}

status() {
    for n in $RUNS; do
        local state="stopped"
        running "$n" && state="running"
        local last
        last=$(awk -F, 'NR == 1 {for (i = 1; i <= NF; i++) c[$i] = i} END {if (NR > 1) printf "step %s, loss %s, lr %s, %s img/s", $c["step"], $c["loss"], $c["lr"], $c["images_per_s"]}' "$C/$n/train_log.csv" 2>/dev/null || true)
        echo "$n: $state; ${last:-no step yet}"
        { grep -h 'val mIoU\|zeroed' "$C/$n.log" 2>/dev/null || true; } | tail -n 2 | sed 's/^/    /'
    done
}

save() {
    mkdir -p "$STATE"
    for n in $RUNS; do
        [[ -f "$C/$n/model.safetensors" ]] || continue
        # model and momentum are written together at each checkpoint; copy a consistent pair
        cp "$C/$n/model.safetensors" "$STATE/.$n.safetensors.tmp"
        cp "$C/$n/model.optimizer.safetensors" "$STATE/.$n.optimizer.safetensors.tmp"
        mv "$STATE/.$n.safetensors.tmp" "$STATE/$n.safetensors"
        mv "$STATE/.$n.optimizer.safetensors.tmp" "$STATE/$n.optimizer.safetensors"
        for f in train_log.csv val_log.csv shared_log.csv; do
            [[ -f "$C/$n/$f" ]] && cp "$C/$n/$f" "$STATE/$n.$f"
        done
        echo "$n: saved at step $(ckpt_step "$n") into $STATE/"
    done
}

# ship ADD_RUN: a decay branched off ADD_RUN and off the baseline at the steps they reached, on
# full-size crops; `add pipeline` finishes both (BatchNorm choice, decision makers, eval and
# presets on the val split, MODEL_CARD) into a staging folder; both the staged and the shipped
# pair are evaluated on held-out scenes of a seed never trained on, and the staged pair replaces
# models/ only when it beats the shipped one at the last exit and at the baseline.
# decay RUN...: every run stops and saves where it is, those behind catch up with the furthest (so
# the pair, and the runs compared, have seen the same images), then a decay is branched off each
# RUN at that step, on full-size crops, into $C/decay_STEP/RUN; each decayed model's val mIoU per
# exit is printed. Prints the step last.
decay() {
    local n s step=0 steps=${DECAY_STEPS:-400}
    local -A at
    stop_all
    for n in $RUNS; do
        at[$n]=$(ckpt_step "$n")
        ((at[$n] > step)) && step=${at[$n]}
    done
    for n in $RUNS; do
        if ((at[$n] < step)); then
            echo "$n: catching up to step $step" >&2
            UNTIL=$step start_one "$n" >&2
        fi
    done
    for n in $RUNS; do wait_for "$n"; done
    local D="$C/decay_$step" pids=()
    mkdir -p "$D"
    for n in "$@"; do
        [[ -f "$D/$n/model.safetensors" ]] && grep -q '"complete":true' "$D/$n/model.safetensors" 2>/dev/null && continue
        local resume=()
        [[ -f "$D/$n/checkpoint.pt" ]] && resume=(--resume)
        # the stable run's recipe, on full-size crops, batch 4
        local recipe=("${RECIPE[@]}")
        recipe[1]=4 recipe[3]=257x513
        # shellcheck disable=SC2046
        (cd pytorch && exec nice -n 10 "$PY" -m add_torch train --card "$C/$(card_of "$n").json" \
            --data "$C/data" --out "$D/$n" --steps "$steps" "${recipe[@]}" $(extra_of "$n") \
            --branch-from "$C/$n" --decay-steps "$steps" --device cpu --threads 1 --workers 0 --cache \
            --checkpoint-every 100 --print-every 100 "${resume[@]}") >>"$D/$n.log" 2>&1 &
        pids+=($!)
    done
    for s in "${pids[@]}"; do wait "$s" || { echo "decay: a run failed, see $D/*.log" >&2; exit 3; }; done
    for n in "$@"; do
        [[ -f "$D/$n.val.json" ]] || (cd pytorch && "$PY" -m add_torch eval --model "$D/$n/model.safetensors" \
            --data "$C/data" --images 100 --device cpu) >"$D/$n.val.json"
        python3 -c "import json, sys; r = json.load(open(sys.argv[1])); print(sys.argv[2] + ': val mIoU per exit ' + ' / '.join('%.2f' % m for m in r['miou']))" "$D/$n.val.json" "$n" >&2
    done
    echo "$step"
}

# ship ADD_RUN: decays of ADD_RUN and the baseline (see decay); `add pipeline` finishes both
# (BatchNorm choice, decision makers, eval and presets on the val split, MODEL_CARD) into a
# staging folder; the staged and the shipped pair are evaluated on held-out scenes of a seed
# never trained on, and the staged pair replaces models/ only when it beats the shipped one at
# the last exit and at the baseline. The stable runs stay stopped (`start` continues them).
ship() {
    local add_run=${1:-add}
    prepare
    local step
    step=$(decay "$add_run" autodeeplab | tail -n 1)
    [[ -n "$step" ]] || { echo "ship: the decays failed" >&2; exit 3; }
    local D="$C/decay_$step" P="$C/ship_${add_run}_$step"
    mkdir -p "$P"
    [[ -e "$P/data" ]] || ln -s "$C/data" "$P/data"
    [[ -e "$P/add" ]] || ln -s "$D/$add_run" "$P/add"
    [[ -e "$P/autodeeplab" ]] || ln -s "$D/autodeeplab" "$P/autodeeplab"
    "$ADD" pipeline --out "$P" --seed "$SEED" --scenes "$SCENES" --arch add-3 --filters "$F" \
        --stem-width "$STEM" --head-width "$HEAD" --ship "$P/staged" | tee -a "$P/pipeline.log"
    local H="$C/heldout"
    [[ -f "$H/manifest.jsonl" ]] || "$ADD" synth --out "$H" --count "${HELDOUT:-150}" --size "$SIZE" \
        --seed "${HELDOUT_SEED:-4242}" --val-fraction 1
    for pair in staged:"$P/staged" shipped:models; do
        local name=${pair%%:*} dir=${pair#*:}
        [[ -f "$P/heldout_$name/eval.json" ]] || "$ADD" eval --model "$dir/add.safetensors" \
            --baseline "$dir/autodeeplab.safetensors" --data "$H" --no-presets --out "$P/heldout_$name" >/dev/null
    done
    "$PY" scripts/campaign_compare.py "$P/heldout_staged/eval.json" "$P/heldout_shipped/eval.json" "$H" |
        tee "$P/compare.txt"
    if grep -q '^better' "$P/compare.txt" && [[ "${NO_SHIP:-0}" != 1 ]]; then
        cp "$P/staged/add.safetensors" "$P/staged/autodeeplab.safetensors" "$P/staged/MODEL_CARD.md" models/
        echo "shipped into models/ (from $P/staged)"
    fi
}

case "${1:-status}" in
    start) start ;;
    pause) p=$(pids); [[ -n $p ]] && kill -STOP $p; echo "paused: ${p:-nothing}" ;;
    cont) p=$(pids); [[ -n $p ]] && kill -CONT $p; echo "continued: ${p:-nothing}" ;;
    stop) stop_all; echo "stopped: each saved a checkpoint" ;;
    status) status ;;
    save) save ;;
    decay) shift; prepare; decay "${@:-add}" ;;
    ship) ship "${2:-add}" ;;
    *) echo "usage: $0 start|pause|cont|stop|status|save|decay RUN...|ship [RUN]" >&2; exit 2 ;;
esac
