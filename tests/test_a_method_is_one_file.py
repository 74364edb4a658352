"""A new method is one file: registered from this test file, it gets its flag, its TOML key, its validation
and its checkpointed state with nothing else edited (issue 28)."""

import json

import pytest
import torch
from conftest import StopTraining, stop_after_first_epoch
import torch.nn.functional as F

from deep import methods
from deep.config import TrainConfig
from deep.errors import ConfigError
from deep.methods.base import _REGISTRY, Method, register, weighted_mean
from deep.run_dir import RunDir
from deep.runs import train_run
from deep.settings import GT0, Setting
from frl.cli import main


class ScaledCE(Method):
    """Natural training whose loss is ``scale_ce`` times the cross-entropy, counting the batches it saw."""

    name = "test_scaled_ce"
    declares = (Setting("scale_ce", 1.0, "test_scaled_ce: factor of the cross-entropy (default 1)", "number",
                        check=GT0),)
    settings = ("scale_ce",)

    @classmethod
    def from_config(cls, cfg, num_classes, attack):
        return cls(num_classes, cfg.eps, attack, scale=cfg.scale_ce)

    def __init__(self, num_classes, eps=0.0, attack=None, scale=1.0):
        super().__init__(num_classes, eps, attack)
        self.scale, self.batches = float(scale), torch.tensor(0)

    def loss(self, model, x, y):
        self.batches += 1
        return self.scale * weighted_mean(F.cross_entropy(model(x), y, reduction="none"), self.sample_weights(y))

    def state_dict(self):
        return {**super().state_dict(), "batches": self.batches.clone()}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.batches = state["batches"].clone()


@pytest.fixture
def scaled_ce(monkeypatch):
    monkeypatch.setattr("deep.methods.base._REGISTRY", dict(_REGISTRY))  # unregistered again after the test
    return register(ScaledCE)


TRAIN = ["train", "--method", "test_scaled_ce", "--epochs", "1", "--batch-size", "64", "--val-per-class", "5",
         "--test-every", "0", "--eval-steps", "1", "--no-progress"]


def test_a_method_registered_from_a_test_file_gets_its_flag_toml_key_check_and_state(scaled_ce, tmp_path, capsys):
    assert "test_scaled_ce" in methods.names() and methods.get("test_scaled_ce") is ScaledCE
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "--scale-ce SCALE_CE" in capsys.readouterr().out
    # the TOML key, with numbers as users write them
    assert TrainConfig.from_mapping({"method": "test_scaled_ce", "scale_ce": "1/2"}).scale_ce == 0.5
    assert TrainConfig(method="pgd_at").scale_ce == 1.0  # a setting every config holds, as any method's
    with pytest.raises(ConfigError, match="scale_ce == -1, must be > 0"):
        TrainConfig(method="test_scaled_ce", scale_ce=-1)
    # the flag, its check as one line, and no run directory made
    assert main([*TRAIN, "--scale-ce", "-1", "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "scale_ce == -1, must be > 0" in err and not (tmp_path / "bad").exists()
    # trained with it: config.json records it, the checkpoint holds the method's state, and a run cut after
    # its first epoch resumes to exactly the uninterrupted run
    args = [*TRAIN[:3], "--epochs", "2", *TRAIN[5:], "--scale-ce", "2"]
    assert main([*args, "--out", str(tmp_path / "whole")]) == 0
    assert json.loads((tmp_path / "whole" / "config.json").read_text())["scale_ce"] == 2.0
    whole = RunDir(tmp_path / "whole").load_checkpoint()["method"]
    cfg = dict(method="test_scaled_ce", epochs=2, batch_size=64, val_per_class=5, test_every=0, eval_steps=1,
               progress=False, scale_ce=2.0, out=str(tmp_path / "cut"))
    with pytest.raises(StopTraining):
        train_run(TrainConfig(**cfg), log=stop_after_first_epoch)
    first = int(RunDir(tmp_path / "cut").load_checkpoint()["method"]["batches"])
    assert main([*args, "--out", str(tmp_path / "cut"), "--resume"]) == 0
    cut = RunDir(tmp_path / "cut").load_checkpoint()["method"]
    assert int(whole["batches"]) == int(cut["batches"]) == 2 * first > 0
    assert all(torch.equal(whole[k], cut[k]) for k in whole)
    # a resume with another value is refused, naming it
    assert main([*args[:-1], "3", "--out", str(tmp_path / "cut"), "--resume"]) == 2
    assert "scale_ce: saved 2.0, now 3.0" in capsys.readouterr().err
