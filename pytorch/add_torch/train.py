"""Training a card with PyTorch: one process per GPU under `torchrun` (DistributedDataParallel,
SyncBatchNorm), or a single process on one GPU or the CPU.

GPU speed: bf16 autocast (weights, BatchNorm statistics and the loss stay f32), channels_last,
cudnn.benchmark, optionally torch.compile. The recipe is the reference's: SGD with Nesterov
momentum 0.9, weight decay 4e-5, poly learning rate, class weights 1 / ln(1.02 + frequency),
every exit's cross-entropy averaged.

The run folder holds `checkpoint.pt` (weights, optimiser, step: `--resume` continues exactly,
the batches depend only on seed and step), `model.safetensors` (our file, card embedded, what
`add` opens), `train_log.csv` (the columns `add train` writes) and `val_log.csv` (mIoU and
per-class IoU of every exit on held-out images, every `--eval-every` steps)."""

import csv
import json
import os
import signal
import time

import torch
import torch.distributed as dist

from . import data, evaluate, network, weights
from .loss import multi_exit_loss

RECIPE_KEYS = ("card", "steps", "batch", "crop", "scale", "lr", "momentum", "nesterov", "weight_decay",
               "class_weights", "seed", "jitter")


def poly_lr(base, step, total):
    return base * max(0.0, 1.0 - step / max(1, total)) ** 0.9


class Run:
    """Process group, device and rank; rank 0 alone writes files."""

    def __init__(self, device):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device.startswith("cuda"):
            torch.cuda.set_device(local if self.world > 1 else torch.device(device).index or 0)
            self.device = torch.device("cuda", torch.cuda.current_device())
        else:
            self.device = torch.device("cpu")
        if self.world > 1:
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
        self.main = self.rank == 0

    def log(self, *a):
        if self.main:
            print(*a, flush=True)

    def close(self):
        if self.world > 1:
            dist.destroy_process_group()


def read_recipe_args(args, card):
    return {"card": card, "steps": args.steps, "batch": args.batch, "crop": list(args.crop),
            "scale": list(args.scale), "lr": args.lr, "momentum": 0.9, "nesterov": not args.no_nesterov,
            "weight_decay": args.weight_decay, "class_weights": not args.no_class_weights,
            "seed": args.seed, "jitter": args.jitter}


def _quiet_worker(_):
    """Ctrl-C is the main process's to handle: it saves a checkpoint and stops."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def build_net(card, init, seed):
    torch.manual_seed(seed)
    net = network.init_weights(network.AddNet(card))
    if init:
        weights.load_weights(net, init)
    return net


def write_logs_header(path, header, keep_below):
    """Opens a CSV log for appending; a resumed run keeps the rows before its step."""
    rows = []
    if keep_below > 0 and os.path.exists(path):
        with open(path) as f:
            r = list(csv.reader(f))
        rows = [row for row in r[1:] if row and row[0].isdigit() and int(row[0]) < keep_below]
    f = open(path, "w", newline="")
    w = csv.writer(f)
    w.writerow(header)
    w.writerows(rows)
    f.flush()
    return f, w


def train(args):
    run = Run(args.device)
    torch.backends.cudnn.benchmark = True
    card = weights.load_card(args.card)
    if args.init and args.init != args.card:
        init_card = weights.load_card(args.init)
        if init_card.get("path") != card.get("path") or init_card.get("F") != card.get("F"):
            raise SystemExit(f"{args.init}: its card is not {args.card}'s")
    recipe = read_recipe_args(args, card)
    out = args.out
    ckpt_path = os.path.join(out, "checkpoint.pt")
    if run.main:
        os.makedirs(out, exist_ok=True)
    start, state = 0, None
    if os.path.exists(ckpt_path):
        if not args.resume:
            raise SystemExit(f"{ckpt_path} exists: pass --resume to continue it, or choose another --out")
        state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        if state["recipe"] != recipe:
            diff = [k for k in RECIPE_KEYS if state["recipe"].get(k) != recipe.get(k)]
            raise SystemExit(f"{ckpt_path}: was started with other settings ({', '.join(diff)}); resume with the same ones")
        start = state["step"]
    pairs = data.cityscapes_pairs(args.data, "train")
    val_pairs = data.cityscapes_pairs(args.data, args.val_split)[: args.eval_images] if args.eval_every else []
    classes = len(card["classes"])
    class_weights = None
    if recipe["class_weights"]:
        cw_path = os.path.join(out, "class_weights.json")
        if os.path.exists(cw_path):
            with open(cw_path) as f:
                cw = json.load(f)["weights"]
        else:
            counts = data.class_frequencies(pairs, classes, workers=max(1, args.workers))
            cw = data.reference_class_weights(counts)
            if run.main:
                tmp = weights.atomic_path(cw_path)
                with open(tmp, "w") as f:
                    json.dump({"counts": counts.tolist(), "weights": cw, "rule": "1/ln(1.02 + frequency)"}, f)
                os.replace(tmp, cw_path)
        class_weights = torch.tensor(cw, device=run.device)
    net = build_net(card, args.init, args.seed)
    if state:
        net.load_state_dict(state["model"])
    net = net.to(run.device)
    if run.device.type == "cuda":
        net = net.to(memory_format=torch.channels_last)
    if run.world > 1:
        net = torch.nn.SyncBatchNorm.convert_sync_batchnorm(net)
        net = torch.nn.parallel.DistributedDataParallel(net, device_ids=[run.device.index] if run.device.type == "cuda" else None)
    opt = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9, nesterov=recipe["nesterov"],
                          weight_decay=args.weight_decay)
    if state:
        opt.load_state_dict(state["optimizer"])
    model_fn = torch.compile(net) if args.compile else net
    if args.batch % run.world:
        raise SystemExit(f"--batch {args.batch} is the global batch: it must divide among {run.world} processes")
    sampler = data.StepBatches(len(pairs), args.batch, args.seed, start, args.steps if args.until is None else min(args.until, args.steps), run.rank, run.world)
    views = data.TrainViews(pairs, tuple(args.crop), tuple(args.scale), args.jitter, args.cache, max(1, args.workers))
    loader = torch.utils.data.DataLoader(views, batch_sampler=sampler, num_workers=args.workers,
                                         pin_memory=run.device.type == "cuda", persistent_workers=args.workers > 0,
                                         prefetch_factor=4 if args.workers > 0 else None,
                                         worker_init_fn=_quiet_worker)
    amp = run.device.type == "cuda" and not args.fp32

    def autocast():
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp)

    exits = len(card["exits"]) + 1
    log_f = log = val_f = val_log = None
    if run.main:
        log_f, log = write_logs_header(os.path.join(out, "train_log.csv"),
                                       ["step", "loss"] + [f"loss_exit{k}" for k in range(exits)] +
                                       ["lr", "images_per_s", "data_s", "forward_s", "backward_s", "update_s", "elapsed_s"],
                                       start)
        names = [c["name"].replace(" ", "_") for c in card["classes"]]
        val_f, val_log = write_logs_header(os.path.join(out, "val_log.csv"),
                                           ["step", "exit", "miou"] + [f"iou_{n}" for n in names], start + 1)

    stop = {"now": False}

    def on_signal(*_):
        stop["now"] = True
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    def save(step):
        if not run.main:
            return
        module = net.module if hasattr(net, "module") else net
        weights.torch_save_atomic({"step": step, "recipe": recipe, "model": module.state_dict(),
                                   "optimizer": opt.state_dict()}, ckpt_path)
        trained = {"trainer": f"add_torch (pytorch {torch.__version__})", "step": step, "steps": args.steps,
                   "complete": step >= args.steps, "images_seen": step * args.batch,
                   "recipe": {k: v for k, v in recipe.items() if k != "card"}, "processes": run.world,
                   "device": str(run.device) + (f" ({torch.cuda.get_device_name()})" if run.device.type == "cuda" else "")}
        weights.save_model(os.path.join(out, "model.safetensors"), module, card, trained)
        log_f.flush()
        val_f.flush()

    def validate(step):
        if not val_pairs or not run.main:
            return
        r = evaluate.evaluate(net, card, val_pairs, run.device, autocast if amp else None)
        for k in range(exits):
            val_log.writerow([step, k, f"{r['miou'][k]:.2f}"] + [f"{v:.2f}" for v in r["iou"][k]])
        val_f.flush()
        run.log(f"step {step}: val mIoU per exit " + " / ".join(f"{m:.2f}" for m in r["miou"]))

    net.train()
    t0 = time.perf_counter()
    t_prev = time.perf_counter()
    step = start
    for images, labels, factors in loader:
        if stop["now"]:
            break
        t_data = time.perf_counter() - t_prev
        images = images.to(run.device, non_blocking=True)
        labels = labels.to(run.device, non_blocking=True)
        x = data.normalise(data.color_jitter(images, factors), card)
        if run.device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        lr = poly_lr(args.lr, step, args.steps)
        for g in opt.param_groups:
            g["lr"] = lr
        ts = time.perf_counter()
        with autocast():
            outs = model_fn(x)
        loss, per_exit = multi_exit_loss(outs, labels, class_weights)
        t_fwd = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t_bwd = time.perf_counter()
        opt.step()
        values = torch.stack([loss.detach()] + [l.detach() for l in per_exit]).float().cpu().tolist()
        t_all = time.perf_counter()
        if not all(v == v and abs(v) != float("inf") for v in values):
            raise SystemExit(f"loss became {values[0]} at step {step}: lower --lr")
        if run.main:
            dt = t_all - t_prev
            log.writerow([step] + [f"{v:.5f}" for v in values] +
                         [f"{lr:.6f}", f"{args.batch / max(dt, 1e-9):.3f}", f"{t_data:.3f}", f"{t_fwd - ts:.3f}",
                          f"{t_bwd - t_fwd:.3f}", f"{t_all - t_bwd:.3f}", f"{time.perf_counter() - t0:.3f}"])
            if step % args.print_every == 0:
                run.log(f"step {step}/{args.steps} loss {values[0]:.4f} lr {lr:.4f} {args.batch / max(dt, 1e-9):.1f} img/s")
        done = step + 1
        if done % args.checkpoint_every == 0 or done == args.steps:
            save(done)
        if args.eval_every and (done % args.eval_every == 0 or done == args.steps):
            validate(done)
        t_prev = time.perf_counter()
        step = done
    if stop["now"] or (args.until is not None and step < args.steps):
        save(step)
        run.log(f"{'interrupted' if stop['now'] else 'paused'}: checkpoint at step {step} saved; --resume continues")
    else:
        run.log(f"done: {os.path.join(out, 'model.safetensors')} ({step} steps)")
    if run.main:
        log_f.close()
        val_f.close()
    run.close()
