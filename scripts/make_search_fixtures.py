#!/usr/bin/env python3
"""Makes tests/fixtures/reference_search/ by running the reference's own, unmodified code.

Usage: make_search_fixtures.py REFERENCE_CHECKOUT [OUT_DIR]

REFERENCE_CHECKOUT is a checkout of HankKung/Auto-Dynamic-DeepLab. Nothing of it is copied:
this script imports its modules and writes only what they compute.

- The shape of betas comes from the reference's `Model_search._initialize_alphas_betas` at B=5
  (run on a bare module; `.cuda()` is made a no-op so it runs on a CPU).
- `experiment/<epoch>_eval/` (and a plain `<epoch>/` for epoch 1, which the `_eval` folder
  must win over): random betas whose scale grows per epoch as a search's would, the path
  `Decoder.viterbi_decode` decodes from them, and a made-up mIoU, saved as `search.py`'s
  `decoder_save` saves them.
- `card/`: a decoded `network_path.npy` and the `genotype.npy` that `Decoder.genotype_decode`
  makes from random alphas (the shape `_initialize_alphas_betas` allocates).
- `expected.json`: per epoch the path and the normalised network space (`Decoder.network_space`)
  the reference computed, and the card's path and genotype, for tests/reference_search.rs.
"""

import json
import os
import sys

import numpy as np
import torch

ref = os.path.abspath(sys.argv[1])
out = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else
                      os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "reference_search"))
sys.path.insert(0, ref)
sys.path.insert(0, os.path.join(ref, "Decoding"))
from decoding_formulas import Decoder  # noqa: E402

torch.Tensor.cuda = lambda self, *a, **k: self  # the reference allocates on the GPU
from modeling.model_search import Model_search  # noqa: E402


def allocated():
    """alphas and betas as the reference's search model allocates them at B=5."""
    m = torch.nn.Module()
    m.B = 5
    Model_search._initialize_alphas_betas(m)
    return m.alphas.detach(), m.betas.detach()


def decode(betas):
    d = Decoder(None, torch.from_numpy(betas), 5)
    path, _ = d.viterbi_decode()
    return path, d.network_space.numpy()


def main():
    torch.manual_seed(21)
    rng = np.random.default_rng(21)
    alphas0, betas0 = allocated()
    shape = list(betas0.shape)
    expected = {"betas_shape": shape, "alphas_shape": list(alphas0.shape), "epochs": []}
    exp = os.path.join(out, "experiment")
    for epoch in range(4):
        betas = (betas0.numpy() + rng.standard_normal(shape) * 0.5 * (epoch + 1)).astype(np.float32)
        path, space = decode(betas)
        miou = round(0.2 + 0.05 * epoch + float(rng.uniform(0, 0.02)), 6)
        folders = [f"{epoch}_eval"] + ([f"{epoch}"] if epoch == 1 else [])
        for name in folders:
            d = os.path.join(exp, name)
            os.makedirs(d, exist_ok=True)
            # a plain training folder holds other betas: the importer must take the _eval one
            b = betas if name.endswith("_eval") else np.zeros(shape, np.float32)
            np.save(os.path.join(d, "betas"), b)
            np.save(os.path.join(d, "network_path"), path if name.endswith("_eval") else decode(b)[0])
            if name.endswith("_eval"):
                with open(os.path.join(d, "miou.txt"), "w") as f:
                    f.write(str(miou))
        expected["epochs"].append({
            "folder": f"{epoch}_eval",
            "path": [int(x) for x in path],
            "miou": miou,
            "network_space": space.round(7).tolist(),
        })
    # the card: a path decoded from decisive betas, a cell decoded from random alphas
    betas = (rng.standard_normal(shape) * 3).astype(np.float32)
    path, _ = decode(betas)
    alphas = torch.from_numpy(rng.standard_normal(list(alphas0.shape)).astype(np.float32))
    genotype = Decoder(alphas, torch.from_numpy(betas), 5).genotype_decode()
    card = os.path.join(out, "card")
    os.makedirs(card, exist_ok=True)
    np.save(os.path.join(card, "network_path"), path)
    np.save(os.path.join(card, "genotype"), genotype)
    expected["card"] = {"path": [int(x) for x in path], "genotype": genotype.astype(int).tolist()}
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    print("wrote", out, "; paths", [e["path"] for e in expected["epochs"]], "card", expected["card"])


main()
