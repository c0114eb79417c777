#!/usr/bin/env python3
"""Writes tests/fixtures/coco/rle.json: small masks and their RLE as pycocotools encodes them
(`pycocotools.mask.encode`, compressed counts), for tests/export.rs to compare ours with byte
for byte. Needs numpy and pycocotools:  python3 scripts/make_coco_fixture.py"""

import json
import os

import numpy as np
from pycocotools import mask as coco_mask

rng = np.random.default_rng(7)
cases = []
shapes = {
    "empty": np.zeros((5, 7), np.uint8),
    "full": np.ones((5, 7), np.uint8),
    "box": np.pad(np.ones((3, 4), np.uint8), ((1, 1), (2, 1))),
    "noise": (rng.random((13, 17)) < 0.4).astype(np.uint8),
    # long runs and runs shorter than the ones two before: large and negative deltas
    "stripes": np.kron((rng.random((6, 40)) < 0.5).astype(np.uint8), np.ones((40, 3), np.uint8)),
}
for name, m in shapes.items():
    rle = coco_mask.encode(np.asfortranarray(m))
    assert (coco_mask.decode(rle) == m).all()
    cases.append({"name": name, "height": int(m.shape[0]), "width": int(m.shape[1]),
                  "rows": ["".join(str(v) for v in row) for row in m.tolist()],
                  "counts": rle["counts"].decode("ascii"), "area": int(coco_mask.area(rle)),
                  "bbox": [int(v) for v in coco_mask.toBbox(rle)]})
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "coco", "rle.json")
with open(out, "w") as f:
    json.dump({"made_by": "scripts/make_coco_fixture.py (pycocotools.mask.encode)", "cases": cases}, f, indent=1)
print(out)
