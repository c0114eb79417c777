"""The training loss: cross-entropy per exit (label 255 ignored, optional class weights),
averaged equally over the exits as the reference trains ADD. With weights the mean is
sum(w[y] * nll) / sum(w[y]), PyTorch's and `add train`'s convention."""

import torch
import torch.nn.functional as F

from .data import IGNORE


def multi_exit_loss(outs, labels, weight=None):
    """(total, [per-exit values as tensors])."""
    losses = [F.cross_entropy(o.float(), labels, weight=weight, ignore_index=IGNORE) for o in outs]
    return torch.stack(losses).mean(), losses
