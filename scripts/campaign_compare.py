"""Compares two `add eval` results on the same held-out scenes (the staged pair against the
shipped one) and checks issue 28's targets on the staged one. The first line says `better` when
the staged pair beats the shipped one at the last exit and at the baseline, else `not better`.

    python3 scripts/campaign_compare.py STAGED/eval.json SHIPPED/eval.json [HELDOUT_DATA]

With the held-out data folder (Cityscapes layout), it also checks that every class present in at
least 5 % of its images scores above 0 IoU at the last exit (needs numpy and pillow).
"""
import json
import sys


def summary(path):
    d = json.load(open(path))
    exits = [e["miou"] for e in d["exits"]]
    zero = [i for i, v in enumerate(d["exits"][-1]["iou"]) if v == 0.0]
    return d, exits, d["baseline"]["miou"], zero


def frequent_classes(root, classes, share=0.05):
    """The classes present in at least `share` of the label images under `root`/gtFine."""
    import os

    import numpy as np
    from PIL import Image
    labels = [os.path.join(dp, f) for dp, _, fs in os.walk(os.path.join(root, "gtFine")) for f in fs
              if f.endswith("_labelTrainIds.png")]
    seen = np.zeros(classes, np.int64)
    for path in labels:
        present = np.unique(np.asarray(Image.open(path)))
        seen[present[present < classes]] += 1
    return [c for c in range(classes) if seen[c] >= share * max(1, len(labels))]


def main():
    staged, shipped = sys.argv[1], sys.argv[2]
    d, exits, base, zero = summary(staged)
    _, old_exits, old_base, old_zero = summary(shipped)
    better = exits[-1] > old_exits[-1] and base > old_base
    print("better" if better else "not better")
    fmt = lambda xs: " / ".join(f"{x:.2f}" for x in xs)
    print(f"staged : exits {fmt(exits)}, baseline {base:.2f}, {len(zero)} classes at 0 IoU at the last exit")
    print(f"shipped: exits {fmt(old_exits)}, baseline {old_base:.2f}, {len(old_zero)} classes at 0 IoU at the last exit")
    steps = [b - a for a, b in zip(exits, exits[1:])]
    checks = [
        ("last exit >= 50 mIoU", exits[-1] >= 50),
        ("last exit >= first + 3", exits[-1] - exits[0] >= 3),
        ("no exit more than 0.5 below the one before", all(s >= -0.5 for s in steps)),
        ("baseline >= last exit - 2", base >= exits[-1] - 2),
    ]
    for name, p in (d.get("presets") or {}).items():
        pol = p["policy"]
        rate = next((r["exit_rate"] for r in d["sweep"] if r["policy"] == pol), [])
        # a threshold that sends every image to one exit is a fixed exit in disguise
        fixed = pol.startswith("exit:") or pol == "full" or max(rate, default=0) >= 0.99
        need_speed, need_drop = (1.6, 0.3) if name == "accurate" else (2.15, 1.5)
        ok = p["speedup"] >= need_speed and p["miou"] >= base - need_drop and not fixed
        checks.append((f"{name} preset {pol}: {p['speedup']:.2f}x at {p['miou']:.2f} "
                       f"(needs >= {need_speed}x at >= baseline - {need_drop}, not a fixed exit)", ok))
    if len(sys.argv) > 3:
        frequent = frequent_classes(sys.argv[3], len(d["exits"][-1]["iou"]))
        missed = [c for c in frequent if d["exits"][-1]["iou"][c] == 0.0]
        checks.append((f"every class in >= 5 % of the images above 0 IoU ({len(frequent)} such classes; "
                       f"at 0: {missed or 'none'})", not missed))
    for name, ok in checks:
        print(f"  [{'x' if ok else ' '}] {name}")


if __name__ == "__main__":
    main()
