"""A RobustBench zoo entry as a start and as a model to audit (issue 27), loaded by RobustBench's own loader
from a local file in its layout (DIR/cifar10/Linf/NAME.pt), without network.

The zoo file holds seeded random weights of the real architecture (Wong2020Fast: RobustBench's
PreAct-ResNet18 with its normalisation inside); the data is a tiny CIFAR-10 in the official on-disk
format (real pixels where ../shared/data has them), so that a PreAct-ResNet18 epoch takes seconds on
two CPU cores.
"""

import hashlib
import json
import sys

import pytest
import torch

from conftest import StopTraining, stop_after_first_epoch
from fake_datasets import write_cifar10
from frl.cli import main

try:
    from deep.zoo import _robustbench

    _robustbench()
    HAVE_ROBUSTBENCH = True
except Exception:  # noqa: BLE001 - any failure to import it means: not installed here
    HAVE_ROBUSTBENCH = False

needs_robustbench = pytest.mark.skipif(not HAVE_ROBUSTBENCH, reason="robustbench is not installed (pip install -e '.[zoo]')")
NAME = "Wong2020Fast"
TINY = ["--attack-steps", "1", "--eval-steps", "1", "--val-per-class", "1", "--batch-size", "25", "--test-every", "0"]


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """(zoo dir, data dir, sha256 of the zoo file)."""
    from deep.zoo import zoo_architecture, zoo_file

    root = tmp_path_factory.mktemp("zoo")
    write_cifar10(root / "data", n_per_batch=20, n_test=20)
    torch.manual_seed(0)
    net = zoo_architecture(NAME)
    path = zoo_file(NAME, root / "models")
    path.parent.mkdir(parents=True)
    torch.save(net.state_dict(), path)
    return root / "models", root / "data", hashlib.sha256(path.read_bytes()).hexdigest()


def _train(zoo, out, *extra, method="frl_reweight_remargin", epochs=2):
    models, data, _ = zoo
    return ["train", "--dataset", "cifar10", "--data-dir", str(data), "--method", method, "--init",
            f"robustbench:{NAME}", "--zoo-dir", str(models), "--epochs", str(epochs), *TINY, "--out", str(out), *extra]


@needs_robustbench
def test_a_zoo_start_loads_through_robustbench_fine_tunes_records_and_resumes_exactly(zoo, tmp_path):
    from deep.build import load_init
    from deep.config import TrainConfig
    from deep.models import model_for
    from deep.run_dir import RunDir

    models, data, sha = zoo
    cfg = TrainConfig(dataset="cifar10", data_dir=str(data), method="frl_reweight_remargin",
                      init=f"robustbench:{NAME}", zoo_dir=str(models), out=str(tmp_path / "x"))
    assert cfg.model == f"robustbench:{NAME}"  # the zoo start brings its network
    model = model_for(cfg.model, "cifar10", 10, 3)
    record = load_init(cfg, model)
    saved = torch.load(models / "cifar10" / "Linf" / f"{NAME}.pt")
    assert all(torch.equal(model.state_dict()[k], v) for k, v in saved.items())  # the file's weights, exactly
    assert record["sha256"] == sha and record["threat_model"] == "Linf" and record["zoo"] == "robustbench"

    assert main(_train(zoo, tmp_path / "whole")) == 0
    config = json.loads((tmp_path / "whole" / "config.json").read_text())
    assert config["model"] == f"robustbench:{NAME}" and config["init_zoo"]["sha256"] == sha
    with pytest.raises(StopTraining):
        from deep.runs import train_run

        train_run(TrainConfig.from_mapping({**{k: v for k, v in config.items() if k in TrainConfig.settings()},
                                            "out": str(tmp_path / "cut"), "resume": False}), log=stop_after_first_epoch)
    assert main(_train(zoo, tmp_path / "cut", "--resume")) == 0
    strip = lambda rows: [{k: v for k, v in r.items() if k not in ("epoch_time", "images_per_s")} for r in rows]  # noqa: E731
    assert strip(RunDir(tmp_path / "cut").read_metrics()) == strip(RunDir(tmp_path / "whole").read_metrics())
    # eval rebuilds the network through robustbench's model table
    assert main(["eval", str(tmp_path / "whole"), "--steps", "1"]) == 0
    assert sum(json.loads((tmp_path / "whole" / "eval.json").read_text())["n_per_class"]) == 20


@needs_robustbench
def test_a_method_trained_on_from_a_zoo_model(zoo, tmp_path):
    assert main(_train(zoo, tmp_path / "trades", method="trades", epochs=1)) == 0
    assert json.loads((tmp_path / "trades" / "config.json").read_text())["init_zoo"]["name"] == NAME


@needs_robustbench
def test_audit_of_a_zoo_entry_and_of_its_torchscript_agree_and_compare_reads_them(zoo, tmp_path, capsys):
    from deep.zoo import zoo_architecture

    models, data, sha = zoo
    a = tmp_path / "runs" / "zoo" / "seed_0"
    assert main(["audit", f"robustbench:{NAME}", "--zoo-dir", str(models), "--data-dir", str(data), "--steps", "2",
                 "--limit", "10", "--out", str(a)]) == 0
    res = json.loads((a / "eval.json").read_text())
    assert res["audited"]["sha256"] == sha and res["subset"]["limit"] == 10 and max(res["n_per_class"]) == 1
    assert res["attack"]["steps"] == 2 and (a / "classwise.png").stat().st_size > 1000
    net = zoo_architecture(NAME)
    net.load_state_dict(torch.load(models / "cifar10" / "Linf" / f"{NAME}.pt"))
    script = tmp_path / "wong.ts"
    torch.jit.save(torch.jit.trace(net.eval(), torch.rand(2, 3, 32, 32)), str(script))
    b = tmp_path / "runs" / "torchscript" / "seed_0"
    assert main(["audit", str(script), "--data-dir", str(data), "--steps", "2", "--limit", "10", "--out", str(b)]) == 0
    other = json.loads((b / "eval.json").read_text())
    assert other["audited"]["kind"] == "torchscript"
    for key in ("std_error", "rob_error"):  # one network, one attack seed: the same errors, class by class
        assert other[key] == pytest.approx(res[key], abs=1e-9)
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "runs"), "--base", "zoo", "--out", str(tmp_path / "cmp")]) == 0
    cmp = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert set(cmp["methods"]) == {"zoo", "torchscript"}


@needs_robustbench
@pytest.mark.parametrize("argv,needle", [
    (["--init", "robustbench:Wong2020Fats"], "no such cifar10 Linf model in RobustBench's zoo (did you mean Wong2020Fast?)"),
    (["--init", f"robustbench:{NAME}", "--norm", "l2", "--eps", "0.5"], "no such cifar10 L2 model"),
    (["--init", f"robustbench:{NAME}", "--model", "preact_resnet18"], "a zoo start brings its own network"),
    (["--init", f"robustbench:{NAME}", "--normalize"], "normalise inside already"),
    (["--init", "robustbench:Standard", "--zoo-dir", "{tmp}/empty"], "is missing and this machine has no network"),
])
def test_zoo_mistakes_are_one_line(zoo, tmp_path, capsys, monkeypatch, argv, needle):
    import deep.zoo

    monkeypatch.setattr(deep.zoo, "_online", lambda *a, **k: False)
    models, data, _ = zoo
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    base = ["train", "--dataset", "cifar10", "--data-dir", str(data), "--method", "frl_reweight", "--zoo-dir",
            str(models), *TINY, "--epochs", "1", "--out", str(tmp_path / "r")]
    assert main([*base, *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err, err
    assert not (tmp_path / "r" / "checkpoint.pt").exists()


@needs_robustbench
def test_audit_mistakes_are_one_line(zoo, tmp_path, capsys):
    models, data, _ = zoo
    weights = tmp_path / "w.pt"
    torch.save({"nothing": torch.zeros(1)}, weights)
    for argv, needle in (
        (["audit", "robustbench:Nope", "--zoo-dir", str(models)], "no such cifar10 Linf model"),
        (["audit", str(tmp_path / "none.pt")], "no such file"),
        (["audit", str(weights)], "is not a TorchScript file"),
        (["audit", str(weights), "--model", "preact_resnet18"], "its weights do not fit preact_resnet18"),
        (["audit", f"robustbench:{NAME}", "--dataset", "digits", "--zoo-dir", str(models)], "the zoo has no digits"),
    ):
        assert main([*argv, "--data-dir", str(data), "--out", str(tmp_path / "o")]) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and needle in err, err
    assert not (tmp_path / "o").exists()


def test_without_robustbench_a_zoo_name_is_one_line_naming_the_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "robustbench", None)
    monkeypatch.setitem(sys.modules, "robustbench.utils", None)
    assert main(["audit", "robustbench:Wong2020Fast", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs robustbench" in err and ".[zoo]" in err, err


def test_the_zoo_recipe_trains_every_method_from_the_same_zoo_start_with_one_attack_and_schedule():
    from pathlib import Path

    from deep.pipeline import load_pipeline, stage_config, stages

    cfg = load_pipeline(Path(__file__).resolve().parents[1] / "configs" / "zoo" / "cifar10_wong2020fast.toml")
    parts = stages(cfg)
    cfgs = {p["run"]["name"]: stage_config(p, "runs") for p in parts}
    assert set(cfgs) == {"trades", "frl", "cfa", "wat", "dafa"} and cfg["run"]["compare"] == "trades"
    assert {(c.init, c.model) for c in cfgs.values()} == {(f"robustbench:{NAME}", f"robustbench:{NAME}")}
    assert len({(c.epochs, c.lr, c.batch_size, c.attack_steps, c.attack_step_size, c.eps) for c in cfgs.values()}) == 1
    assert cfgs["dafa"].dafa_warmup < cfgs["dafa"].epochs and cfgs["cfa"].cfa_begin < cfgs["cfa"].epochs
