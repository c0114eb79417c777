"""The training loss: cross-entropy per exit (label 255 ignored, optional class weights),
averaged equally over the exits as the reference trains ADD. With weights the mean is
sum(w[y] * nll) / sum(w[y]), PyTorch's and `add train`'s convention.

Two options of ours, both recorded in the recipe (and so in the model's provenance):
- `exit_weights`: the exits' cross-entropies weighted (normalised to sum to 1) instead of
  averaged, e.g. towards the deep exits;
- self-distillation (`distill` > 0): every earlier exit also learns the last exit's softened
  answer, T^2 * KL(softmax(last / T) || softmax(exit / T)) over the labelled pixels, the
  teacher detached, so the early heads follow the deep one instead of pulling the shared layers
  towards what they can do alone."""

import torch
import torch.nn.functional as F

from .data import IGNORE


def exit_weight_list(weights, exits):
    """The normalised weights of `exits` exits (None: equal)."""
    if not weights:
        return [1.0 / exits] * exits
    if len(weights) != exits:
        raise SystemExit(f"--exit-weights has {len(weights)} values, the card has {exits} exits")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise SystemExit(f"--exit-weights {weights}: need values >= 0 with a positive sum")
    s = float(sum(weights))
    return [w / s for w in weights]


def distillation(student, teacher, labels, temperature):
    """T^2 * mean over labelled pixels of KL(softmax(teacher / T) || softmax(student / T))."""
    t = temperature
    keep = (labels != IGNORE).unsqueeze(1).float()
    p = F.softmax(teacher.detach().float() / t, 1)
    kl = (p * (torch.log(p.clamp_min(1e-12)) - F.log_softmax(student.float() / t, 1))).sum(1, keepdim=True)
    return (kl * keep).sum() / keep.sum().clamp_min(1.0) * t * t


def multi_exit_loss(outs, labels, weight=None, exit_weights=None, distill=0.0, temperature=2.0):
    """(total, [per-exit cross-entropies as tensors]); the logged per-exit values are the plain
    cross-entropies whatever the options."""
    losses = [F.cross_entropy(o.float(), labels, weight=weight, ignore_index=IGNORE) for o in outs]
    if exit_weights:
        w = exit_weight_list(exit_weights, len(outs))
        total = sum(wk * lk for wk, lk in zip(w, losses))
    else:
        total = torch.stack(losses).mean()
    if distill > 0 and len(outs) > 1:
        kd = [distillation(o, outs[-1], labels, temperature) for o in outs[:-1]]
        total = total + distill * torch.stack(kd).mean()
    return total, losses
