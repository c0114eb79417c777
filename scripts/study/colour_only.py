"""How far local colour alone goes on a Cityscapes-layout dataset: a lookup table from each
pixel's quantised RGB (and optionally its image row) to the train split's most frequent class
there, scored on another split with add eval's mIoU (one confusion matrix, nan-mean over the
classes seen). If colour alone scores near the networks, depth cannot separate the exits.

    python scripts/study/colour_only.py DATA [--bits 5] [--rows 8] [--val-split val] [--max N]
"""
import argparse
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "pytorch"))
from add_torch.data import IGNORE, cityscapes_pairs, read_pair  # noqa: E402
from add_torch.evaluate import confusion, iou_per_class  # noqa: E402


def keys(img, bits, rows):
    q = (np.asarray(img) >> (8 - bits)).astype(np.int64)
    k = (q[..., 0] << (2 * bits)) | (q[..., 1] << bits) | q[..., 2]
    if rows > 1:
        band = (np.arange(k.shape[0]) * rows // k.shape[0])[:, None]
        k = k + band * (1 << (3 * bits))
    return k


def main():
    p = argparse.ArgumentParser()
    p.add_argument("data")
    p.add_argument("--bits", type=int, default=5)
    p.add_argument("--rows", type=int, default=1, help="also key on the image row, in this many bands")
    p.add_argument("--val-split", default="val")
    p.add_argument("--max", type=int, default=0)
    p.add_argument("--classes", type=int, default=19)
    a = p.parse_args()
    C = a.classes
    bins = (1 << (3 * a.bits)) * max(1, a.rows)
    table = np.zeros(bins * C, np.int64)
    train = cityscapes_pairs(a.data, "train")
    train = train[: a.max] if a.max else train
    for pair in train:
        img, lab = read_pair(pair)
        k, l = keys(img, a.bits, a.rows).ravel(), lab.ravel().astype(np.int64)
        keep = l != IGNORE
        table += np.bincount(k[keep] * C + l[keep], minlength=bins * C)
    table = table.reshape(bins, C)
    seen = table.sum(1) > 0
    prior = int(table.sum(0).argmax())
    lookup = np.where(seen, table.argmax(1), prior)
    conf = np.zeros((C, C), np.int64)
    for pair in cityscapes_pairs(a.data, a.val_split):
        img, lab = read_pair(pair)
        conf += confusion(lookup[keys(img, a.bits, a.rows)], lab, C)
    iou = iou_per_class(conf) * 100
    print(f"colour ({a.bits} bits/channel){f' + row ({a.rows} bands)' if a.rows > 1 else ''}: "
          f"mIoU {np.nanmean(iou):.2f} on {a.val_split} ({len(train)} train images); per class "
          + " ".join("nan" if np.isnan(v) else f"{v:.1f}" for v in iou))


if __name__ == "__main__":
    main()
