"""The FRL authors' PreAct-ResNet18 and their hot_start.pt (issue 25): a state_dict in the layout of
hannxu123/fair_robust's ``pre_resnet.py`` loads into ``--model preact_resnet18_authors`` and computes the
same function; ``frl train --init FILE`` and ``frl audit FILE --model ...`` take such a file.

``_ReferencePreActResNet18`` is written here from the reference's description (layer names ``layer1`` ..
``layer4``, a one-layer ``nn.Sequential`` shortcut, no BatchNorm + ReLU after the last block,
``avg_pool2d(out, 4)``), so the test checks our module against the reference's structure, not against
itself.
"""

import json

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from fake_datasets import write_cifar10
from frl.cli import main


class _ReferenceBlock(nn.Module):
    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride, bias=False))

    def forward(self, x):
        out = F.relu(self.bn1(x))
        short = self.shortcut(out) if hasattr(self, "shortcut") else x
        return self.conv2(F.relu(self.bn2(self.conv1(out)))) + short


class _ReferencePreActResNet18(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        planes_in = 64
        for i, (planes, stride) in enumerate(((64, 1), (128, 2), (256, 2), (512, 2)), start=1):
            setattr(self, f"layer{i}", nn.Sequential(_ReferenceBlock(planes_in, planes, stride),
                                                     _ReferenceBlock(planes, planes, 1)))
            planes_in = planes
        self.linear = nn.Linear(512, 10)

    def forward(self, x):
        out = self.layer4(self.layer3(self.layer2(self.layer1(self.conv1(x)))))
        return self.linear(F.avg_pool2d(out, 4).flatten(1))


def _reference(seed=0):
    torch.manual_seed(seed)
    net = _ReferencePreActResNet18()
    for m in net.modules():  # BatchNorm statistics away from (0, 1), so that a mismatched BN shows
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return net.eval()


@pytest.mark.parametrize("prefix", ["", "module."])  # as saved bare, or from nn.DataParallel
def test_the_authors_state_dict_loads_into_preact_resnet18_authors_and_computes_the_same_logits(prefix):
    from deep.foreign_weights import to_our_names
    from deep.models import build_model

    ref = _reference()
    state = {prefix + k: v for k, v in ref.state_dict().items()}
    ours = build_model("preact_resnet18_authors").eval()
    ours.load_state_dict(to_our_names(state, ours))  # strict: every name of both sides is used
    x = torch.rand(6, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(ours(x), ref(x), atol=1e-5, rtol=1e-5)
    # the authors' network lacks the final BN: it does not fit the standard PreAct-ResNet18
    with pytest.raises(RuntimeError, match="bn"):
        std = build_model("preact_resnet18")
        std.load_state_dict(to_our_names(state, std))


def test_our_own_names_pass_through_unchanged():
    from deep.foreign_weights import to_our_names
    from deep.models import build_model

    net = build_model("preact_resnet18_authors", mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    state = net.state_dict()
    assert to_our_names(state, net).keys() == state.keys()
    bare = {k: v for k, v in state.items() if not k.startswith("normalize.")}
    assert to_our_names(bare, net).keys() == state.keys()  # normalisation constants come from the module


@pytest.fixture(scope="module")
def hot_start(tmp_path_factory):
    root = tmp_path_factory.mktemp("authors")
    write_cifar10(root / "data", n_per_batch=20, n_test=20)
    torch.save(_reference().state_dict(), root / "hot_start.pt")
    return root / "hot_start.pt", root / "data"


def test_frl_fine_tunes_from_the_authors_hot_start_and_audit_scores_it(hot_start, tmp_path, capsys):
    path, data = hot_start
    tiny = ["--dataset", "cifar10", "--data-dir", str(data), "--attack-steps", "1", "--eval-steps", "1",
            "--val-per-class", "1", "--batch-size", "25", "--test-every", "0"]
    out = tmp_path / "frl"
    assert main(["train", "--method", "frl_reweight_remargin", "--frl-variant", "authors", "--model",
                 "preact_resnet18_authors", "--init", str(path), "--val-split", "tail", "--epochs", "1",
                 *tiny, "--out", str(out)]) == 0
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model"] == "preact_resnet18_authors" and cfg["init"] == str(path) and cfg["tau1"] == 0.07

    # the start itself, audited from the file with its architecture named
    a = tmp_path / "audit"
    assert main(["audit", str(path), "--model", "preact_resnet18_authors", "--data-dir", str(data), "--steps", "1",
                 "--limit", "10", "--out", str(a)]) == 0
    res = json.loads((a / "eval.json").read_text())
    assert res["audited"]["model"] == "preact_resnet18_authors" and res["subset"]["limit"] == 10
    ref, x = _reference(), torch.load(path)
    assert all(torch.equal(ref.state_dict()[k], v) for k, v in x.items())

    # the standard PreAct-ResNet18 refuses it, in one line that names the architecture that fits
    capsys.readouterr()
    assert main(["train", "--method", "frl_reweight_remargin", "--model", "preact_resnet18", "--init", str(path),
                 "--epochs", "1", *tiny, "--out", str(tmp_path / "no")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "preact_resnet18_authors" in err and not (tmp_path / "no").exists()
