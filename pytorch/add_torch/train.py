"""Training a card with PyTorch: one process per GPU under `torchrun` (DistributedDataParallel,
SyncBatchNorm), or a single process on one GPU or the CPU.

GPU speed: bf16 autocast (weights, BatchNorm statistics and the loss stay f32), channels_last,
cudnn.benchmark, optionally torch.compile. The recipe is the reference's: SGD with Nesterov
momentum 0.9, weight decay 4e-5, poly learning rate, class weights 1 / ln(1.02 + frequency),
every exit's cross-entropy averaged. Ours, recorded in the recipe when used: the extendable
`wsd` schedule with decays branched off it and forks (schedule.py), exit weights and
self-distillation (loss.py), the low-level branch dropped in training (LowLevelDropout).

The run folder holds `checkpoint.pt` (weights, optimiser, step, schedule: `--resume` continues
exactly, the batches depend only on seed and step), `model.safetensors` (our file, card
embedded, what `add` opens; its provenance records the step, schedule and recipe) beside
`model.optimizer.safetensors` (the momentum buffers: with the model file, all a run needs to continue
exactly on another machine, `--resume-from-model`), `train_log.csv` (the columns `add train`
writes), `val_log.csv` (mIoU and per-class IoU of every exit on held-out images, every
`--eval-every` steps) and, with `--track-shared`, `shared_log.csv`: every exit's mIoU with the
ASPP's output zeroed (what the shared decoder answers from the low-level branch alone) and with
the low-level branch zeroed (what the exit's own cells give)."""

import csv
import json
import os
import signal
import time

import torch
import torch.distributed as dist

from . import data, evaluate, network, schedule, sync_bn, weights
from .loss import exit_weight_list, multi_exit_loss

RECIPE_KEYS = ("card", "steps", "batch", "crop", "scale", "lr", "momentum", "nesterov", "weight_decay",
               "class_weights", "seed", "jitter", "schedule", "warmup", "exit_weights", "distill",
               "distill_temperature", "low_level_dropout")
# what a decay branch must share with the stable run it leaves (crop and batch may change: the
# stable phase can train on small crops and the decay on full-size ones)
BRANCH_KEYS = ("card", "lr", "momentum", "nesterov", "weight_decay", "class_weights", "seed", "schedule",
               "warmup")
LOSS_KEYS = ("exit_weights", "distill", "distill_temperature", "low_level_dropout")
# a stable wsd run is extended by asking for more steps: its total is no part of its recipe
EXTENDABLE = {"steps"}


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
    r = {"card": card, "steps": args.steps, "batch": args.batch, "crop": list(args.crop),
         "scale": list(args.scale), "lr": args.lr, "momentum": 0.9, "nesterov": not args.no_nesterov,
         "weight_decay": args.weight_decay, "class_weights": not args.no_class_weights,
         "seed": args.seed, "jitter": args.jitter}
    # ours, only when used, so that the reference recipe's checkpoints keep resuming
    if args.schedule != "poly":
        r.update(schedule=args.schedule, warmup=args.warmup)
    if args.exit_weights:
        r["exit_weights"] = exit_weight_list(args.exit_weights, len(card["exits"]) + 1)
    if args.distill > 0:
        r.update(distill=args.distill, distill_temperature=args.distill_temperature)
    if args.low_level_dropout > 0:
        if not 0 < args.low_level_dropout < 1:
            raise SystemExit(f"--low-level-dropout {args.low_level_dropout}: must be in (0, 1)")
        r["low_level_dropout"] = args.low_level_dropout
    return r


def recipe_diff(old, new, keys):
    ignore = EXTENDABLE if new.get("schedule") == "wsd" else set()
    return [k for k in keys if k not in ignore and old.get(k) != new.get(k)]


def optimizer_path(model_path):
    """The momentum buffers' file beside a model file: add.safetensors -> add.optimizer.safetensors."""
    stem = model_path[: -len(".safetensors")] if model_path.endswith(".safetensors") else model_path
    return stem + ".optimizer.safetensors"


def momentum_tensors(module, opt):
    names = {id(p): n for n, p in module.named_parameters()}
    out = {}
    for g in opt.param_groups:
        for p in g["params"]:
            buf = opt.state.get(p, {}).get("momentum_buffer")
            if buf is not None and id(p) in names:
                out[names[id(p)]] = buf.detach().to("cpu", torch.float32).contiguous()
    return out


def save_momentum(path, module, opt, step):
    """The momentum buffers by parameter name, with the step they belong to (checked on load:
    a model file and a momentum file from different steps are refused)."""
    from safetensors.torch import save_file
    tmp = weights.atomic_path(path)
    save_file(momentum_tensors(module, opt), tmp, metadata={"step": str(step)})
    weights.make_readable(tmp)
    os.replace(tmp, path)


def logged_compute(path, below):
    """Seconds of training (data, forward, backward, update) summed over the steps below `below`
    of a train log (a run folder's `train_log.csv`, or the one saved beside a model file): the
    compute of a checkpoint written before the trainer recorded its own."""
    if os.path.isdir(path):
        path = os.path.join(path, "train_log.csv")
    if not os.path.exists(path):
        return 0.0
    with open(path) as f:
        rows = [r for r in csv.DictReader(f) if r["step"].isdigit() and int(r["step"]) < below]
    return sum(float(r[k]) for r in rows for k in ("data_s", "forward_s", "backward_s", "update_s"))


def state_from_model(path, recipe):
    """A checkpoint's contents rebuilt from a model file that this trainer wrote (weights, and
    step, schedule and recipe from its provenance) and its momentum file beside it."""
    from safetensors.torch import load_file
    meta = weights.read_header(path).get("__metadata__") or {}
    if weights.TRAINED_KEY not in meta:
        raise SystemExit(f"{path}: no training record ({weights.TRAINED_KEY}): it cannot be continued exactly")
    trained = json.loads(meta[weights.TRAINED_KEY])
    for field in ("step", "schedule", "recipe"):
        if field not in trained:
            raise SystemExit(f"{path}: its training record has no `{field}`: written by an older trainer")
    mom = optimizer_path(path)
    if not os.path.exists(mom):
        raise SystemExit(f"{path}: the momentum buffers ({mom}) are missing: it cannot be continued exactly")
    mom_step = (weights.read_header(mom).get("__metadata__") or {}).get("step")
    if mom_step != str(trained["step"]):
        raise SystemExit(f"{mom}: momentum of step {mom_step}, but {path} is at step {trained['step']}; "
                         f"copy the two from the same checkpoint")
    old = dict(trained["recipe"], card=weights.load_card(path))
    state = {"step": trained["step"], "schedule": trained["schedule"], "recipe": old,
             "model": load_file(path), "momentum": load_file(mom), "class_weights": trained.get("class_weights")}
    if trained.get("compute_s") is not None:
        state["compute_s"] = trained["compute_s"]
    else:  # an older trainer: the train log saved beside the model (campaign.sh save) has the times
        state["compute_s"] = logged_compute(path[: -len(".safetensors")] + ".train_log.csv", trained["step"])
    return state


class LowLevelDropout:
    """Training only: the shared decoder's low-level branch (cell 0's features, shared by every
    exit) zeroed for a random `p` of the images of each batch, the kept ones scaled by 1 / (1 - p),
    so that the decoder must also answer from the exit's own features. The mask of step s depends
    only on (seed, s), so a resumed run draws the same masks. Nothing changes at inference."""

    def __init__(self, module, p, seed):
        self.p, self.seed, self.step = p, seed, 0
        self.handle = module.low_level_conv.register_forward_hook(self)

    def __call__(self, module, _inputs, out):
        if not module.training or self.p <= 0:
            return out
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.step + 7)
        keep = (torch.rand(out.shape[0], generator=g) >= self.p).to(out.dtype).to(out.device)
        return out * (keep / (1 - self.p)).view(-1, 1, 1, 1)


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
    start, state, src = 0, None, None
    sched = schedule.make(args.schedule, args.lr, args.steps, args.warmup)
    if os.path.exists(ckpt_path):
        if not args.resume:
            raise SystemExit(f"{ckpt_path} exists: pass --resume to continue it, or choose another --out")
        state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        where = ckpt_path
    elif args.branch_from or args.fork_from or args.resume_from_model:
        src = args.branch_from or args.fork_from or args.resume_from_model
        if (args.branch_from or args.fork_from) and os.path.isdir(src):
            state = torch.load(os.path.join(src, "checkpoint.pt"), map_location="cpu", weights_only=False)
        else:
            state = state_from_model(src, recipe)
        where = src
    if state is not None:
        new_line = (args.branch_from or args.fork_from) and not os.path.exists(ckpt_path)
        keys = BRANCH_KEYS if new_line else RECIPE_KEYS
        diff = recipe_diff(state["recipe"], recipe, keys)
        if diff:
            raise SystemExit(f"{where}: was started with other settings ({', '.join(diff)}); continue with the same ones")
        start = state["step"]
        if "compute_s" not in state:
            state["compute_s"] = logged_compute(src if new_line and os.path.isdir(src) else out, start)
        sched = state.get("schedule") or schedule.make("poly", args.lr, args.steps)
        parent = {"step": start, "crop": state["recipe"]["crop"], "batch": state["recipe"]["batch"]}
        if args.branch_from and new_line:
            sched = schedule.branch_decay(sched, start, args.decay_steps)
            recipe["branched_from"] = parent
        elif args.fork_from and new_line:
            # a stable run of its own from here on, e.g. with another loss: the study's variants
            # share the steps before the fork
            recipe["forked_from"] = dict(parent, loss={k: state["recipe"][k] for k in LOSS_KEYS if k in state["recipe"]})
        for k in ("branched_from", "forked_from"):
            if k in state["recipe"] and k not in recipe:
                recipe[k] = state["recipe"][k]
    elif args.branch_from is None and args.decay_steps:
        raise SystemExit("--decay-steps needs --branch-from (the stable run to branch the decay off)")
    end = schedule.end_step(sched, args.steps)
    total = end if end is not None else args.steps
    if sched["kind"] == "wsd":
        recipe["steps"] = total
    if end is not None and sched["kind"] == "wsd" and args.steps != end:
        run.log(f"the decay ends at step {end}: training to it (--steps {args.steps} ignored)")
    if args.threads:
        torch.set_num_threads(args.threads)
    pairs = data.cityscapes_pairs(args.data, "train")
    val_pairs = data.cityscapes_pairs(args.data, args.val_split)[: args.eval_images] if args.eval_every else []
    classes = len(card["classes"])
    class_weights = None
    if recipe["class_weights"]:
        cw_path = os.path.join(out, "class_weights.json")
        if os.path.exists(cw_path):
            with open(cw_path) as f:
                cw = json.load(f)["weights"]
        elif state is not None and state.get("class_weights"):
            cw = state["class_weights"]
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
        net.load_state_dict(state["model"], strict="momentum" not in state)
    net = net.to(run.device)
    if run.device.type == "cuda":
        net = net.to(memory_format=torch.channels_last)
    if run.world > 1:
        # PyTorch's SyncBatchNorm is GPU-only; on the CPU (gloo) ours adds the statistics up
        net = torch.nn.SyncBatchNorm.convert_sync_batchnorm(net) if run.device.type == "cuda" else sync_bn.convert(net)
        net = torch.nn.parallel.DistributedDataParallel(net, device_ids=[run.device.index] if run.device.type == "cuda" else None)
    opt = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9, nesterov=recipe["nesterov"],
                          weight_decay=args.weight_decay)
    if state and "optimizer" in state:
        opt.load_state_dict(state["optimizer"])
    elif state:
        named = dict((net.module if hasattr(net, "module") else net).named_parameters())
        unknown = sorted(set(state["momentum"]) - set(named))
        if unknown:
            raise SystemExit(f"momentum buffers for unknown parameters: {unknown[:5]}")
        for n, buf in state["momentum"].items():
            opt.state[named[n]]["momentum_buffer"] = buf.to(run.device).clone()
    dropout = None
    if recipe.get("low_level_dropout"):
        dropout = LowLevelDropout(net.module if hasattr(net, "module") else net, recipe["low_level_dropout"],
                                  args.seed * 31 + run.rank)
    model_fn = torch.compile(net) if args.compile else net
    if args.batch % run.world:
        raise SystemExit(f"--batch {args.batch} is the global batch: it must divide among {run.world} processes")
    sampler = data.StepBatches(len(pairs), args.batch, args.seed, start, total if args.until is None else min(args.until, total), run.rank, run.world)
    views = data.TrainViews(pairs, tuple(args.crop), tuple(args.scale), args.jitter, args.cache, max(1, args.workers))
    loader = torch.utils.data.DataLoader(views, batch_sampler=sampler, num_workers=args.workers,
                                         pin_memory=run.device.type == "cuda", persistent_workers=args.workers > 0,
                                         prefetch_factor=4 if args.workers > 0 else None,
                                         worker_init_fn=_quiet_worker)
    amp = run.device.type == "cuda" and not args.fp32

    def autocast():
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp)

    exits = len(card["exits"]) + 1
    log_f = log = val_f = val_log = shared_f = shared_log = None
    if run.main:
        log_f, log = write_logs_header(os.path.join(out, "train_log.csv"),
                                       ["step", "loss"] + [f"loss_exit{k}" for k in range(exits)] +
                                       ["lr", "images_per_s", "data_s", "forward_s", "backward_s", "update_s", "elapsed_s"],
                                       start)
        names = [c["name"].replace(" ", "_") for c in card["classes"]]
        val_f, val_log = write_logs_header(os.path.join(out, "val_log.csv"),
                                           ["step", "exit", "miou"] + [f"iou_{n}" for n in names], start + 1)
        shared_f, shared_log = (write_logs_header(os.path.join(out, "shared_log.csv"),
                                                  ["step", "exit", "miou", "miou_aspp_zeroed", "miou_low_level_zeroed"],
                                                  start + 1) if args.track_shared else (None, None))

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
                                   "optimizer": opt.state_dict(), "schedule": sched, "compute_s": compute["s"],
                                   "class_weights": class_weights.tolist() if class_weights is not None else None},
                                  ckpt_path)
        seen = step * args.batch
        for k in ("branched_from", "forked_from"):
            if k in recipe:
                b = recipe[k]
                seen = b["step"] * b["batch"] + (step - b["step"]) * args.batch
        trained = {"trainer": f"add_torch (pytorch {torch.__version__})", "step": step,
                   "steps": end if end is not None else args.steps,
                   "complete": end is not None and step >= end, "images_seen": seen,
                   "schedule": sched, "lr_next": schedule.lr_at(sched, step), "compute_s": compute["s"],
                   "recipe": {k: v for k, v in recipe.items() if k != "card"}, "processes": run.world,
                   "class_weights": class_weights.tolist() if class_weights is not None else None,
                   "device": str(run.device) + (f" ({torch.cuda.get_device_name()})" if run.device.type == "cuda" else "")}
        model_path = os.path.join(out, "model.safetensors")
        save_momentum(optimizer_path(model_path), module, opt, step)
        weights.save_model(model_path, module, card, trained)
        log_f.flush()
        val_f.flush()
        if shared_f:
            shared_f.flush()

    def validate(step):
        if not val_pairs or not run.main:
            return
        r = evaluate.evaluate(net, card, val_pairs, run.device, autocast if amp else None)
        for k in range(exits):
            val_log.writerow([step, k, f"{r['miou'][k]:.2f}"] + [f"{v:.2f}" for v in r["iou"][k]])
        val_f.flush()
        run.log(f"step {step}: val mIoU per exit " + " / ".join(f"{m:.2f}" for m in r["miou"]))
        if shared_log:
            few = val_pairs[: args.shared_images]
            full = evaluate.evaluate(net, card, few, run.device, autocast if amp else None)
            no_aspp = evaluate.evaluate(net, card, few, run.device, autocast if amp else None, zero="aspp")
            no_low = evaluate.evaluate(net, card, few, run.device, autocast if amp else None, zero="low_level_conv")
            for k in range(exits):
                shared_log.writerow([step, k] + [f"{x['miou'][k]:.2f}" for x in (full, no_aspp, no_low)])
            shared_f.flush()
            run.log(f"step {step}: ASPP zeroed " + " / ".join(f"{m:.2f}" for m in no_aspp["miou"]) +
                    "; low-level zeroed " + " / ".join(f"{m:.2f}" for m in no_low["miou"]))

    # seconds of training over the whole lineage (a branch inherits its stable run's)
    compute = {"s": float(state.get("compute_s", 0.0)) if state else 0.0}
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
        lr = schedule.lr_at(sched, step)
        for g in opt.param_groups:
            g["lr"] = lr
        ts = time.perf_counter()
        with autocast():
            if dropout:
                dropout.step = step
            outs = model_fn(x)
        loss, per_exit = multi_exit_loss(outs, labels, class_weights, recipe.get("exit_weights"),
                                         recipe.get("distill", 0.0), recipe.get("distill_temperature", 2.0))
        t_fwd = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t_bwd = time.perf_counter()
        opt.step()
        values = torch.stack([loss.detach()] + [l.detach() for l in per_exit]).float()
        if run.world > 1:
            # the logged losses are the global batch's: the mean of every process's share
            dist.all_reduce(values)
            values /= run.world
        values = values.cpu().tolist()
        t_all = time.perf_counter()
        if not all(v == v and abs(v) != float("inf") for v in values):
            raise SystemExit(f"loss became {values[0]} at step {step}: lower --lr")
        compute["s"] += t_all - t_prev
        if run.main:
            dt = t_all - t_prev
            log.writerow([step] + [f"{v:.5f}" for v in values] +
                         [f"{lr:.6f}", f"{args.batch / max(dt, 1e-9):.3f}", f"{t_data:.3f}", f"{t_fwd - ts:.3f}",
                          f"{t_bwd - t_fwd:.3f}", f"{t_all - t_bwd:.3f}", f"{time.perf_counter() - t0:.3f}"])
            if step % args.print_every == 0:
                run.log(f"step {step}/{total} loss {values[0]:.4f} lr {lr:.4f} {args.batch / max(dt, 1e-9):.1f} img/s")
        done = step + 1
        if done % args.checkpoint_every == 0 or done == total:
            save(done)
        if args.eval_every and (done % args.eval_every == 0 or done == total):
            validate(done)
        t_prev = time.perf_counter()
        step = done
    if stop["now"] or (args.until is not None and step < total):
        save(step)
        run.log(f"{'interrupted' if stop['now'] else 'paused'}: checkpoint at step {step} saved; --resume continues")
    else:
        run.log(f"done: {os.path.join(out, 'model.safetensors')} ({step} steps)")
    if run.main:
        log_f.close()
        val_f.close()
        if shared_f:
            shared_f.close()
    run.close()
