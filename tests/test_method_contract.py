"""The method plug-in contract, checked for every registered method (adding a method adds its case here)."""

import json
import math

import pytest
from conftest import StopTraining, stop_after_first_epoch
import torch

from deep import methods
from deep.build import build_method
from deep.config import TrainConfig
from deep.errors import ConfigError
from deep.run_dir import RunDir
from deep.runs import train_run

TINY = dict(dataset="digits", model="small_cnn", eps=0.2, attack_steps=1, eval_steps=1, val_per_class=5,
            test_every=0, batch_size=64, seed=1, progress=False)
TIMING = {"epoch_time", "images_per_s"}
FIELDS = TrainConfig.settings()


@pytest.fixture(scope="module")
def starts(tmp_path_factory):
    """PGD-AT starts for the methods that fine-tune, one per model, trained when first asked for."""
    made = {}

    def start(model="small_cnn"):
        if model not in made:
            out = tmp_path_factory.mktemp("start") / f"pgd_at_{model}"
            train_run(TrainConfig(**{**TINY, "model": model}, method="pgd_at", epochs=1, out=str(out)),
                      log=lambda m: None)
            made[model] = str(out)
        return made[model]

    return start


# settings that let a method's controller act within the 2 epochs (DAFA's weights, CFA's calibration)
ACTING = {"dafa": {"dafa_warmup": 1}, "cfa": {"cfa_begin": 1}}


def _config(name, start, out, **extra):
    init = {"init": start} if methods.get(name).finetunes else {}
    return TrainConfig(**{**TINY, **ACTING.get(name, {}), **extra}, method=name, epochs=2, out=str(out), **init)


def _metrics(out):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in RunDir(out).read_metrics()]


# compact_cnn runs its CPU fast path by default (bf16 autocast + channels_last, folded evaluation):
# the contract, exact resume included, holds there too
@pytest.mark.parametrize("model", ["small_cnn", "compact_cnn"])
@pytest.mark.parametrize("name", methods.names())
def test_every_method_trains_resumes_exactly_and_round_trips_its_state(name, model, starts, tmp_path):
    start = starts(model)
    whole = _config(name, start, tmp_path / "whole", model=model)
    train_run(whole, log=lambda m: None)
    cut = _config(name, start, tmp_path / "cut", model=model)
    with pytest.raises(StopTraining):
        train_run(cut, log=stop_after_first_epoch)
    assert [r["epoch"] for r in _metrics(cut.out)] == [0]
    train_run(_config(name, start, tmp_path / "cut", resume=True, model=model), log=lambda m: None)
    reference = _metrics(whole.out)
    assert [(r["epoch"], r["split"]) for r in reference] == [(0, "val"), (1, "val"), (1, "test")]
    assert _metrics(cut.out) == reference  # a resumed run ends with exactly the uninterrupted metrics
    assert all(math.isfinite(r["loss"]) for r in reference)

    ckpt = RunDir(whole.out).load_checkpoint()
    fresh = build_method(whole, ckpt["class_names"])
    fresh.load_state_dict(ckpt["method"])
    assert _same(fresh.state_dict(), ckpt["method"])
    json.dumps(fresh.log())  # the numbers it adds to metrics lines are plain JSON


# The CPU fast path forced on (--fast: bf16 autocast + channels_last in training, folded fp32 evaluation), with
# bf16 exercised on any CPU (emulated where there is no AVX-512 BF16: exact but ~10x slower, hence a tiny
# 16 x 16 ImageFolder set of 10 classes: 50 training, 10 validation, 60 test images). Its tolerance against
# the fp32 run of the same settings, per validation line of the 2 epochs: the training loss within 10 %
# (+ 0.02), the validation robust error within 0.3 (10 images).
FAST_LOSS_REL, FAST_LOSS_ABS, FAST_VAL_ROB = 0.10, 0.02, 0.3


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    """ImageFolder train/ and test/ trees, 6 images of 16 x 16 per class each, and a PGD-AT start on them."""
    from PIL import Image

    from fake_datasets import real_or_random_cifar

    root = tmp_path_factory.mktemp("tiny16")
    x, _ = real_or_random_cifar(120)
    for k in range(120):
        d = root / ("train" if k < 60 else "test") / f"c{k % 10}"
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(x[k]).resize((16, 16)).save(d / f"{k:04d}.png")
    settings = {**TINY, "dataset": "imagefolder", "data_dir": str(root), "val_per_class": 1, "batch_size": 25}
    start = root / "start"
    train_run(TrainConfig(**settings, method="pgd_at", epochs=1, out=str(start)), log=lambda m: None)
    return settings, str(start)


@pytest.mark.parametrize("name", methods.names())
def test_every_method_on_the_fast_path_resumes_exactly_and_stays_near_fp32(name, tiny_folder, tmp_path, monkeypatch):
    import deep.fast_path

    monkeypatch.setattr(deep.fast_path, "cpu_has_native_bf16", lambda: True)
    settings, start = tiny_folder
    init = {"init": start} if methods.get(name).finetunes else {}

    def config(out, **extra):
        return TrainConfig(**{**settings, **ACTING.get(name, {}), **init, **extra}, method=name, epochs=2, out=str(out))

    train_run(config(tmp_path / "fp32", fast=False), log=lambda m: None)
    train_run(config(tmp_path / "whole", fast=True), log=lambda m: None)
    with pytest.raises(StopTraining):
        train_run(config(tmp_path / "cut", fast=True), log=stop_after_first_epoch)
    train_run(config(tmp_path / "cut", fast=True, resume=True), log=lambda m: None)
    fast, plain = _metrics(tmp_path / "whole"), _metrics(tmp_path / "fp32")
    assert fast[0]["fast_path"] == ["bf16", "channels_last", "eval_folded"] and plain[0]["fast_path"] == []
    assert _metrics(tmp_path / "cut") == fast  # exact resume on the fast path
    assert [(r["epoch"], r["split"]) for r in fast] == [(r["epoch"], r["split"]) for r in plain]
    assert any("loss" in a for a in fast)
    for a, b in zip(fast, plain):
        if "loss" in a:
            assert abs(a["loss"] - b["loss"]) <= FAST_LOSS_REL * abs(b["loss"]) + FAST_LOSS_ABS, (a["loss"], b["loss"])
        assert abs(a["avg"]["rob_error"] - b["avg"]["rob_error"]) <= FAST_VAL_ROB, (a["avg"], b["avg"])


def test_the_compiled_fast_path_trains_and_resumes_exactly(tiny_folder, tmp_path, monkeypatch):
    """torch.compile, the CUDA default, compiled once on a CPU for one method (TRADES: attack + KL loss)."""
    import deep.fast_path

    monkeypatch.setattr(deep.fast_path, "cpu_has_native_bf16", lambda: True)
    settings, _ = tiny_folder

    def config(out, **extra):
        return TrainConfig(**{**settings, **extra}, method="trades", epochs=2, fast=True, compile=True, out=str(out))

    train_run(config(tmp_path / "whole"), log=lambda m: None)
    with pytest.raises(StopTraining):
        train_run(config(tmp_path / "cut"), log=stop_after_first_epoch)
    train_run(config(tmp_path / "cut", resume=True), log=lambda m: None)
    whole = _metrics(tmp_path / "whole")
    assert whole[0]["fast_path"] == ["bf16", "channels_last", "compile", "eval_folded"]
    assert _metrics(tmp_path / "cut") == whole and all(math.isfinite(r.get("loss", 0.0)) for r in whole)


def _same(a, b) -> bool:
    """Equal method states: tensors equal (NaN where NaN), dicts key by key (a weight average), None as None."""
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        nan = a.isnan()
        return a.dtype == b.dtype and torch.equal(nan, b.isnan()) and torch.equal(a[~nan], b[~nan])
    return a is None and b is None


@pytest.mark.parametrize("name", methods.names())
def test_every_method_declares_what_it_is(name):
    cls = methods.get(name)
    assert cls.name == name and cls.attack_loss in (None, "ce", "kl")
    assert cls.controller_split in ("val", "train")
    assert set(cls.settings) <= set(FIELDS), "a method's settings are TrainConfig fields"
    cfg = _config(name, "some/run", "unused")
    loss = cls.attack_loss_for(cfg)
    method = build_method(cfg, tuple("0123456789"))
    assert (method.attack is None) == (loss is None)
    if loss is not None:
        assert method.attack.loss == loss and method.attack.random_start == (loss == "ce")


def _bad_value(setting):
    return "bogus" if FIELDS[setting].kind == "choice" else -1


@pytest.mark.parametrize("name,setting", [(n, s) for n in methods.names() for s in methods.get(n).settings])
def test_a_bad_setting_of_a_method_is_a_config_error_naming_it(name, setting):
    with pytest.raises(ConfigError, match=setting):
        _config(name, "some/run", "unused", **{setting: _bad_value(setting)})


@pytest.mark.parametrize("name", methods.names())
def test_a_method_that_attacks_needs_a_radius_and_a_fine_tuning_one_needs_init(name):
    cls = methods.get(name)
    if cls.attack_loss_for(_config(name, "some/run", "unused")) is not None:
        with pytest.raises(ConfigError, match=f"{name} needs eps > 0"):
            _config(name, "some/run", "unused", eps=0.0)
    if cls.finetunes:
        with pytest.raises(ConfigError, match="pass --init"):
            TrainConfig(**TINY, method=name, out="unused")


def test_the_registry_refuses_two_methods_of_one_name():
    from deep.methods.base import register

    class Impostor(methods.Method):
        name = "pgd_at"

    with pytest.raises(RuntimeError, match="two methods are named 'pgd_at'"):
        register(Impostor)
    assert methods.get("pgd_at") is methods.PGDAT
