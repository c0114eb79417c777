"""Our model files: safetensors whose metadata carries the architecture card under
`add_studio.card`, tensor names as the reference `state_dict` (BatchNorm step counters left out,
as `add` writes them). Every write goes to a temporary file that is then renamed, so a crash or
a full disk never leaves a half-written model where a good one was."""

import json
import os
import struct

import torch

CARD_KEY = "add_studio.card"
TRAINED_KEY = "add_studio.trained"


def read_header(path):
    """The safetensors header (JSON) of `path`, with a message naming the file when it is not one."""
    try:
        with open(path, "rb") as f:
            raw = f.read(8)
            if len(raw) < 8:
                raise ValueError("shorter than a safetensors header")
            (n,) = struct.unpack("<Q", raw)
            if n > 100 << 20 or n > os.path.getsize(path) - 8:
                raise ValueError(f"header length {n} does not fit the file")
            return json.loads(f.read(n))
    except (OSError, ValueError) as e:
        raise SystemExit(f"{path}: not a safetensors file: {e}")


def load_card(path):
    """The card in a JSON file, or the one embedded in a safetensors model."""
    if str(path).endswith(".safetensors"):
        meta = read_header(path).get("__metadata__") or {}
        if CARD_KEY not in meta:
            raise SystemExit(f"{path}: no architecture card in its metadata ({CARD_KEY})")
        return json.loads(meta[CARD_KEY])
    try:
        with open(path) as f:
            card = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise SystemExit(f"{path}: cannot read the architecture card: {e}")
    for field in ("kind", "F", "B", "classes", "path", "exits", "genotype", "low_level_cell"):
        if field not in card:
            raise SystemExit(f"{path}: the architecture card has no `{field}`")
    return card


def state_for_file(net):
    """The tensors `add` reads: the state_dict less BatchNorm's step counters, on the CPU, f32."""
    module = net.module if hasattr(net, "module") else net
    return {k: v.detach().to("cpu", torch.float32).contiguous()
            for k, v in module.state_dict().items() if not k.endswith("num_batches_tracked")}


def make_readable(path):
    """Temp files are made private; the finished file gets the usual permissions."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


def atomic_path(path):
    return f"{os.path.join(os.path.dirname(path) or '.', '.' + os.path.basename(path))}.tmp-{os.getpid()}"


def save_model(path, net, card, trained=None):
    """Writes our model file; `trained` (a dict) is stored as provenance under `add_studio.trained`."""
    from safetensors.torch import save_file
    meta = {CARD_KEY: json.dumps(card, separators=(",", ":"))}
    if trained is not None:
        meta[TRAINED_KEY] = json.dumps(trained, separators=(",", ":"))
    tmp = atomic_path(path)
    save_file(state_for_file(net), tmp, metadata=meta)
    make_readable(tmp)
    os.replace(tmp, path)


def torch_save_atomic(obj, path):
    tmp = atomic_path(path)
    torch.save(obj, tmp)
    make_readable(tmp)
    os.replace(tmp, path)


def load_weights(net, path):
    """Loads our model file into `net`; every tensor must match by name and shape."""
    from safetensors.torch import load_file
    state = load_file(path)
    own = net.state_dict()
    own_names = {n for n in own if not n.endswith("num_batches_tracked")}
    missing = sorted(own_names - set(state))
    extra = sorted(set(state) - set(own))
    bad = sorted(n for n in own_names & set(state) if tuple(own[n].shape) != tuple(state[n].shape))
    if missing or extra or bad:
        raise SystemExit(f"{path}: does not fit the card: missing {missing[:5]}, "
                         f"unexpected {extra[:5]}, mis-shaped {bad[:5]}")
    net.load_state_dict(state, strict=False)
    return net
