"""The data pipeline: batches that depend only on (seed, step), views that keep image and
label together, jitter that is the identity at factors 1, and errors that name the file."""

import os
import random

import numpy as np
import pytest
import torch
from PIL import Image

from add_torch import data


def test_a_batch_depends_only_on_seed_and_step():
    a = data.StepBatches(100, 8, seed=3, start=0, steps=5)
    b = data.StepBatches(100, 8, seed=3, start=2, steps=5)
    assert list(a)[2:] == list(b), "a resumed run sees the batches it would have seen"
    assert a.batch(1) != a.batch(2)
    assert data.StepBatches(100, 8, 4, 0, 5).batch(1) != a.batch(1)
    shares = [data.StepBatches(100, 8, 3, 0, 5, rank=r, world=2).batch(1) for r in range(2)]
    assert shares[0] + shares[1] == a.batch(1), "two processes split the global batch"


def test_a_view_keeps_image_and_label_aligned():
    img = np.zeros((20, 30, 3), np.uint8)
    img[:, :15] = 200  # left half bright, label 1; right half dark, label 2
    lab = np.full((20, 30), 2, np.uint8)
    lab[:, :15] = 1
    for seed in range(20):
        out, out_lab, factors = data.augment(Image.fromarray(img), lab, (16, 24), (0.8, 1.4), 0.2, random.Random(seed))
        assert out.shape == (16, 24, 3) and out_lab.shape == (16, 24)
        padded = out_lab == data.IGNORE
        assert (out[padded] == 0).all(), "padding is black and ignored"
        bright = out[..., 0] > 150
        assert ((out_lab == 1) == bright)[~padded].mean() > 0.95
        assert all(0.8 <= f <= 1.2 for f in factors)


def test_jitter_at_factors_one_is_the_identity():
    x = torch.randint(0, 256, (2, 3, 5, 7)).float()
    assert torch.equal(data.color_jitter(x, torch.ones(2, 3)), x)
    darker = data.color_jitter(x, torch.tensor([[0.5, 1.0, 1.0]] * 2))
    assert torch.allclose(darker, torch.round(x * 0.5))


def test_an_image_without_its_label_is_named(tmp_path):
    img_dir = tmp_path / "leftImg8bit" / "train" / "x"
    img_dir.mkdir(parents=True)
    (tmp_path / "gtFine" / "train" / "x").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(img_dir / "a_leftImg8bit.png")
    with pytest.raises(SystemExit, match="a_leftImg8bit.png: no label"):
        data.cityscapes_pairs(str(tmp_path), "train")
    with pytest.raises(SystemExit, match="not found"):
        data.cityscapes_pairs(str(tmp_path), "val")


def test_a_label_of_another_size_is_named(tmp_path):
    img, lab = tmp_path / "i.png", tmp_path / "l.png"
    Image.new("RGB", (8, 8)).save(img)
    Image.new("L", (8, 6)).save(lab)
    with pytest.raises(SystemExit, match=f"{os.path.basename(lab)}: label is 8x6, its image 8x8"):
        data.read_pair((str(img), str(lab), False))
