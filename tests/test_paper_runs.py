"""Paper configs (Tables 2, 3, 7, 8), ``frl run``, the table renderer, and the Figure 3 ablation."""

import json
import tomllib
from pathlib import Path

import pytest

from figures.results import paper_numbers
from frl.cli import main
from deep.errors import ConfigError
from deep.pipeline import load_pipeline, stage_config, stages

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs" / "paper"
TINY = ["--eval-steps", "2", "--attack-steps", "2", "--val-per-class", "10"]


@pytest.mark.parametrize("table", ["table2", "table3", "table7", "table8"])
def test_every_row_has_a_config_with_the_papers_hyperparameters(table):
    spec = paper_numbers()["tables"][table]
    files = {p.stem: tomllib.loads(p.read_text()) for p in (CONFIGS / table).glob("*.toml")}
    assert set(files) == {r["run"] for r in spec["rows"]}
    for name, cfg in files.items():
        t = cfg["train"]
        assert (t["dataset"], t["model"], t["eps"]) == (spec["dataset"], spec["model"], "8/255")
        if name.startswith("frl") or name == "baseline_reweight":
            assert t["init"] == "pgd_at" and t["lr"] == 0.001 and t["lr_step_every"] == 40
            assert t["alpha1"] == t["alpha2"] == 0.05
        if name.startswith("frl"):
            assert t["tau1"] == t["tau2"] == float(name.rsplit("_", 1)[1])
        if name.startswith("trades"):
            assert t["beta"] == float(name.split("_")[1]) and t["epochs"] == 200
        # every key is a real setting with a valid value: the config builds (and validates)
        built = stage_config(cfg, "runs")
        assert built.eps == pytest.approx(8 / 255) and built.out == str(Path("runs") / table / cfg["run"]["name"])


def test_paper_numbers_file_matches_the_issue():
    t2 = {r["run"]: r["values"] for r in paper_numbers()["tables"]["table2"]["rows"]}
    assert t2["pgd_at"] == [15.5, 33.8, 40.9, 55.9, 56.4, 82.7]
    assert t2["frl_reweight_remargin_0.05"] == [17.0, 26.8, 35.7, 44.5, 52.7, 69.5]
    assert paper_numbers()["tables"]["table4"]["rob_error"]["pgd_at"][3] == 82.7  # cat


def _digits_configs(tmp_path):
    group = tmp_path / "cfg"
    group.mkdir()
    (group / "pgd_at.toml").write_text('[run]\nname = "pgd_at"\ntable = "table2"\n[train]\ndataset = "digits"\n'
                                       'method = "pgd_at"\nepochs = 2\neps = "1/5"\neval_steps = 2\n'
                                       'attack_steps = 2\nval_per_class = 10\n')
    (group / "frl.toml").write_text('[run]\nname = "frl_reweight_remargin_0.05"\ntable = "table2"\n[train]\n'
                                    'dataset = "digits"\nmethod = "frl_reweight_remargin"\ninit = "pgd_at"\n'
                                    'epochs = 1\neps = "1/5"\nlr = 0.001\ntau1 = 0.05\ntau2 = 0.05\n'
                                    'eval_steps = 2\nattack_steps = 2\nval_per_class = 10\n')
    return group


def test_frl_run_trains_evaluates_and_the_table_renders(tmp_path, capsys):
    group = _digits_configs(tmp_path)
    runs = tmp_path / "runs"
    assert main(["run", str(group / "frl.toml"), "--runs", str(runs)]) == 2
    assert "starts from run 'pgd_at', which is missing" in capsys.readouterr().err
    assert main(["run", str(group / "pgd_at.toml"), "--runs", str(runs)]) == 0
    assert main(["run", str(group / "frl.toml"), "--runs", str(runs)]) == 0
    ev = json.loads((runs / "table2" / "frl_reweight_remargin_0.05" / "eval.json").read_text())
    assert ev["attack"]["steps"] == 20
    # rerunning resumes: nothing is retrained, the run is complete
    assert main(["run", str(group / "pgd_at.toml"), "--runs", str(runs)]) == 0
    out = tmp_path / "figs"
    assert main(["figures", "table2", "--runs", str(runs), "--out", str(out)]) == 0
    res = json.loads((out / "table2.json").read_text())
    rows = {r["run"]: r for r in res["rows"]}
    assert rows["pgd_at"]["paper"] == [15.5, 33.8, 40.9, 55.9, 56.4, 82.7]
    assert rows["pgd_at"]["ours"][0] == pytest.approx(100 * ev_avg_std(runs / "table2" / "pgd_at"))
    assert rows["trades_1"]["ours"] is None and "trades_1" in res["missing"]
    md = (out / "table2.md").read_text()
    assert "| PGD Adv. Training | 15.5 / " in md and "— " not in md.split("PGD Adv. Training")[1].split("\n")[0]
    assert (out / "table2.png").stat().st_size > 1000


def ev_avg_std(run_dir):
    return json.loads((run_dir / "eval.json").read_text())["avg"]["std_error"]


def test_bad_config_input(tmp_path, capsys):
    assert main(["run", str(tmp_path / "none.toml")]) == 2
    assert "no config file" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("[run\n")
    assert main(["run", str(bad)]) == 2
    assert "not valid TOML" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_pipeline(bad)
    typo = tmp_path / "typo.toml"
    typo.write_text('[run]\nname = "x"\n[train]\nmethod = "pgd_at"\nlr_setp_every = 4\n')
    assert main(["run", str(typo), "--runs", str(tmp_path / "runs")]) == 2
    assert "unknown setting 'lr_setp_every'" in capsys.readouterr().err


def test_fig3_ablation_on_digits_and_its_figure(tmp_path, capsys):
    pre = tmp_path / "pre"
    assert main(["train", "--dataset", "digits", "--method", "pgd_at", "--epochs", "2", "--out", str(pre), *TINY]) == 0
    out = tmp_path / "abl"
    # no --dataset: the --init run's config.json says digits
    assert main(["ablation", "fig3", "--class", "8", "--init", str(pre), "--out", str(out),
                 "--epochs", "1", "--weights", "1,3", "--margins", "1,2", *[f"--train-arg={a}" for a in TINY]]) == 0
    assert not (out / "margin_1").exists()  # factor 1 of both groups is one run, weight_1, trained once
    cfg = json.loads((out / "margin_2" / "config.json").read_text())
    assert cfg["class_eps"] == {"8": 2.0} and cfg["method"] == "trades"
    assert json.loads((out / "weight_3" / "config.json").read_text())["class_bndy_weight"] == {"8": 3.0}
    figs = tmp_path / "figs"
    assert main(["figures", "fig3", "--runs", str(out), "--out", str(figs)]) == 0
    res = json.loads((figs / "fig3.json").read_text())
    assert [p["factor"] for p in res["weight"]] == [1.0, 3.0] and res["class"] == "8"
    assert [p["factor"] for p in res["margin"]] == [1.0, 2.0] and res["margin"][0] == {**res["weight"][0]}
    assert main(["figures", "fig3", "--runs", str(tmp_path / "nothing"), "--out", str(figs)]) == 2
    assert "frl ablation fig3" in capsys.readouterr().err


def test_staged_pipeline_config_runs_stages_in_order_with_the_fast_path(tmp_path):
    """A [[stage]] pipeline (the shape of configs/fast/): PGD-AT then FRL from it, a summary per stage.
    ``fast = true`` exercises the fast path on CPU (bf16 autocast, channels_last)."""
    cfg = tmp_path / "fast.toml"
    stage = ('dataset = "digits"\neps = "1/5"\neval_steps = 2\nattack_steps = 2\nval_per_class = 10\n'
             'test_every = 0\nfast = true\n')
    cfg.write_text('[run]\nname = "pipe"\ntable = "fast"\n'
                   f'[[stage]]\nname = "pgd_at"\n[stage.train]\nmethod = "pgd_at"\nepochs = 2\n{stage}'
                   f'[[stage]]\nname = "frl"\n[stage.train]\nmethod = "frl_reweight_remargin"\ninit = "pgd_at"\n'
                   f'epochs = 1\nlr = 0.001\n{stage}')
    runs = tmp_path / "runs"
    assert main(["run", str(cfg), "--runs", str(runs)]) == 0
    summary = json.loads((runs / "fast" / "pipe" / "summary.json").read_text())
    assert list(summary) == ["pgd_at", "frl"]
    md = (runs / "fast" / "pipe" / "summary.md").read_text()
    assert "pgd_at" in md and "frl" in md and f"{100 * summary['frl']['avg_rob']:.1f}" in md
    frl_cfg = json.loads((runs / "fast" / "pipe" / "frl" / "config.json").read_text())
    assert frl_cfg["init"] == str(runs / "fast" / "pipe" / "pgd_at") and frl_cfg["fast"] is True
    lines = [json.loads(l) for l in open(runs / "fast" / "pipe" / "pgd_at" / "metrics.jsonl")]
    assert [r["split"] for r in lines] == ["val", "val", "test"]  # test_every = 0: test only at the end


def test_the_fast_cifar_config_reads_into_train_configs():
    parts = stages(load_pipeline(ROOT / "configs" / "fast" / "cifar10_preact_frl.toml"))
    assert [p["run"]["name"] for p in parts] == ["pgd_at", "frl_reweight_remargin", "pgd_at_continued", "loss_only"]
    cfgs = [stage_config(p, "runs") for p in parts]
    assert cfgs[0].lr_schedule == "onecycle" and cfgs[0].compile is False and cfgs[0].eps == pytest.approx(8 / 255)
    # the FRL stage and its loss control differ only in the controller's steps
    frl, ctrl = (c.to_dict() for c in (cfgs[1], cfgs[3]))
    assert {k for k in frl if frl[k] != ctrl[k]} == {"alpha1", "alpha2", "out"}
