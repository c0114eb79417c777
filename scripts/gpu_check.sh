#!/usr/bin/env bash
# The GPU checks of ADD Studio, for a machine with an NVIDIA GPU, its driver and PyTorch's CUDA
# libraries but no Rust toolchain. Build and pack first, on any machine (no GPU needed):
#     bash scripts/build_gpu_check.sh        # -> gpu-check/ (add.xz, gpu-tests.xz, lib/)
# then carry gpu-check/ and run from the repository root:
#     OUT=/some/folder bash scripts/gpu_check.sh
# It runs, each step under its own time limit (about 8 minutes in all on an H100/H200):
#  1. GPU against CPU parity of every exit's logits (add-3, autodeeplab, add-2 at F=20), and
#     the kernel-level GPU tests (tests/gpu.rs: forward and backward of every kernel; a GPU that
#     cannot be opened fails them);
#  2. `add bench` on cuda:0 at 1025x2049 for add-2, add-3 and autodeeplab at F=20 (per exit and
#     full path, warm-up, medians; every cell and exit ends with a device synchronise);
#  3. the PyTorch peer benchmark (benches/peer/torch_peer.py) if it and torch are there.
# Results go to $OUT (default ./gpu-check-out): one log per step and summary.md. A failed
# step is recorded and the script goes on; the exit status is non-zero if any step failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT="${OUT:-$PWD/gpu-check-out}"
SIZE="${BENCH_SIZE:-1025x2049}"
REPS="${BENCH_REPS:-10}"
F="${FILTERS:-20}"
mkdir -p "$OUT"
export RUST_BACKTRACE="${GPU_CHECK_BACKTRACE:-0}" # one-line errors in the logs; 1 to debug
failed=()
log() { echo "[gpu_check $(date -u +%T) +${SECONDS}s] $*" | tee -a "$OUT/steps.log"; }

# Runs one step: step NAME LIMIT_S CMD...; output to $OUT/NAME.txt.
# Steps share BUDGET_S seconds (default 460): a step gets at most what is left, none under 20 s.
step() {
    local name=$1 limit=$2
    shift 2
    local left=$((${BUDGET_S:-460} - SECONDS))
    ((limit > left)) && limit=$left
    if ((limit < 20)); then
        failed+=("$name (skipped: time budget spent)")
        log "$name skipped: time budget spent"
        return 1
    fi
    log "$name: $*"
    timeout --kill-after=10 "$limit" "$@" >"$OUT/$name.txt" 2>&1
    local rc=$?
    if [[ $rc -ne 0 ]]; then
        failed+=("$name (rc $rc$([[ $rc -eq 124 || $rc -eq 137 ]] && echo ", timed out after ${limit}s"))")
        log "$name FAILED rc=$rc; last lines:"
        tail -n 5 "$OUT/$name.txt" | tee -a "$OUT/steps.log"
    fi
    return $rc
}

# --- the binaries and the libraries they link ---
source scripts/gpu_env.sh
{
    date -u
    nvidia-smi 2>&1 || echo "nvidia-smi failed"
    echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
    ldd "$ADD"
} >"$OUT/environment.txt" 2>&1
if ldd "$ADD" | grep -q 'not found'; then
    log "missing libraries:"; ldd "$ADD" | grep 'not found' | tee -a "$OUT/steps.log"
    exit 3
fi
step info 60 "$ADD" info --preset add-3 --filters "$F" --device cuda:0 || true

# --- 1. parity, then the kernel tests ---
for preset in add-3 autodeeplab add-2; do
    step "parity_$preset" 150 "$ADD" parity --preset "$preset" --filters "$F" --size 257x513 --devices cpu,cuda:0 --tol 1e-4
done
step parity_add-3_513x1025 150 "$ADD" parity --preset add-3 --filters "$F" --size 513x1025 --devices cpu,cuda:0 --tol 1e-4
# --include-ignored: a gpu-tests built without `--features cuda` fails here instead of
# reporting its tests as ignored; ADD_REQUIRE_GPU=1 says a GPU is required.
if [[ -x "$BIN/gpu-tests" ]]; then
    ADD_REQUIRE_GPU=1 step gpu_tests 150 "$BIN/gpu-tests" --include-ignored --test-threads=1 --nocapture
else
    failed+=("gpu_tests (no gpu-tests in the pack)")
    log "gpu_tests FAILED: no gpu-tests in the pack"
fi

# --- 2. timings on the GPU ---
for preset in add-3 autodeeplab add-2; do
    step "bench_$preset" 150 "$ADD" bench --preset "$preset" --filters "$F" --device cuda:0 --size "$SIZE" --reps "$REPS" --json
done

# --- 3. the PyTorch peer, on the same GPU ---
if [[ -f benches/peer/torch_peer.py ]] && python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
    # shellcheck disable=SC2086
    step torch_peer 150 python3 benches/peer/torch_peer.py --device cuda ${PEER_ARGS:-}
else
    log "torch_peer skipped: no benches/peer/torch_peer.py or no CUDA torch"
fi

# --- summary ---
python3 - "$OUT" "$SIZE" <<'PY' >"$OUT/summary.md" 2>>"$OUT/steps.log"
import json, os, re, sys
out, size = sys.argv[1], sys.argv[2]
def read(name):
    p = os.path.join(out, name + ".txt")
    return open(p).read() if os.path.exists(p) else ""
print("# ADD on the GPU\n")
dev = re.search(r"^device: (.*)$", read("info"), re.M)
print(f"Device: {dev.group(1) if dev else 'see environment.txt'}\n")
print("## Parity (relative L2 error of every exit's logits, GPU against CPU)\n")
for name in sorted(n[:-4] for n in os.listdir(out) if n.startswith("parity_")):
    verdict = [l for l in read(name).splitlines() if l.startswith(("parity ", "Error"))][:1] or ["(no verdict)"]
    print(f"- {name}: {verdict[0]}")
print("\n## Times on the GPU at " + size + " (ms per image, median)\n")
rows = {}
for name in ("bench_add-2", "bench_add-3", "bench_autodeeplab"):
    for line in read(name).splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            rows.setdefault(r["model"], []).append(r)
base = None
for model, rs in rows.items():
    if "autodeeplab" in model.lower() or "auto-deeplab" in model.lower():
        base = rs[-1]["ms"]
print("| model | answer at | ms | G Multi-Adds | GFLOP/s | speed-up vs Auto-DeepLab |")
print("|---|---|---|---|---|---|")
for model, rs in rows.items():
    for r in rs:
        at = "full path" if r is rs[-1] else f"exit {r['exit']}"
        sp = f"{base / r['ms']:.2f}x" if base else "n/a"
        print(f"| {model} | {at} | {r['ms']:.1f} | {r['madds'] / 1e9:.2f} | {r['gflops']:.0f} | {sp} |")
peer = read("torch_peer")
if peer:
    print("\n## PyTorch peer\n\n```\n" + peer[-3000:] + "\n```")
PY

if [[ ${#failed[@]} -gt 0 ]]; then
    log "FAILED steps: ${failed[*]}"
    exit 1
fi
log "all steps passed; see $OUT/summary.md"
