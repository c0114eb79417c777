"""The trainer run as a user runs it: exact resume, Ctrl-C, data-loading workers, `eval`, and
two processes under torchrun (gloo on the CPU) against one process with the same global batch."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from conftest import PYTORCH, run_trainer, train_args
from add_torch import weights


def max_difference(a, b):
    a, b = load_file(a), load_file(b)
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def losses(run):
    with open(os.path.join(run, "train_log.csv")) as f:
        rows = [r.split(",") for r in f.read().splitlines()[1:]]
    return [float(r[1]) for r in rows]


def test_a_paused_run_resumes_exactly(card_path, data, tmp_path):
    straight, paused = tmp_path / "straight", tmp_path / "paused"
    run_trainer(train_args(card_path, data, straight, 4))
    out = run_trainer(train_args(card_path, data, paused, 4, "--until", "2")).stdout
    assert "paused: checkpoint at step 2" in out
    run_trainer(train_args(card_path, data, paused, 4, "--resume"))
    assert max_difference(straight / "model.safetensors", paused / "model.safetensors") == 0.0
    assert losses(straight) == losses(paused)
    first = tmp_path / "first"
    run_trainer(train_args(card_path, data, first, 4, "--until", "0"))
    assert max_difference(first / "model.safetensors", straight / "model.safetensors") > 0.0, "it trained"


def test_a_run_refuses_to_overwrite_or_resume_with_other_settings(card_path, data, tmp_path):
    run = tmp_path / "run"
    run_trainer(train_args(card_path, data, run, 2))
    p = run_trainer(train_args(card_path, data, run, 2), check=False)
    assert p.returncode != 0 and "exists: pass --resume" in p.stderr
    p = run_trainer(train_args(card_path, data, run, 2, "--resume", "--lr", "0.1"), check=False)
    assert p.returncode != 0 and "other settings (lr)" in p.stderr


def test_the_loss_falls_on_a_repeated_batch(card_path, data, tmp_path):
    # one scene, seen over and over: a trainer that learns must fit it
    run = tmp_path / "run"
    run_trainer(train_args(card_path, data, run, 30, "--lr", "0.02", "--jitter", "0"))
    loss = losses(run)
    assert sum(loss[-5:]) / 5 < 0.7 * sum(loss[:5]) / 5, loss


def test_ctrl_c_saves_a_checkpoint_that_resumes(card_path, data, tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "add_torch", *train_args(card_path, data, run, 10000)]
    p = subprocess.Popen(cmd, cwd=PYTORCH, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (run / "model.safetensors").exists():
        time.sleep(0.2)
    assert (run / "model.safetensors").exists(), "no step finished in two minutes"
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert "interrupted: checkpoint at step" in out, out
    step = int(out.split("interrupted: checkpoint at step ")[1].split()[0])
    assert 1 <= step < 10000
    trained = json.loads(weights.read_header(str(run / "model.safetensors"))["__metadata__"][weights.TRAINED_KEY])
    assert trained["step"] == step and not trained["complete"]
    assert torch.load(run / "checkpoint.pt", weights_only=False)["step"] == step
    done = run_trainer(train_args(card_path, data, run, step + 2, "--resume"), check=False)
    assert done.returncode != 0 and "other settings (steps)" in done.stderr, "a poly run's length is its recipe"


def test_data_loading_workers_give_the_same_run(card_path, data, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    run_trainer(train_args(card_path, data, a, 2))
    run_trainer(train_args(card_path, data, b, 2, "--workers", "2"))
    assert max_difference(a / "model.safetensors", b / "model.safetensors") == 0.0


def test_eval_prints_what_evaluate_computes(card_path, data, tmp_path):
    run = tmp_path / "run"
    run_trainer(train_args(card_path, data, run, 3, "--eval-every", "3", "--eval-images", "2"))
    p = run_trainer(["eval", "--model", str(run / "model.safetensors"), "--data", data, "--device", "cpu"])
    r = json.loads(p.stdout)
    assert r["images"] == 2 and len(r["miou"]) == 3 and r["classes"][0] == "road"
    with open(run / "val_log.csv") as f:
        rows = [line.split(",") for line in f.read().splitlines()[1:]]
    assert [round(m, 2) for m in r["miou"]] == [float(row[2]) for row in rows], "val_log at the last step is eval's"


TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
needs_gloo = pytest.mark.skipif(not torch.distributed.is_gloo_available(), reason="this PyTorch has no gloo backend")


@needs_gloo
def test_batchnorm_synchronised_over_two_cpu_processes_is_batchnorm_over_the_whole_batch():
    p = subprocess.run([*TORCHRUN, os.path.join(os.path.dirname(__file__), "sync_bn_check.py")], cwd=PYTORCH,
                       capture_output=True, text=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert p.returncode == 0 and p.stdout.count(": ok") == 2, p.stdout + p.stderr


@needs_gloo
def test_two_processes_under_torchrun_train_as_one_with_the_same_global_batch(card_path, data, tmp_path):
    # unweighted loss and crops inside the images: each process's mean is over as many pixels,
    # so the mean of the two gradients is the global batch's, and the BatchNorms see it whole
    init, one, two = tmp_path / "init", tmp_path / "one", tmp_path / "two"
    common = ("--no-class-weights", "--jitter", "0", "--lr", "0.005")
    run_trainer(train_args(card_path, data, init, 1, *common, "--until", "0"))
    run_trainer(train_args(card_path, data, one, 1, *common))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    p = run_trainer(train_args(card_path, data, two, 1, *common), launcher=TORCHRUN, env=env, timeout=300)
    assert (two / "model.safetensors").exists(), p.stdout + p.stderr
    trained = json.loads(weights.read_header(str(two / "model.safetensors"))["__metadata__"][weights.TRAINED_KEY])
    assert trained["processes"] == 2 and trained["images_seen"] == 4
    # the loss is the whole batch's only if the BatchNorms were synchronised
    first = losses(one)[0], losses(two)[0]
    assert abs(first[0] - first[1]) < 1e-5, first
    # the update: float32's summation order leaves about 2 % (this untrained network amplifies
    # rounding; sync_bn_check.py shows the formula exact in float64); processes that normalise
    # by their own share's statistics are 130 % off
    w0, w1, w2 = (load_file(d / "model.safetensors") for d in (init, one, two))
    keys = [k for k in w0 if not k.endswith(("running_mean", "running_var"))]
    d1 = torch.cat([(w1[k] - w0[k]).flatten() for k in keys])
    d2 = torch.cat([(w2[k] - w0[k]).flatten() for k in keys])
    rel = float((d1 - d2).norm() / d1.norm())
    assert d1.norm() > 0 and rel < 0.1, f"two processes' update differs from one's by {rel:.3f} (relative L2)"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="bf16 autocast is the trainer's GPU path: no GPU here")
def test_bf16_autocast_on_a_gpu_stays_close_to_f32(card_path, data, tmp_path):
    a, b = tmp_path / "bf16", tmp_path / "f32"
    run_trainer(train_args(card_path, data, a, 2, "--jitter", "0") + ["--device", "cuda"])
    run_trainer(train_args(card_path, data, b, 2, "--jitter", "0") + ["--device", "cuda", "--fp32"])
    assert abs(losses(a)[0] - losses(b)[0]) < 0.05


def test_low_level_dropout_zeroes_the_shared_branch_in_training_only(card_path, data, tmp_path):
    from add_torch import network
    from add_torch.train import LowLevelDropout
    from conftest import tiny_card
    net = network.init_weights(network.AddNet(tiny_card()))
    seen = []
    net.decoder.register_forward_pre_hook(lambda _m, args: seen.append(args[1].detach().clone()))
    hook = LowLevelDropout(net, 0.5, seed=1)
    x = torch.randn(16, 3, 48, 96)
    net.train()
    net(x, answer_at=0)
    zeroed = (seen[-1].flatten(1).abs().amax(1) == 0)
    assert 0 < int(zeroed.sum()) < 16, "about half of the images lose the branch"
    kept = seen[-1][~zeroed]
    hook.p = 0.0
    net(x, answer_at=0)
    assert torch.allclose(kept, seen[-1][~zeroed] * 2), "the kept ones are scaled by 1 / (1 - p)"
    hook.p, hook.step = 0.5, 1
    net(x, answer_at=0)
    assert not torch.equal(seen[-1].flatten(1).abs().amax(1) == 0, zeroed), "another step, another mask"
    net.eval()
    with torch.no_grad():
        net(x, answer_at=0)
    assert bool((seen[-1].flatten(1).abs().amax(1) > 0).all()), "never at inference"


def test_a_run_with_low_level_dropout_resumes_exactly(card_path, data, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    run_trainer(train_args(card_path, data, a, 3, "--low-level-dropout", "0.5"))
    run_trainer(train_args(card_path, data, b, 3, "--low-level-dropout", "0.5", "--until", "1"))
    run_trainer(train_args(card_path, data, b, 3, "--low-level-dropout", "0.5", "--resume"))
    assert max_difference(a / "model.safetensors", b / "model.safetensors") == 0.0
    plain = tmp_path / "plain"
    run_trainer(train_args(card_path, data, plain, 3))
    assert max_difference(a / "model.safetensors", plain / "model.safetensors") > 0.0, "the option changes training"


def test_a_fork_continues_a_stable_run_with_another_loss(card_path, data, tmp_path):
    wsd = ("--schedule", "wsd", "--warmup", "1")
    parent, fork = tmp_path / "parent", tmp_path / "fork"
    run_trainer(train_args(card_path, data, parent, 2, *wsd))
    before = load_file(parent / "model.safetensors")
    run_trainer(train_args(card_path, data, fork, 4, *wsd, "--low-level-dropout", "0.5", "--fork-from", str(parent)))
    with open(fork / "train_log.csv") as f:
        assert [r.split(",")[0] for r in f.read().splitlines()[1:]] == ["2", "3"]
    trained = json.loads(weights.read_header(str(fork / "model.safetensors"))["__metadata__"][weights.TRAINED_KEY])
    assert trained["recipe"]["forked_from"] == {"step": 2, "crop": [48, 96], "batch": 4, "loss": {}}
    assert trained["recipe"]["low_level_dropout"] == 0.5 and trained["images_seen"] == 16
    assert trained["compute_s"] > 0 and not trained["complete"]
    after = load_file(parent / "model.safetensors")
    assert all(torch.equal(before[k], after[k]) for k in before), "the parent is left as it was"
    p = run_trainer(train_args(card_path, data, tmp_path / "bad", 4, *wsd, "--lr", "0.1", "--fork-from", str(parent)),
                    check=False)
    assert p.returncode != 0 and "other settings (lr)" in p.stderr
