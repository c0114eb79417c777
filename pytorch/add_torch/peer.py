"""`add bench --peer`: the same network in PyTorch, timed and checked by `add` in one run.

Modes (every result is one JSON line on stdout):
  infer   ms per image answering at each exit (median of --reps after one warm-up)
  train   ms per training step (forward all exits + backward + SGD), batch and crop given
  mem     peak resident memory (VmHWM) after loading and one full-path inference; on a GPU
          also the most GPU memory in use meanwhile beyond what was in use before (polled)
  parity  writes every exit's logits (float32, exit order) for a raw float32 NCHW input
"""

import json
import resource
import statistics
import time

import torch
import torch.nn.functional as F

from .data import normalise as normalise_u8
from .network import AddNet
from .weights import load_card, load_weights


def peak_rss_mb():
    """This process's high-water mark (VmHWM). Not ru_maxrss: Linux carries that across exec,
    so a peer started by a big process would report its parent's memory."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def gpu_used_mb():
    """Memory in use on the current GPU by every process (the driver's total - free), MiB."""
    free, total = torch.cuda.mem_get_info()
    return (total - free) / 1048576.0


def gpu_peak_during(fn):
    """fn() while a thread polls the GPU's memory in use every 0.2 ms: the most in use beyond
    what was before, MiB. `add bench --peak-mem` measures its own the same way."""
    import threading

    torch.cuda.synchronize()
    before = gpu_used_mb()
    peak = [before]
    done = threading.Event()

    def poll():
        while not done.is_set():
            peak[0] = max(peak[0], gpu_used_mb())
            time.sleep(0.0002)

    t = threading.Thread(target=poll)
    t.start()
    try:
        fn()
        torch.cuda.synchronize()
    finally:
        done.set()
        t.join()
    return peak[0] - before


def build(args):
    torch.manual_seed(0)
    net = AddNet(load_card(args.card))
    if args.weights:
        load_weights(net, args.weights)
    return net.to(args.device)


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn, reps, device):
    fn()
    sync(device)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        sync(device)
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def bench_image(h, w, device):
    """The same deterministic test image `add bench` uses, normalised like the card."""
    y = torch.arange(h).view(h, 1)
    x = torch.arange(w).view(1, w)
    rgb = torch.stack([(x % 251).expand(h, w), (y % 241).expand(h, w), ((x * y) % 239)]).float() / 255.0
    return rgb.unsqueeze(0).to(device)


def normalise(img, card):
    """A float image in [0, 1] -> the card's normalised input."""
    return normalise_u8(img * 255.0, card)


def add_arguments(p):
    p.add_argument("mode", choices=["infer", "train", "mem", "parity"])
    p.add_argument("--card", required=True, help="architecture card JSON, or a model with one embedded")
    p.add_argument("--weights", help="our .safetensors for the same card (random weights if absent)")
    p.add_argument("--size", action="append", default=[], help="HxW (repeatable)")
    p.add_argument("--threads", type=int, default=0, help="intra-op threads (0: torch default)")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--crop", default="257x257")
    p.add_argument("--device", default="cpu")
    p.add_argument("--input", help="parity: raw float32 NCHW input file")
    p.add_argument("--output", help="parity: raw float32 output file")


def main(args):
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    if args.device.startswith("cuda"):
        torch.cuda.set_device(args.device)
        torch.zeros(1, device=args.device)  # the context, before anything is measured
    if args.mode == "mem" and args.device.startswith("cuda"):
        # the network is built inside the measurement, as `add bench --peak-mem` builds its own
        h, w = map(int, (args.size or ["1025x2049"])[0].split("x"))
        res = {}

        def load_and_run():
            net = build(args)
            net.eval()
            with torch.inference_mode():
                net(normalise(bench_image(h, w, args.device), net.card))
            res["net"] = net

        gpu_mb = gpu_peak_during(load_and_run)
        common = {"peer": f"pytorch {torch.__version__}", "threads": torch.get_num_threads(), "device": args.device}
        print(json.dumps({**common, "mode": "mem", "size": [h, w], "peak_rss_mb": peak_rss_mb(), "gpu_peak_mb": gpu_mb,
                          "torch_max_reserved_mb": torch.cuda.max_memory_reserved() / 1048576.0}), flush=True)
        return
    net = build(args)
    card = net.card
    common = {"peer": f"pytorch {torch.__version__}", "threads": torch.get_num_threads(), "device": args.device}

    if args.mode == "infer":
        net.eval()
        with torch.inference_mode():
            for size in args.size or ["257x513"]:
                h, w = map(int, size.split("x"))
                x = normalise(bench_image(h, w, args.device), card)
                for k in range(len(net.exit_cells)):
                    ms = timed(lambda: net(x, answer_at=k), args.reps, args.device)
                    print(json.dumps({**common, "mode": "infer", "size": [h, w], "exit": k, "ms": ms}), flush=True)
    elif args.mode == "train":
        h, w = map(int, args.crop.split("x"))
        net.train()
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=4e-5)
        g = torch.Generator().manual_seed(0)
        x = torch.randn(args.batch, 3, h, w, generator=g).to(args.device)
        labels = torch.randint(0, len(card["classes"]), (args.batch, h, w), generator=g).to(args.device)

        def step():
            opt.zero_grad(set_to_none=True)
            outs = net(x)
            loss = sum(F.cross_entropy(o, labels, ignore_index=255) for o in outs) / len(outs)
            loss.backward()
            opt.step()

        ms = timed(step, args.reps, args.device)
        print(json.dumps({**common, "mode": "train", "batch": args.batch, "crop": [h, w], "ms": ms}), flush=True)
    elif args.mode == "mem":
        h, w = map(int, (args.size or ["1025x2049"])[0].split("x"))
        net.eval()
        with torch.inference_mode():
            net(normalise(bench_image(h, w, args.device), card))
        peak_mb = peak_rss_mb()
        print(json.dumps({**common, "mode": "mem", "size": [h, w], "peak_rss_mb": peak_mb}), flush=True)
    else:
        h, w = map(int, (args.size or ["129x257"])[0].split("x"))
        import numpy as np
        x = torch.from_numpy(np.fromfile(args.input, dtype=np.float32).reshape(1, 3, h, w)).to(args.device)
        net.eval()
        with torch.inference_mode():
            outs = net(x)
        torch.cat([o.flatten() for o in outs]).cpu().numpy().astype(np.float32).tofile(args.output)
        print(json.dumps({**common, "mode": "parity", "size": [h, w], "values": sum(o.numel() for o in outs)}))

