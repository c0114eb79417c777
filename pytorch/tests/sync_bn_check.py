"""Run under torchrun (gloo, any number of processes): GlooSyncBatchNorm on each process's share
of a batch against nn.BatchNorm2d on the whole batch, in float64 so that only a wrong formula
can differ: outputs, running statistics and the averaged gradients. Exits 1 on a mismatch."""

import copy
import os
import sys

import torch
import torch.distributed as dist
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from add_torch import sync_bn  # noqa: E402


def main():
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)
    ref = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.BatchNorm2d(4, affine=False),
                        nn.Conv2d(4, 2, 1)).double()
    mine = sync_bn.convert(copy.deepcopy(ref))
    assert type(mine[1]) is sync_bn.GlooSyncBatchNorm and type(mine[3]) is sync_bn.GlooSyncBatchNorm
    x = torch.randn(4 * world, 3, 6, 7, dtype=torch.float64) * 3 + 2
    w = torch.randn(4 * world, 2, 6, 7, dtype=torch.float64)
    y_ref = ref(x)
    (y_ref * w).sum().backward()
    share = slice(4 * rank, 4 * rank + 4)
    y = mine(x[share])
    (y * w[share]).sum().backward()
    bad = []
    if not torch.allclose(y, y_ref[share], atol=1e-10):
        bad.append("output")
    for i in (1, 3):
        for b in ("running_mean", "running_var"):
            if not torch.allclose(getattr(mine[i], b), getattr(ref[i], b), atol=1e-10):
                bad.append(f"{i}.{b}")
    for (name, p), q in zip(mine.named_parameters(), ref.parameters()):
        g = p.grad.clone()
        dist.all_reduce(g)  # the sum of the shares' gradients is the whole batch's
        if not torch.allclose(g, q.grad, atol=1e-9):
            bad.append(f"grad {name}")
    print(f"rank {rank}: " + ("ok" if not bad else "mismatch: " + ", ".join(bad)), flush=True)
    dist.destroy_process_group()
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
