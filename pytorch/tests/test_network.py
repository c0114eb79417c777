"""Our PyTorch definition against the unmodified reference's logits on committed checkpoints
(tests/fixtures/reference, made by scripts/make_parity_fixtures.py): the same networks `add`
matches to 1e-6, so the trainer trains what the app runs."""

import os

import pytest
import torch
from safetensors.torch import load_file

from conftest import FIXTURES
from add_torch import network, weights


@pytest.mark.parametrize("name", ["add2", "add3_reduce", "add4", "autodeeplab", "dense3", "ops_mix"])
def test_every_exit_matches_the_reference(name):
    ckpt = torch.load(os.path.join(FIXTURES, f"{name}.pth"), map_location="cpu", weights_only=False)
    state = {k.removeprefix("module."): v for k, v in ckpt["state_dict"].items()}
    net = network.AddNet(weights.load_card(os.path.join(FIXTURES, f"{name}.json")))
    missing, unexpected = net.load_state_dict(state, strict=False)
    assert not unexpected, unexpected
    assert all(k.startswith("edm") for k in missing), missing  # add2's decision maker is a file of its own
    io = load_file(os.path.join(FIXTURES, f"{name}_io.safetensors"))
    net.eval()
    with torch.no_grad():
        outs = net(io["input"])
    expected = [io[k] for k in sorted(k for k in io if k.startswith("exit"))]
    assert len(outs) == len(expected)
    for k, (o, e) in enumerate(zip(outs, expected)):
        err = float((o - e).norm() / e.norm())
        assert err <= 1e-4, f"{name} exit {k}: relative L2 error {err}"
    # answering at an exit runs only its cells and gives the same logits
    with torch.no_grad():
        first = net(io["input"], answer_at=0)
    assert len(first) == 1 and torch.equal(first[0], outs[0])
