"""BatchNorm synchronised over the processes of a CPU run (gloo). PyTorch's SyncBatchNorm works
only on GPUs; without synchronisation every process would normalise by the statistics of its
own share of the batch, so two processes would not train what one does with the same global
batch. Here each training-mode BatchNorm adds up its channels' sums and counts, then its squared
deviations from the global mean, over all processes (through an all-reduce that autograd
differentiates), and normalises by the global batch's mean and variance, updating the running
statistics as BatchNorm2d does."""

import torch
import torch.distributed as dist
import torch.nn as nn


class _AllReduceSum(torch.autograd.Function):
    """The sum over processes; its gradient is the sum of every process's gradient."""

    @staticmethod
    def forward(ctx, x):
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad):
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


def all_reduce_sum(x):
    return _AllReduceSum.apply(x)


class GlooSyncBatchNorm(nn.BatchNorm2d):
    def forward(self, x):
        if not (self.training and dist.is_available() and dist.is_initialized()):
            return super().forward(x)
        c = x.shape[1]
        # two passes (the mean, then the squared deviations from it): E[x^2] - E[x]^2 loses the
        # variance of channels whose mean dwarfs their spread
        local = torch.cat([x.sum((0, 2, 3)), torch.tensor([x.numel() / c], dtype=x.dtype, device=x.device)])
        total = all_reduce_sum(local)
        n = total[c]
        mean = total[:c] / n
        var = all_reduce_sum(((x - mean.view(1, c, 1, 1)) ** 2).sum((0, 2, 3))) / n
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                self.running_var.mul_(1 - m).add_(var.detach() * n / max(float(n) - 1, 1.0), alpha=m)
        y = (x - mean.view(1, c, 1, 1)) * torch.rsqrt(var.view(1, c, 1, 1) + self.eps)
        if self.affine:
            y = y * self.weight.view(1, c, 1, 1) + self.bias.view(1, c, 1, 1)
        return y


def convert(module):
    """Every BatchNorm2d of `module` replaced, in place, by a GlooSyncBatchNorm holding the same
    parameters and statistics (the state_dict's names are unchanged)."""
    for name, child in module.named_children():
        if type(child) is nn.BatchNorm2d:
            like = next(iter(child.state_dict().values()), None)
            new = GlooSyncBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                    child.track_running_stats)
            if like is not None:
                new = new.to(device=like.device, dtype=child.running_mean.dtype if child.track_running_stats else like.dtype)
            new.load_state_dict(child.state_dict())
            setattr(module, name, new)
        else:
            convert(child)
    return module
