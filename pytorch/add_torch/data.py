"""Training data in the Cityscapes layout (what `add synth` writes, and real Cityscapes), our
augmentation, and batches that depend only on (seed, step) so that a resumed run sees exactly
the batches it would have seen.

Augmentation is `add train`'s (src/data/augment.rs): random scale (image bilinear, label
nearest), a crop that pads with black and ignore (255) where it leaves the image, a horizontal
flip, and brightness / contrast / saturation jitter."""

import math
import os
import random

import numpy as np
import torch
from PIL import Image

IMAGE_SUFFIX = "_leftImg8bit.png"
TRAIN_IDS = "_gtFine_labelTrainIds.png"
LABEL_IDS = "_gtFine_labelIds.png"
IGNORE = 255

# Cityscapes' official labelIds -> trainIds (everything else is ignored)
_ID_TO_TRAIN = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11,
                25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}
ID_TO_TRAIN = np.full(256, IGNORE, np.uint8)
for _k, _v in _ID_TO_TRAIN.items():
    ID_TO_TRAIN[_k] = _v


def cityscapes_pairs(root, split):
    """(image, label, needs_mapping) per sample of `split`, sorted; a clear error when the
    folder is not a Cityscapes split or an image has no label."""
    img_dir = os.path.join(root, "leftImg8bit", split)
    gt_dir = os.path.join(root, "gtFine", split)
    if not os.path.isdir(img_dir):
        raise SystemExit(f"{img_dir}: not found; expected a Cityscapes split folder "
                         f"({img_dir}/<city>/*{IMAGE_SUFFIX})")
    pairs, alone = [], []
    for dirpath, _, files in sorted(os.walk(img_dir)):
        for name in sorted(files):
            if not name.endswith(IMAGE_SUFFIX):
                continue
            rel = os.path.relpath(dirpath, img_dir)
            prefix = name[: -len(IMAGE_SUFFIX)]
            train_ids = os.path.join(gt_dir, rel, prefix + TRAIN_IDS)
            label_ids = os.path.join(gt_dir, rel, prefix + LABEL_IDS)
            if os.path.isfile(train_ids):
                pairs.append((os.path.join(dirpath, name), train_ids, False))
            elif os.path.isfile(label_ids):
                pairs.append((os.path.join(dirpath, name), label_ids, True))
            else:
                alone.append(os.path.join(dirpath, name))
    if alone:
        raise SystemExit(f"{alone[0]}: no label ({prefix + TRAIN_IDS} or {prefix + LABEL_IDS} under {gt_dir}); "
                         f"{len(alone)} image(s) without a label")
    if not pairs:
        raise SystemExit(f"{img_dir}: no images (*{IMAGE_SUFFIX})")
    return pairs


def read_pair(pair):
    image_path, label_path, mapped = pair
    try:
        img = Image.open(image_path).convert("RGB")
    except OSError as e:
        raise SystemExit(f"{image_path}: cannot read the image: {e}")
    try:
        lab = Image.open(label_path)
        if lab.mode not in ("L", "P", "I", "I;16"):
            raise OSError(f"a label must be one channel, found mode {lab.mode}")
        lab = np.asarray(lab).astype(np.uint8)
    except OSError as e:
        raise SystemExit(f"{label_path}: cannot read the label: {e}")
    if mapped:
        lab = ID_TO_TRAIN[lab]
    if lab.shape != (img.height, img.width):
        raise SystemExit(f"{label_path}: label is {lab.shape[1]}x{lab.shape[0]}, its image {img.width}x{img.height}")
    return img, lab


def class_frequencies(pairs, classes, workers=0):
    """Pixel count per class over every label (ignore excluded)."""
    counts = np.zeros(classes, np.int64)

    def count(p):
        _, label_path, mapped = p
        lab = np.asarray(Image.open(label_path)).astype(np.uint8)
        if mapped:
            lab = ID_TO_TRAIN[lab]
        return np.bincount(lab.ravel(), minlength=256)[:classes]

    if workers > 1:
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(workers) as ex:
            for c in ex.map(count, pairs):
                counts += c
    else:
        for p in pairs:
            counts += count(p)
    return counts


def reference_class_weights(counts):
    """The reference's balanced weights, 1 / ln(1.02 + frequency): rare classes weigh up to
    about 50, a class that covers a third of the pixels about 3."""
    freq = counts / max(1, counts.sum())
    return [float(1.0 / math.log(1.02 + f)) for f in freq]


def augment(img, lab, crop, scale, jitter, rng):
    """One random training view (PIL image, uint8 label) -> (uint8 HxWx3, uint8 HxW, the
    brightness / contrast / saturation factors that `color_jitter` applies on the device)."""
    f = rng.uniform(*scale) if scale[0] < scale[1] else scale[0]
    w, h = max(1, round(img.width * f)), max(1, round(img.height * f))
    img = img.resize((w, h), Image.BILINEAR)
    lab = np.asarray(Image.fromarray(lab).resize((w, h), Image.NEAREST))
    ch, cw = crop
    x0 = rng.randint(0, w - cw) if w > cw else 0
    y0 = rng.randint(0, h - ch) if h > ch else 0
    out = np.zeros((ch, cw, 3), np.uint8)
    out_lab = np.full((ch, cw), IGNORE, np.uint8)
    src = np.asarray(img)[y0:y0 + ch, x0:x0 + cw]
    out[: src.shape[0], : src.shape[1]] = src
    out_lab[: src.shape[0], : src.shape[1]] = lab[y0:y0 + ch, x0:x0 + cw]
    if rng.random() < 0.5:
        out, out_lab = out[:, ::-1], out_lab[:, ::-1]
    factors = [rng.uniform(1 - jitter, 1 + jitter) for _ in range(3)] if jitter > 0 else [1.0, 1.0, 1.0]
    return np.ascontiguousarray(out), np.ascontiguousarray(out_lab), factors


class TrainViews(torch.utils.data.Dataset):
    """Item (index, seed): the augmented view of sample `index` drawn with `seed`. With `cache`
    every pair is decoded once, before the loader's workers fork and share it."""

    def __init__(self, pairs, crop, scale, jitter=0.2, cache=False, threads=8):
        self.pairs, self.crop, self.scale, self.jitter = pairs, crop, scale, jitter
        self.decoded = None
        if cache:
            from concurrent.futures import ThreadPoolExecutor
            with ThreadPoolExecutor(threads) as ex:
                self.decoded = [(np.asarray(i), l) for i, l in ex.map(read_pair, pairs)]

    def __len__(self):
        return len(self.pairs)

    def __getitem__(self, item):
        index, seed = item
        if self.decoded is not None:
            arr, lab = self.decoded[index]
            img = Image.fromarray(arr)
        else:
            img, lab = read_pair(self.pairs[index])
        out, out_lab, factors = augment(img, lab, self.crop, self.scale, self.jitter, random.Random(seed))
        return (torch.from_numpy(out).permute(2, 0, 1), torch.from_numpy(out_lab.astype(np.int64)),
                torch.tensor(factors, dtype=torch.float32))


def color_jitter(images_u8, factors):
    """`add train`'s jitter on a batch, where the batch lives (the GPU): per image, saturation s
    around each pixel's luma, contrast c around the image's mean luma, brightness b, rounded
    back to bytes. `factors` (N,3) holds (b, c, s)."""
    px = images_u8.float()
    luma = (px * torch.tensor([0.299, 0.587, 0.114], device=px.device).view(1, 3, 1, 1)).sum(1, keepdim=True)
    b, c, s = (factors[:, i].view(-1, 1, 1, 1).to(px.device) for i in range(3))
    mean = luma.mean((2, 3), keepdim=True)
    px = luma + (px - luma) * s
    px = mean + (px - mean) * c
    return torch.round(px * b).clamp(0, 255)


class StepBatches(torch.utils.data.Sampler):
    """Batch `step` of a run = `global_batch` (index, seed) pairs drawn from a generator seeded
    by (seed, step); process `rank` of `world` takes its contiguous share. Starts at `start`."""

    def __init__(self, n, global_batch, seed, start, steps, rank=0, world=1):
        self.n, self.global_batch, self.seed = n, global_batch, seed
        self.start, self.steps, self.rank, self.world = start, steps, rank, world

    def batch(self, step):
        rng = random.Random(self.seed * 1_000_003 + step)
        picks = [(rng.randrange(self.n), rng.getrandbits(63)) for _ in range(self.global_batch)]
        share = self.global_batch // self.world
        return picks[self.rank * share:(self.rank + 1) * share]

    def __iter__(self):
        for step in range(self.start, self.steps):
            yield self.batch(step)

    def __len__(self):
        return max(0, self.steps - self.start)


def normalise(images_u8, card):
    """Pixel values 0..255 (N,3,H,W, any dtype and device) -> the card's normalised input."""
    n = card.get("normalization", {"mean": [0.29866842, 0.30135223, 0.30561872],
                                    "std": [0.23925215, 0.23859318, 0.2385942]})
    mean = torch.tensor(n["mean"], device=images_u8.device).view(1, 3, 1, 1)
    std = torch.tensor(n["std"], device=images_u8.device).view(1, 3, 1, 1)
    return (images_u8.float() / 255.0 - mean) / std
