"""python -m add_torch {train,eval,peer} ... (run from pytorch/, or with it on PYTHONPATH).

  train  train a card on a Cityscapes-layout dataset; `torchrun --nproc_per_node=N -m add_torch
         train ...` trains on N GPUs (add --nnodes/--rdzv-endpoint for several machines)
  eval   mIoU and per-class IoU of every exit of a model on a split
  peer   the PyTorch side of `add bench --peer` (infer, train, mem, parity)
"""

import argparse
import json
import sys


def size(text):
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size `{text}`: expected HxW, e.g. 257x513")
    if not (16 <= h <= 8192 and 16 <= w <= 8192):
        raise argparse.ArgumentTypeError(f"size `{text}`: each side must be 16..8192")
    return (h, w)


def span(text):
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"`{text}`: expected MIN,MAX, e.g. 0.75,1.5")
    if not 0 < lo <= hi:
        raise argparse.ArgumentTypeError(f"`{text}`: need 0 < MIN <= MAX")
    return (lo, hi)


def train_arguments(p):
    p.add_argument("--card", required=True, help="architecture card: JSON (`add card`) or a model with one embedded")
    p.add_argument("--init", help="start from these weights (our .safetensors) instead of random ones")
    p.add_argument("--data", required=True, help="dataset root in the Cityscapes layout (`add synth` writes one)")
    p.add_argument("--out", "-o", required=True, help="run folder: checkpoint.pt, model.safetensors, logs")
    p.add_argument("--steps", type=int, default=20000)
    p.add_argument("--batch", type=int, default=16, help="global batch (all processes together)")
    p.add_argument("--crop", type=size, default=(257, 513), help="HxW")
    p.add_argument("--scale", type=span, default=(0.75, 1.5), help="random scale range MIN,MAX")
    p.add_argument("--jitter", type=float, default=0.2, help="brightness/contrast/saturation jitter")
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--schedule", choices=("poly", "wsd"), default="poly",
                   help="poly: the reference's, over --steps; wsd: warm-up then constant for as long as the "
                        "run is extended (--resume with a larger --steps), a decay branched off with --branch-from")
    p.add_argument("--warmup", type=int, default=0, help="wsd: linear warm-up steps")
    p.add_argument("--branch-from", help="wsd: a stable run's folder (or model file) to branch a decay off, at the "
                                         "step it reached, into --out")
    p.add_argument("--decay-steps", type=int, default=0, help="with --branch-from: the decay's length in steps")
    p.add_argument("--fork-from", help="wsd: start a stable run of its own (e.g. with another loss option) from "
                                       "another run's folder at the step it reached")
    p.add_argument("--resume-from-model", help="continue exactly from a model file this trainer wrote (its step, "
                                               "schedule and recipe) and the .optimizer.safetensors beside it, when "
                                               "the run folder is gone")
    p.add_argument("--exit-weights", type=lambda t: [float(v) for v in t.split(",")],
                   help="weights of the exits' cross-entropies, e.g. 1,2,3 (default: equal, as the reference)")
    p.add_argument("--distill", type=float, default=0.0,
                   help="self-distillation: weight of the earlier exits' KL to the last exit's softened answer")
    p.add_argument("--distill-temperature", type=float, default=2.0)
    p.add_argument("--low-level-dropout", type=float, default=0.0,
                   help="training only: zero the decoder's low-level branch (shared by every exit) for this share "
                        "of each batch's images, so the decoder also learns to answer from the exit's own cells")
    p.add_argument("--threads", type=int, default=0, help="intra-op threads (0: PyTorch's default)")
    p.add_argument("--track-shared", action="store_true",
                   help="at each validation also measure every exit with the ASPP output and with the low-level "
                        "branch zeroed (shared_log.csv)")
    p.add_argument("--shared-images", type=int, default=40, help="images for --track-shared")
    p.add_argument("--weight-decay", type=float, default=4e-5)
    p.add_argument("--no-nesterov", action="store_true", help="plain momentum instead of Nesterov's")
    p.add_argument("--no-class-weights", action="store_true", help="unweighted cross-entropy")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N (torchrun: one GPU per process)")
    p.add_argument("--workers", type=int, default=4, help="data loading processes per training process")
    p.add_argument("--cache", action="store_true", help="decode the train set once into memory")
    p.add_argument("--fp32", action="store_true", help="no bf16 autocast on the GPU")
    p.add_argument("--compile", action="store_true", help="torch.compile the network (slow first steps)")
    p.add_argument("--checkpoint-every", type=int, default=500)
    p.add_argument("--eval-every", type=int, default=0, help="validate every N steps (0: never)")
    p.add_argument("--eval-images", type=int, default=100)
    p.add_argument("--val-split", default="val")
    p.add_argument("--print-every", type=int, default=50)
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument("--until", type=int, help="pause at this step (checkpoint saved); --resume continues")


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m add_torch", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    train_arguments(sub.add_parser("train", help="train a card"))
    e = sub.add_parser("eval", help="mIoU per exit of a model on a split")
    e.add_argument("--model", required=True)
    e.add_argument("--data", required=True)
    e.add_argument("--split", default="val")
    e.add_argument("--images", type=int, default=0, help="at most this many (0: all)")
    e.add_argument("--device", default="auto")
    from . import peer
    peer.add_arguments(sub.add_parser("peer", help="the PyTorch side of `add bench --peer`"))
    args = p.parse_args(argv)
    if args.command == "train":
        from .train import train
        train(args)
    elif args.command == "eval":
        import torch
        from . import data, evaluate, network, weights
        card = weights.load_card(args.model)
        net = weights.load_weights(network.AddNet(card), args.model)
        dev = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                           "cpu" if args.device == "auto" else args.device)
        pairs = data.cityscapes_pairs(args.data, args.split)
        pairs = pairs[: args.images] if args.images else pairs
        r = evaluate.evaluate(net.to(dev), card, pairs, dev)
        r["classes"] = [c["name"] for c in card["classes"]]
        r["images"] = len(pairs)
        print(json.dumps(r))
    else:
        peer.main(args)


if __name__ == "__main__":
    sys.exit(main())
