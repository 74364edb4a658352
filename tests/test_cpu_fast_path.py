"""The compact CIFAR model and the CPU fast path (deep/fast_path.py): defaults per device and model, the
folded evaluation module, and a run that uses them."""

import copy

import pytest
import torch

from deep.build import build_run
from deep.config import TrainConfig
from deep.fast_path import CPU_DEFAULTS, OFF, FastPath, choose, cpu_has_native_bf16, eval_module
from deep.models import CompactCNN, build_model
from fake_datasets import write_cifar10

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


def test_compact_cnn_has_the_documented_size_and_shape():
    model = build_model("compact_cnn", 10, 3)
    assert isinstance(model, CompactCNN)
    assert sum(p.numel() for p in model.parameters()) == 298_026  # "0.30 M parameters" (docstring, README)
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    assert build_model("compact_cnn", 10, 1)(torch.rand(2, 1, 8, 8)).shape == (2, 10)  # digits: 8 -> 4 -> 2 -> 1


def test_compact_cnn_silu_is_the_same_net_with_silu_in_every_place_of_relu():
    relu, silu = build_model("compact_cnn", 10, 3), build_model("compact_cnn_silu", 10, 3)
    assert {k: v.shape for k, v in relu.state_dict().items()} == {k: v.shape for k, v in silu.state_dict().items()}
    silu.load_state_dict(relu.state_dict())  # one checkpoint format: the weights of one load into the other
    x = torch.randn(4, 3, 32, 32)
    assert not torch.allclose(relu.eval()(x), silu.eval()(x))
    # the same network up to the activation: with x * sigmoid(x) swapped for max(x, 0) it computes ReLU's outputs
    for block in silu.blocks:
        block.act = torch.nn.functional.relu
    silu.stem[2] = torch.nn.ReLU()
    assert torch.equal(relu(x), silu(x))
    with pytest.raises(ValueError, match="activation"):
        CompactCNN(activation="tanh")


def test_defaults_follow_the_measurements_per_device_and_model():
    assert choose(CPU, "compact_cnn", native_bf16=True) == FastPath(bf16=True, channels_last=True, eval_folded=True)
    # a CPU without native bf16 (AVX2 only) emulates it 10-20x slower than fp32: never on there
    assert choose(CPU, "compact_cnn", native_bf16=False) == FastPath(channels_last=True, eval_folded=True)
    assert not choose(CPU, "small_cnn", fast=True, native_bf16=False).bf16
    assert choose(CPU, "compact_cnn").bf16 == cpu_has_native_bf16()
    assert choose(CPU, "compact_cnn_silu", native_bf16=True) == choose(CPU, "compact_cnn", native_bf16=True)
    assert choose(CPU, "small_cnn") == OFF  # measured within noise on digits' batch 16: kept off
    assert choose(CPU, "preact_resnet18") == OFF  # not measured on a CPU
    cuda = choose(CUDA, "small_cnn")
    assert cuda.bf16 and cuda.channels_last and cuda.fused_sgd and cuda.compile
    assert not any(p.compile for p in CPU_DEFAULTS.values())  # compile was slower than eager bf16 on the CPU


def test_switches_force_the_tricks_on_or_off():
    assert choose(CPU, "compact_cnn", fast=False) == OFF
    forced = choose(CPU, "small_cnn", fast=True, native_bf16=True)
    assert forced.bf16 and forced.channels_last and not forced.fused_sgd  # fused SGD is CUDA-only
    assert choose(CPU, "compact_cnn", compile=True).compile and not choose(CUDA, "wrn28_10", compile=False).compile
    assert not choose(CUDA, "small_cnn", fast=False).any


@pytest.mark.parametrize("name", ["compact_cnn", "compact_cnn_silu", "preact_resnet18", "small_cnn"])
def test_the_folded_module_computes_the_plain_module_and_leaves_it_alone(name):
    torch.manual_seed(0)
    channels = 1 if name == "small_cnn" else 3
    model = build_model(name, 10, channels)
    model.train()
    with torch.no_grad():  # BN running statistics away from (0, 1), so that folding has work to do
        for _ in range(3):
            model(torch.rand(16, channels, 32, 32) * 3)
    model.eval()
    before = copy.deepcopy(model.state_dict())
    folded = eval_module(model, FastPath(eval_folded=True))
    x = torch.rand(8, channels, 32, 32)
    assert torch.allclose(folded(x), model(x), atol=1e-4, rtol=1e-4)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert eval_module(model, OFF) is model
    if name != "small_cnn":  # BatchNorm folded away where a convolution feeds it
        n_bn = sum(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
        assert n_bn < sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())


def test_a_compact_cnn_run_on_cpu_takes_its_fast_path(tmp_path):
    write_cifar10(tmp_path / "data", n_per_batch=20, n_test=8)
    cfg = TrainConfig(dataset="cifar10", data_dir=str(tmp_path / "data"), model="compact_cnn", method="pgd_at",
                      epochs=1, batch_size=8, val_per_class=1, attack_steps=1, eval_steps=1, out=str(tmp_path / "r"))
    run = build_run(cfg)
    assert run.speed == choose(CPU, "compact_cnn") and run.speed.channels_last and run.speed.eval_folded
    assert run.model.stem[0].weight.is_contiguous(memory_format=torch.channels_last)
    x, _ = next(iter(run.loaders["train"]))
    assert x.is_contiguous(memory_format=torch.channels_last) and x.dtype == torch.float32
    plain = build_run(TrainConfig(**{**cfg.to_dict(), "fast": False}))
    assert plain.speed == OFF and not next(iter(plain.loaders["train"]))[0].is_contiguous(
        memory_format=torch.channels_last)


@pytest.mark.parametrize("model", ["compact_cnn", "compact_cnn_silu"])
def test_bf16_training_resumes_exactly_where_the_cpu_has_native_bf16(model, tmp_path, monkeypatch):
    """The bf16 branch of the fast path (AVX-512 BF16 / AMX machines), exercised on any CPU: emulated
    bf16 is slow but exact, so a tiny compact_cnn run (either activation) must resume to the
    uninterrupted metrics."""
    from conftest import StopTraining, stop_after_first_epoch
    from deep.run_dir import RunDir
    from deep.runs import train_run
    import deep.fast_path

    monkeypatch.setattr(deep.fast_path, "cpu_has_native_bf16", lambda: True)
    write_cifar10(tmp_path / "data", n_per_batch=8, n_test=4)
    tiny = dict(dataset="cifar10", data_dir=str(tmp_path / "data"), model=model, method="pgd_at",
                attack_steps=1, eval_steps=1, val_per_class=0, test_every=0, batch_size=20, seed=1, progress=False,
                epochs=2)

    def metrics(out):
        return [{k: v for k, v in r.items() if k not in ("epoch_time", "images_per_s")}
                for r in RunDir(out).read_metrics()]

    train_run(TrainConfig(**tiny, out=str(tmp_path / "whole")), log=lambda m: None)
    with pytest.raises(StopTraining):
        train_run(TrainConfig(**tiny, out=str(tmp_path / "cut")), log=stop_after_first_epoch)
    train_run(TrainConfig(**tiny, out=str(tmp_path / "cut"), resume=True), log=lambda m: None)
    whole = metrics(tmp_path / "whole")
    assert whole[0]["fast_path"] == ["bf16", "channels_last", "eval_folded"]
    assert metrics(tmp_path / "cut") == whole
