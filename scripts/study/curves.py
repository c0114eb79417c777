"""The campaign's curves: each run's validation mIoU per exit (and, where tracked, with the
ASPP's output zeroed) against the step, images seen and CPU-hours (the trainer's per-step times
summed: the wall time of its steps, on however many cores it shared), as a Markdown table.

    python3 scripts/study/curves.py runs/campaign/add runs/campaign/autodeeplab ...
"""
import csv
import os
import sys


def rows(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return list(csv.DictReader(f))


def main():
    print("| run | step | images seen | run-hours | val mIoU per exit | ASPP zeroed (low-level branch alone) |")
    print("|---|---|---|---|---|---|")
    for run in sys.argv[1:]:
        train = rows(os.path.join(run, "train_log.csv"))
        hours, seconds = {}, 0.0
        for r in train:
            seconds += sum(float(r[k]) for k in ("data_s", "forward_s", "backward_s", "update_s"))
            hours[int(r["step"]) + 1] = seconds / 3600
        val, shared = {}, {}
        for r in rows(os.path.join(run, "val_log.csv")):
            val.setdefault(int(r["step"]), []).append(float(r["miou"]))
        for r in rows(os.path.join(run, "shared_log.csv")):
            shared.setdefault(int(r["step"]), []).append(float(r["miou_aspp_zeroed"]))
        first = int(train[0]["step"]) if train else 0
        for step, mious in sorted(val.items()):
            batch = 8  # the campaign's stable batch
            h = hours.get(step)
            note = f" (from step {first})" if first else ""
            print(f"| {os.path.basename(run)} | {step} | {step * batch} | "
                  f"{'%.2f' % h if h is not None else '-'}{note} | {' / '.join(f'{m:.1f}' for m in mious)} | "
                  f"{' / '.join(f'{m:.1f}' for m in shared.get(step, [])) or '-'} |")


if __name__ == "__main__":
    main()
