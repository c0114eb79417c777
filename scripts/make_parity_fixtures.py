#!/usr/bin/env python3
"""Makes the parity fixtures in tests/fixtures/reference by running the public reference code.

    python3 scripts/make_parity_fixtures.py /path/to/Auto-Dynamic-DeepLab [--out DIR] [--seed N]

Needs PyTorch and a checkout of https://github.com/HankKung/Auto-Dynamic-DeepLab (its code is
imported from that path, never copied here). For each fixture it builds the reference network
(`modeling/ADD.py`'s ADD, or `modeling/baseline_model.py`'s Baselin_Model for `autodeeplab`)
with the reference's own initialisation, then randomises what that leaves trivial so that
every tensor matters for the comparison:

  - BatchNorm: weight U(0.5, 1.5), bias N(0, 0.1), running mean N(0, 0.1), running var U(0.5, 2);
  - every conv and linear bias N(0, 0.1); the EDM's linear weights Kaiming-normal like the convs;
  - then every float tensor is rounded to float16 (the checkpoints store f16, so both sides run
    exactly the same weights).

and writes, per fixture NAME:

  NAME.json             the architecture card ADD Studio reads (json.dump, indent 1)
  NAME.pth              a reference-style checkpoint: {'epoch', 'state_dict' (f16, the
                        num_batches_tracked counters int64), 'optimizer', 'best_pred'}; add2's
                        keys carry DataParallel's `module.` prefix, the others do not
  NAME_edm.pth          (add2 only) the reference EDM {'epoch', 'state_dict', 'optimizer'}
  NAME_io.safetensors   `input` (N(0, 1), float32) and `exit{k}`, every exit's logits computed
                        by PyTorch in float32 in eval mode; `edm0`, the EDM's score at exit 0

The fixtures committed were made before this script was, by code that was not kept. This is
a reconstruction from what the files contain (names, shapes, dtypes, key order, the
distributions of the values, the archive layout): it makes fixtures of the same form, not the
same bytes, and the seed of the committed ones is unknown. Keep the committed fixtures; use this
to make new ones (e.g. another architecture) or to check the reference again.
"""

import argparse
import json
import os
import sys
from collections import OrderedDict
from types import SimpleNamespace

import torch
import torch.nn as nn

# Cityscapes' first five classes that the fixtures use, with their colours.
CLASSES = [
    ("road", [128, 64, 128]),
    ("building", [70, 70, 70]),
    ("vegetation", [107, 142, 35]),
    ("sky", [70, 130, 180]),
    ("car", [0, 0, 142]),
]
# The reference's searched cell (searched_arch/autodeeplab/genotype.npy): (edge, op) per op.
GENOTYPE = [[0, 7], [1, 4], [2, 4], [3, 6], [5, 4], [8, 4], [11, 5], [13, 5], [19, 7], [18, 5]]

# A genotype with every op that the searched cell lacks: none (a zero), max and avg pooling,
# skip, next to separable and dilated convolutions.
OPS_GENOTYPE = [[0, 1], [1, 3], [2, 2], [3, 0], [5, 1], [8, 4], [11, 2], [13, 3], [19, 6], [18, 0]]

# name: (kind, F, path, early exits, low-level cell, EDM, input (H, W), `module.` prefix)
FIXTURES = {
    # the reference's C=2 searched-dense path, with its scalar EDM
    "add2": ("add", 4, [1, 2, 2, 2, 3, 2, 2, 1, 1, 1, 1, 2], [5], 0, True, (65, 97), True),
    # exits two and one levels above the last cell: DoubleFactorizedReduce and FactorizedReduce
    "add3_reduce": ("add", 2, [0, 1, 1, 2, 3, 3, 2, 3, 3, 3, 2, 3], [2, 3], 0, False, (97, 65), False),
    # the plain Auto-DeepLab path (train.py's autodeeplab-baseline)
    "autodeeplab": ("autodeeplab", 2, [0, 0, 0, 1, 2, 1, 2, 2, 3, 3, 2, 1], [5], 2, False, (65, 129), False),
    # add-4: every early exit one level above the last cell (upsample, then ReLU-1x1-BN)
    "add4": ("add", 2, [1, 2, 3, 3, 2, 3, 3, 3, 3, 3, 2, 2], [2, 5, 8], 0, False, (65, 97), False),
    # dense cells on Auto-DeepLab's path with 3 exits (cells 3 and 7 above the last level)
    "dense3": ("add", 2, [0, 0, 0, 1, 2, 1, 2, 2, 3, 3, 2, 1], [3, 7], 2, False, (65, 97), False),
    # the searched path with none / pool / skip ops; its checkpoint as train.py saves it
    "ops_mix": ("add", 2, [1, 2, 2, 2, 3, 2, 2, 1, 1, 1, 1, 2], [5], 0, False, (65, 97), True),
}
# fixtures whose checkpoint carries train.py's SGD state (momentum buffers) and a numpy best_pred
TRAIN_PY_CHECKPOINT = {"ops_mix"}
GENOTYPES = {"ops_mix": OPS_GENOTYPE}
B = 5


def randomise(model, gen):
    """Randomises BatchNorm parameters and statistics and biases; rounds everything to f16."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            if m.affine:
                m.weight.data.uniform_(0.5, 1.5, generator=gen)
                m.bias.data.normal_(0.0, 0.1, generator=gen)
            m.running_mean.normal_(0.0, 0.1, generator=gen)
            m.running_var.uniform_(0.5, 2.0, generator=gen)
        elif isinstance(m, (nn.Conv2d, nn.Linear)):
            if isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, generator=gen)
            if m.bias is not None:
                m.bias.data.normal_(0.0, 0.1, generator=gen)
    with torch.no_grad():
        for t in list(model.parameters()) + list(model.buffers()):
            if t.is_floating_point():
                t.copy_(t.half().float())


def checkpoint(state_dict, prefix, model=None):
    """A reference-style checkpoint; with `model`, as train.py saves it: the optimizer's state
    dict after a few SGD steps (momentum buffers) and `best_pred` a numpy float64."""
    sd = OrderedDict((prefix + k, v.half() if v.is_floating_point() else v) for k, v in state_dict.items())
    optimizer = {"state": {}, "param_groups": [{"lr": 0.05, "momentum": 0.9, "params": [0, 1]}]}
    best = 0.42
    if model is not None:
        import numpy as np
        params = [p for p in model.parameters() if p.requires_grad]
        sgd = torch.optim.SGD(params, lr=0.0, momentum=0.9, nesterov=True, weight_decay=4e-5)
        for p in params:
            p.grad = torch.randn_like(p) * 1e-3
        sgd.step()  # lr 0: buffers filled, weights unchanged
        optimizer = sgd.state_dict()
        best = np.float64(0.4213)
    return {"epoch": 3, "state_dict": sd, "optimizer": optimizer, "best_pred": best}


def make(name, out, seed):
    import numpy as np
    from modeling.ADD import ADD, EDM
    from modeling.baseline_model import Baselin_Model
    from safetensors.torch import save_file

    kind, f, path, exits, low, with_edm, (h, w), module_prefix = FIXTURES[name]
    card = OrderedDict(
        name=name,
        kind=kind,
        F=f,
        B=B,
        classes=[{"name": n, "color": c} for n, c in CLASSES],
        path=path,
        exits=exits,
        genotype=GENOTYPES.get(name, GENOTYPE),
        low_level_cell=low,
        edm={"kind": "scalar" if with_edm else "none"},
    )
    with open(os.path.join(out, name + ".json"), "w") as fh:
        json.dump(card, fh, indent=1)

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    args = SimpleNamespace(F=f, B=B, sync_bn=False)
    net = ADD if kind == "add" else Baselin_Model
    model = net(path, exits, np.array(GENOTYPES.get(name, GENOTYPE)), len(CLASSES), args, low).eval()
    randomise(model, gen)
    x = torch.randn(1, 3, h, w, generator=gen)
    with torch.no_grad():
        io = {"input": x.contiguous()}
        for k, y in enumerate(model(x)):
            io[f"exit{k}"] = y.contiguous()
    with_sgd = model if name in TRAIN_PY_CHECKPOINT else None
    torch.save(checkpoint(model.state_dict(), "module." if module_prefix else "", with_sgd), os.path.join(out, name + ".pth"))

    if with_edm:
        edm = EDM()
        # the reference's EDM reads the 400 channels of its F=20 model's exit cell; here the
        # exit cell has F * B * 2**level
        edm.conv = nn.Conv2d(f * B * 2 ** path[exits[0]], 128, 3, stride=2, padding=1, bias=False)
        nn.init.kaiming_normal_(edm.conv.weight, generator=gen)
        randomise(edm, gen)
        edm.eval()
        with torch.no_grad():
            _, feature = model.get_feature(x)
            io["edm0"] = edm(feature).reshape(1).contiguous()
        sd = OrderedDict((k, v.half()) for k, v in edm.state_dict().items())
        torch.save({"epoch": 1, "state_dict": sd, "optimizer": {}}, os.path.join(out, name + "_edm.pth"))
    save_file(io, os.path.join(out, name + "_io.safetensors"))
    print(f"{name}: {', '.join(f'{k} {list(v.shape)}' for k, v in io.items())}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("reference", help="a checkout of HankKung/Auto-Dynamic-DeepLab")
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "reference"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", nargs="*", choices=sorted(FIXTURES), help="some fixtures only")
    a = p.parse_args()
    if not os.path.isfile(os.path.join(a.reference, "modeling", "ADD.py")):
        sys.exit(f"{a.reference}: no modeling/ADD.py; expected a checkout of HankKung/Auto-Dynamic-DeepLab")
    sys.path.insert(0, os.path.abspath(a.reference))
    os.makedirs(a.out, exist_ok=True)
    for name in a.only or FIXTURES:
        make(name, a.out, a.seed)


if __name__ == "__main__":
    main()
