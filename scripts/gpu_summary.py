#!/usr/bin/env python3
"""summary.md of scripts/gpu_check.sh: reads each step's output (one file per step in the
folder given) and prints the tables and the ratios issue 17 targets, in Markdown.

    python3 scripts/gpu_summary.py STEPS_DIR BIG_SIZE   # BIG_SIZE: HxW the targets are judged at
"""

import json
import os
import re
import sys

# issue 17's targets, on the same GPU, side by side
INFER_RATIO = 1.0  # ours / PyTorch eager, every exit at the big size (aim: 0.7)
INFER_AIM = 0.7
TRAIN_RATIO = 1.5  # a training step, ours / PyTorch eager
PARITY = 1e-4  # relative L2 error of every exit's logits, GPU against CPU


def read(steps, name):
    p = os.path.join(steps, name + ".txt")
    return open(p, errors="replace").read() if os.path.exists(p) else None


def json_lines(text):
    out = []
    for line in (text or "").splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return out


def verdict(ok):
    return "yes" if ok else "**NO**"


def tests_section(steps):
    print("## Kernel and exit tests (tests/gpu.rs, GPU against CPU)\n")
    text = read(steps, "gpu_tests")
    if text is None:
        print("not run\n")
        return
    for line in text.splitlines():
        if line.startswith("test result:") or " ... FAILED" in line or "panicked" in line:
            print(f"- `{line.strip()}`")
    worst = {}
    for line in text.splitlines():
        # "<check>: forward 1.2e-07", "<check>: grad 0 ...", "<exit>: rel L2 ...", "batch norm dx: ..."
        m = re.match(r"^(.*?): (?:forward |grad \d+ |max prob |rel L2 )?(\d\.\d+e[+-]?\d+)", line)
        if m:
            key = m.group(1)
            worst[key] = max(worst.get(key, 0.0), float(m.group(2)))
    if worst:
        print("\n| check | worst error (relative; exit maps absolute) |\n|---|---|")
        for k, v in worst.items():
            print(f"| {k} | {v:.2e} |")
    print()


def parity_section(steps, presets):
    print(f"## Parity (every exit's logits, GPU against CPU; target <= {PARITY:g})\n")
    for p in presets:
        text = read(steps, "parity_" + p)
        if text is None:
            continue
        lines = [l for l in text.splitlines() if l.startswith(("parity ", "Error"))]
        print(f"- {p}: {lines[0] if lines else '(no verdict: see parity.txt)'}")
    print()


def bench_section(steps, presets, big):
    rows, peer_parity = [], {}
    for p in presets:
        for r in json_lines(read(steps, "bench_" + p)):
            if "parity_rel_l2" in r:
                peer_parity[p] = r["parity_rel_l2"]
            elif "ms" in r:
                rows.append({**r, "preset": p})
    print("## Inference, ours and PyTorch eager on the same device (ms per image, median)\n")
    if not rows:
        print("no measurements (see bench.txt)\n")
        return [], []
    if peer_parity:
        print("Peer parity (largest relative L2 error, ours against PyTorch, 129x257): "
              + ", ".join(f"{p} {e:.1e}" for p, e in peer_parity.items()) + "\n")
    base = {}  # the Auto-DeepLab baseline's full path per size: the paper's fast-mode reference
    for r in rows:
        if r["preset"] == "autodeeplab":
            key = tuple(r["size"])
            if r["exit"] >= base.get(key, (-1, 0, 0))[0]:
                base[key] = (r["exit"], r["ms"], r.get("pytorch_ms"))
    last = {}
    for r in rows:
        key = (r["preset"], tuple(r["size"]))
        last[key] = max(last.get(key, -1), r["exit"])
    print("| model | size | answer at | ours ms | PyTorch ms | ours/PyTorch | speed-up vs Auto-DeepLab (ours) "
          "| (PyTorch) | GFLOP/s |")
    print("|---|---|---|---|---|---|---|---|---|")
    misses = []
    for r in rows:
        size = tuple(r["size"])
        at = "full path" if r["exit"] == last[(r["preset"], size)] else f"exit {r['exit']}"
        theirs = r.get("pytorch_ms")
        ratio = r["ms"] / theirs if theirs else None
        b = base.get(size)
        sp_ours = f"{b[1] / r['ms']:.2f}x" if b else "-"
        sp_theirs = f"{b[2] / theirs:.2f}x" if b and b[2] and theirs else "-"
        ours_vs = "- | -"
        if ratio is not None:
            ours_vs = f"{theirs:.2f} | {ratio:.2f}"
            if f"{size[0]}x{size[1]}" == big:
                ours_vs += " ok" if ratio <= INFER_RATIO else " MISS"
                if ratio > INFER_RATIO:
                    misses.append(f"{r['model']} {at}: {ratio:.2f}")
        print(f"| {r['model']} | {size[0]}x{size[1]} | {at} | {r['ms']:.2f} | {ours_vs} | {sp_ours} | {sp_theirs} "
              f"| {r.get('gflops', 0):.0f} |")
    print()
    return rows, misses


def train_section(steps):
    print(f"## Training step (forward of every exit, backward, SGD; target ours/PyTorch <= {TRAIN_RATIO})\n")
    rows = [r for r in json_lines(read(steps, "train_add-3")) if "ms" in r]
    if not rows:
        print("no measurement (see train.txt)\n")
        return None
    r = rows[0]
    theirs = r.get("pytorch_ms")
    print(f"{r['model']}, batch {r['batch']} of {r['crop'][0]}x{r['crop'][1]}: ours {r['ms']:.1f} ms/step"
          + (f", PyTorch {theirs:.1f} ms/step, ours/PyTorch {r['ms'] / theirs:.2f}" if theirs else "") + "\n")
    return r["ms"] / theirs if theirs else None


def mem_section(steps):
    print("## Memory of loading plus one full-path inference\n")
    print("| model | size | GPU MiB ours | GPU MiB PyTorch | ours/PyTorch | host peak RSS MiB ours | PyTorch |")
    print("|---|---|---|---|---|---|---|")
    for name in ("mem_add-3", "mem_autodeeplab"):
        for r in json_lines(read(steps, name)):
            if "peak_rss_mb" not in r:
                continue
            g, gt = r.get("gpu_peak_mb"), r.get("pytorch_gpu_peak_mb")
            fmt = lambda v: f"{v:.0f}" if v is not None else "-"
            ratio = f"{g / gt:.2f}" if g is not None and gt else "-"
            print(f"| {r['model']} | {r['size'][0]}x{r['size'][1]} | {fmt(g)} | {fmt(gt)} | {ratio} | "
                  f"{fmt(r['peak_rss_mb'])} | {fmt(r.get('pytorch_peak_rss_mb'))} |")
    print()


def app_section(steps):
    print("## The app on this device (`add bench-app`, shipped F=8 models, analysis mode)\n")
    for name in ["app_samples", "app_big"]:
        text = read(steps, name)
        start = text.find("App timing on") if text else -1
        print(text[start:].strip() + "\n" if start >= 0 else f"{name}: no table (see bench.txt)\n")


def main():
    steps, big = sys.argv[1], sys.argv[2]
    presets = ["add-3", "autodeeplab", "add-2"]
    print("# ADD on the GPU (scripts/gpu_check.sh)\n")
    tests_section(steps)
    parity_section(steps, presets)
    rows, misses = bench_section(steps, presets, big)
    train_ratio = train_section(steps)
    mem_section(steps)
    app_section(steps)
    print("## Issue 17's targets\n")
    judged = [r for r in rows if r.get("pytorch_ms") and f"{r['size'][0]}x{r['size'][1]}" == big]
    if judged:
        worst = max(r["ms"] / r["pytorch_ms"] for r in judged)
        print(f"- inference ours/PyTorch at {big}, every exit <= {INFER_RATIO} (aim {INFER_AIM}): worst {worst:.2f} "
              f"-> {verdict(not misses)}" + (f" (misses: {'; '.join(misses)})" if misses else ""))
    else:
        print(f"- inference at {big}: not measured side by side")
    if train_ratio is not None:
        print(f"- training step ours/PyTorch <= {TRAIN_RATIO}: {train_ratio:.2f} -> {verdict(train_ratio <= TRAIN_RATIO)}")
    else:
        print("- training step: not measured side by side")
    print(f"- parity <= {PARITY:g} on every exit: see the parity section (every line must say `parity ok`)")
    print("- fast mode on this device: the `speed-up vs Auto-DeepLab` columns (the paper: 2.15x)")


if __name__ == "__main__":
    main()
