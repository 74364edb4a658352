"""The method plug-in contract, checked for every registered method (adding a method adds its case here)."""

import json
import math
from dataclasses import fields

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
FIELDS = {f.name: f for f in fields(TrainConfig)}


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
    return "bogus" if FIELDS[setting].metadata["kind"] == "choice" else -1


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
