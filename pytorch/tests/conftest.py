"""Shared fixtures of the PyTorch trainer's tests: a tiny Cityscapes-layout data set drawn here
(no `add` binary needed), a tiny card, and a way to run the trainer as a user does."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
PYTORCH = os.path.dirname(HERE)
REPO = os.path.dirname(PYTORCH)
FIXTURES = os.path.join(REPO, "tests", "fixtures", "reference")
sys.path.insert(0, PYTORCH)

COLOURS = np.array([[128, 64, 128], [70, 70, 70], [107, 142, 35], [70, 130, 180], [0, 0, 142]], np.uint8)


def draw_scene(rng, h, w):
    """Sky over buildings over road, a few trees and cars; colour per class plus noise. No
    pixel is left unlabelled (255), so every crop inside the image weighs the same."""
    lab = np.zeros((h, w), np.uint8)
    lab[: h // 3] = 3
    lab[h // 3: 2 * h // 3] = 1
    for _ in range(3):
        c = rng.choice([2, 4])
        y, x = rng.integers(h // 3, h - 8), rng.integers(0, w - 16)
        lab[y: y + rng.integers(6, 16), x: x + rng.integers(8, 24)] = c
    img = COLOURS[lab].astype(np.int16) + rng.integers(-20, 21, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8), lab


def write_dataset(root, train=6, val=2, h=64, w=128, seed=0):
    rng = np.random.default_rng(seed)
    for split, n in (("train", train), ("val", val)):
        img_dir = os.path.join(root, "leftImg8bit", split, "tinytown")
        gt_dir = os.path.join(root, "gtFine", split, "tinytown")
        os.makedirs(img_dir)
        os.makedirs(gt_dir)
        for i in range(n):
            img, lab = draw_scene(rng, h, w)
            stem = f"tinytown_000000_{i:06d}"
            Image.fromarray(img).save(os.path.join(img_dir, stem + "_leftImg8bit.png"))
            Image.fromarray(lab).save(os.path.join(gt_dir, stem + "_gtFine_labelTrainIds.png"))
    return root


def tiny_card():
    """add3_reduce's path and cell (F=2, five classes) with a narrow stem and head."""
    with open(os.path.join(FIXTURES, "add3_reduce.json")) as f:
        card = json.load(f)
    card.update(stem={"width": 8, "out": 16}, head={"width": 16, "low_level_width": 8})
    return card


@pytest.fixture
def data(tmp_path):
    return write_dataset(str(tmp_path / "data"))


@pytest.fixture
def card_path(tmp_path):
    path = tmp_path / "card.json"
    path.write_text(json.dumps(tiny_card()))
    return str(path)


def train_args(card, data, out, steps=3, *extra):
    return ["train", "--card", card, "--data", data, "--out", str(out), "--steps", str(steps), "--batch", "4",
            "--crop", "48x96", "--scale", "1,1", "--device", "cpu", "--workers", "0", "--threads", "1",
            "--checkpoint-every", "1", "--print-every", "1", *extra]


def run_trainer(args, launcher=None, check=True, **kw):
    """`python -m add_torch ARGS` from pytorch/, as a user runs it; `launcher` replaces `python`
    (e.g. torchrun's arguments)."""
    cmd = [*(launcher or [sys.executable]), "-m", "add_torch", *args]
    p = subprocess.run(cmd, cwd=PYTORCH, capture_output=True, text=True, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p
