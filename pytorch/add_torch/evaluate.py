"""mIoU per exit on held-out images, computed as `add eval` does: each image normalised and
zero-padded right/bottom to the next 32k+1 size, every exit's logits cropped back, one confusion
matrix per exit over the whole set, IoU nan-mean over the classes seen in label or prediction."""

import numpy as np
import torch
import torch.nn.functional as F

from .data import IGNORE, normalise, read_pair


def padded(n):
    return ((max(n, 2) - 2) // 32 + 1) * 32 + 1


def confusion(pred, label, classes):
    keep = label != IGNORE
    idx = label[keep].astype(np.int64) * classes + pred[keep].astype(np.int64)
    return np.bincount(idx, minlength=classes * classes).reshape(classes, classes)


def iou_per_class(conf):
    tp = np.diag(conf).astype(np.float64)
    denom = conf.sum(0) + conf.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, tp / denom, np.nan)


@torch.no_grad()
def evaluate(net, card, pairs, device, autocast=None, zero=None):
    """{"miou": [per exit], "iou": [[per class] per exit]} in percent (nan: class never seen).
    `zero` names a submodule (`aspp`, `low_level_conv`) whose output is replaced by zeros: what
    the shared decoder answers without it."""
    module = net.module if hasattr(net, "module") else net
    was_training = module.training
    module.eval()
    hook = getattr(module, zero).register_forward_hook(lambda _m, _i, o: torch.zeros_like(o)) if zero else None
    classes = len(card["classes"])
    exits = len(card["exits"]) + 1
    confs = [np.zeros((classes, classes), np.int64) for _ in range(exits)]
    for pair in pairs:
        img, lab = read_pair(pair)
        x = torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1).unsqueeze(0).to(device)
        h, w = lab.shape
        x = F.pad(normalise(x, card), (0, padded(w) - w, 0, padded(h) - h))
        with autocast() if autocast else torch.autocast("cpu", enabled=False):
            outs = module(x)
        for k, o in enumerate(outs):
            pred = o[0, :, :h, :w].argmax(0).cpu().numpy()
            confs[k] += confusion(pred, lab, classes)
    module.train(was_training)
    if hook:
        hook.remove()
    ious = [iou_per_class(c) * 100 for c in confs]
    return {"miou": [float(np.nanmean(i)) for i in ious], "iou": [[float(v) for v in i] for i in ious]}
