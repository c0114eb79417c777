"""The loss and its two options of ours: each changes the gradient it should, and only that."""

import torch

from add_torch.loss import multi_exit_loss

LABELS = torch.tensor([[[0, 1], [2, 255]]])


def grads(**kw):
    outs = [torch.randn(1, 3, 2, 2, generator=torch.Generator().manual_seed(k)).requires_grad_() for k in range(3)]
    total, per_exit = multi_exit_loss(outs, LABELS, **kw)
    total.backward()
    return [o.grad for o in outs], [float(v.detach()) for v in per_exit], float(total.detach())


def test_the_reference_loss_is_the_mean_of_the_exits_cross_entropies():
    _, ce, total = grads()
    assert abs(total - sum(ce) / 3) < 1e-6


def test_self_distillation_moves_the_early_exits_only():
    ref, ce, _ = grads()
    kd, ce_kd, _ = grads(distill=0.5, temperature=2.0)
    assert all(not torch.allclose(a, b) for a, b in zip(ref[:2], kd[:2])), "the early exits learn the last one's answer"
    assert torch.allclose(ref[2], kd[2]), "the teacher is detached"
    assert ce == ce_kd, "the logged cross-entropies stay plain"
    assert all(float(g[0, :, 1, 1].abs().max()) == 0 for g in kd), "an ignored pixel teaches nothing"


def test_exit_weights_weigh_the_exits():
    ref, _, _ = grads()
    w, _, _ = grads(exit_weights=[0, 0, 1])
    assert all(float(g.abs().max()) == 0 for g in w[:2])
    assert torch.allclose(w[2], ref[2] * 3)
    half, _, _ = grads(exit_weights=[1, 1, 2])
    assert torch.allclose(half[0], ref[0] * 0.75) and torch.allclose(half[2], ref[2] * 1.5)
