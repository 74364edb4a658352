"""configs/cpu/ (issue 24): the CIFAR-10 pipelines a CPU runs, read, run end to end at a tiny size over two
seeds, summarised with intervals, and resumed without redoing finished work."""

import json
from pathlib import Path

import pytest

from deep.config import LEGACY_DEFAULTS
from deep.pipeline import load_pipeline, stage_config, stages
from fake_datasets import write_cifar10
from frl.cli import main

ROOT = Path(__file__).resolve().parents[1]
FRL = ROOT / "configs" / "cpu" / "cifar10_frl.toml"
COMPARE = ROOT / "configs" / "cpu" / "cifar10_compare.toml"
CONTROLLER = ROOT / "configs" / "cpu" / "cifar10_frl_controller.toml"
START18 = ROOT / "configs" / "cpu" / "cifar10_frl_start18.toml"  # pipeline (a) as its three committed seeds ran
TINY = ["epochs=1", "val_per_class=1", "eval_steps=1", "attack_steps=1", "batch_size=16"]


def test_the_frl_pipeline_is_the_issues_design():
    cfg = load_pipeline(FRL)
    parts = stages(cfg)
    names = [p["run"]["name"] for p in parts]
    assert names == ["pgd_at", "frl_reweight_remargin", "frl_reweight_remargin_trades", "pgd_at_continued",
                     "loss_only"]
    cfgs = {p["run"]["name"]: stage_config(p, "runs") for p in parts}
    assert all(c.model == "compact_cnn_silu" and c.dataset == "cifar10" and c.val_per_class == 300 for c in cfgs.values())
    fine = [cfgs[n] for n in names[1:]]
    assert {c.init for c in fine} == {str(Path("runs/cpu/cifar10_frl/pgd_at"))} and len({c.epochs for c in fine}) == 1
    assert len({(c.lr, c.batch_size, c.attack_steps) for c in fine}) == 1  # the same schedule for all four
    assert cfgs["frl_reweight_remargin"].frl_loss == "pgd_at" and cfgs["frl_reweight_remargin_trades"].frl_loss == "trades"
    frl, ctrl = cfgs["frl_reweight_remargin"].to_dict(), cfgs["loss_only"].to_dict()
    assert {k for k in frl if frl[k] != ctrl[k]} == {"alpha1", "alpha2", "out"} and ctrl["alpha1"] == 0
    assert cfg["run"]["also_score"] == ["best"] and cfg["run"]["summary"] == "pgd_at"


def test_the_compare_pipeline_trains_the_methods_on_one_split_and_schedule():
    parts = stages(load_pipeline(COMPARE))
    cfgs = {p["run"]["name"]: stage_config(p, "runs") for p in parts}
    assert list(cfgs) == ["trades", "frl", "wat", "dafa", "cfa"]  # FRL right after the TRADES run it starts from
    scratch = [c for n, c in cfgs.items() if n != "frl"]
    assert len({(c.epochs, c.batch_size, c.val_per_class, c.attack_steps, c.lr_schedule) for c in scratch}) == 1
    assert cfgs["cfa"].lr == pytest.approx(7 * cfgs["trades"].lr)  # TRADES' SGD steps before calibration
    assert cfgs["frl"].init.endswith("trades") and cfgs["frl"].frl_loss == "trades" and cfgs["frl"].frl_beta == 6
    assert [p["run"]["checkpoint"] for p in parts] == ["last", "last", "last", "last", "averaged"]


# where, how and from which code a run was started: not what it trains
PATHS = {"out", "init", "data_dir", "seed", "resume", "package_version", "git_commit", "torch_version", "progress"}


def test_the_controller_probe_is_pipeline_a_start_and_its_trades_stage_three_ways():
    """configs/cpu/cifar10_frl_controller.toml: the start of cifar10_frl_start18.toml, its TRADES-loss FRL stage,
    and that stage with a smaller alpha or with the authors' weight rule; nothing else differs."""
    a = {p["run"]["name"]: stage_config(p, "runs").to_dict() for p in stages(load_pipeline(START18))}
    c = {p["run"]["name"]: stage_config(p, "runs").to_dict() for p in stages(load_pipeline(CONTROLLER))}
    assert list(c) == ["pgd_at", "frl_trades", "frl_trades_small_alpha", "frl_trades_multiplier"]
    same = lambda x, y: {k for k in x if x[k] != y[k]} - PATHS  # noqa: E731
    assert same(c["pgd_at"], a["pgd_at"]) == set() and same(c["frl_trades"], a["frl_reweight_remargin_trades"]) == set()
    assert same(c["frl_trades_small_alpha"], c["frl_trades"]) == {"alpha1", "alpha2"}
    assert c["frl_trades_small_alpha"]["alpha1"] == c["frl_trades_small_alpha"]["alpha2"] == 0.15
    assert same(c["frl_trades_multiplier"], c["frl_trades"]) == {"frl_weight_rule"}
    assert c["frl_trades_multiplier"]["frl_weight_rule"] == "multiplier" and c["frl_trades"]["frl_weight_rule"] == "switched"
    committed = ROOT / "results" / "cpu" / "cifar10_frl_controller"
    for name, cfg in c.items():  # the committed runs (frl train with these settings) are these stages
        for saved in sorted((committed / name).glob("seed_*/config.json")):
            assert same(cfg, {**LEGACY_DEFAULTS, **json.loads(saved.read_text())}) == set(), saved


def test_the_committed_start18_seeds_are_pipeline_a_with_its_old_start_and_what_its_config_reruns():
    """results/cpu/cifar10_frl_start18/: pipeline (a) before its start moved to compact_cnn_silu for 14 epochs;
    the four fine-tunes are the same but for the model they fine-tune."""
    new = {p["run"]["name"]: stage_config(p, "runs").to_dict() for p in stages(load_pipeline(FRL))}
    old = {p["run"]["name"]: stage_config(p, "runs").to_dict() for p in stages(load_pipeline(START18))}
    same = lambda x, y: {k for k in x if x[k] != y[k]} - PATHS  # noqa: E731
    assert list(new) == list(old)
    for name in new:
        assert same(new[name], old[name]) == ({"model", "epochs"} if name == "pgd_at" else {"model"}), name
        assert old[name]["model"] == "compact_cnn" and new[name]["model"] == "compact_cnn_silu"
    assert (old["pgd_at"]["epochs"], new["pgd_at"]["epochs"]) == (18, 14)
    committed = ROOT / "results" / "cpu" / "cifar10_frl_start18"
    for name, cfg in old.items():
        saved = sorted((committed / name).glob("seed_*/config.json"))
        assert [p.parent.name for p in saved] == ["seed_0", "seed_1", "seed_2"], name
        for path in saved:
            assert same(cfg, {**LEGACY_DEFAULTS, **json.loads(path.read_text())}) == set(), path


def _run(config, tmp_path, seeds, extra=()):
    data = tmp_path / "data"
    if not data.exists():
        write_cifar10(data, n_per_batch=20, n_test=40)
    sets = [a for t in [*TINY, *extra] for a in ("--train-set", t)]
    assert main(["run", str(config), "--runs", str(tmp_path / "runs"), "--data-dir", str(data), "--seeds",
                 *map(str, seeds), *sets]) == 0
    return tmp_path / "runs" / "cpu" / Path(config).stem


def test_the_frl_pipeline_over_two_seeds_ends_with_intervals_and_resumes_without_rescoring(tmp_path):
    group = _run(FRL, tmp_path, [0, 1])
    for stage in ("pgd_at", "frl_reweight_remargin", "loss_only"):
        for seed in (0, 1):
            d = group / stage / f"seed_{seed}"
            last, best = (json.loads((d / n).read_text()) for n in ("eval.json", "eval_best.json"))
            assert last["attack"]["steps"] == 20 and last["examples"]["n"] == 40
            # one epoch: best.pt is the last epoch's model, so its result is the last one's, marked so
            assert best["checkpoint"] == "best" and best["same_model_as"] == "last" and best["epoch"] == last["epoch"]
    summary = json.loads((group / "summary.json").read_text())
    frl = summary["stages"]["frl_reweight_remargin"]["last"]
    assert frl["seeds"] == [0, 1] and set(frl["significant"]) == {"worst_rob", "avg_rob", "avg_std", "avg_bndy"}
    for seed in ("0", "1"):
        change, lo, hi = frl["per_seed"][seed]["change"]["avg_rob"]
        ours = frl["per_seed"][seed]["six"]["avg_rob"]
        start = summary["stages"]["pgd_at"]["last"]["per_seed"][seed]["six"]["avg_rob"]
        assert change == pytest.approx(ours - start) and lo - 1e-9 <= change <= hi + 1e-9
        lo, hi = frl["per_seed"][seed]["interval"]["avg_rob"]
        assert lo <= ours <= hi
    md = (group / "summary.md").read_text()
    assert "### last checkpoint" in md and "### best checkpoint" in md and "| frl_reweight_remargin | 2 |" in md
    stamps = {p: p.stat().st_mtime_ns for p in group.rglob("eval*.json")}
    _run(FRL, tmp_path, [0, 1])  # everything is finished: nothing is trained or scored again
    assert {p: p.stat().st_mtime_ns for p in group.rglob("eval*.json")} == stamps
    for ckpt in group.rglob("*.pt"):  # a fresh machine with the committed result files only
        ckpt.unlink()
    _run(FRL, tmp_path, [0, 1])
    assert {p: p.stat().st_mtime_ns for p in group.rglob("eval*.json")} == stamps
    assert not list(group.rglob("*.pt"))


def test_the_compare_pipeline_ends_with_frl_compare_and_its_intervals(tmp_path):
    group = _run(COMPARE, tmp_path, [0], extra=["epochs=2", "dafa_warmup=1"])  # DAFA's and CFA's controllers act
    res = json.loads((group / "compare.json").read_text())
    assert list(res["methods"]) == ["trades", "cfa", "dafa", "frl", "wat"]
    frl = res["methods"]["frl"]
    d, lo, hi = frl["paired"]["seed_0"]["rob_avg"]
    assert lo - 1e-9 <= d <= hi + 1e-9 and frl["significant"]["rob_avg"] in ("up", "down", "no")
    assert d == pytest.approx(frl["per_seed"]["rob_avg"][0] - res["methods"]["trades"]["per_seed"]["rob_avg"][0])
    assert "Per seed, PGD robust accuracy" in (group / "compare.md").read_text()


def _digits_pipeline(tmp_path):
    stage = 'dataset = "digits"\neps = 0.2\nattack_steps = 1\neval_steps = 1\nval_per_class = 5\ntest_every = 0\n'
    cfg = tmp_path / "p.toml"
    cfg.write_text('[run]\nname = "p"\ntable = "t"\nalso_score = ["best"]\nsummary = "a"\n'
                   f'[[stage]]\nname = "a"\n[stage.train]\nmethod = "pgd_at"\nepochs = 2\n{stage}'
                   f'[[stage]]\nname = "b"\n[stage.train]\nmethod = "pgd_at"\ninit = "a"\nepochs = 2\nlr = 0.001\n{stage}')
    return cfg


def test_a_seed_with_its_results_is_finished_even_when_its_best_epoch_is_not_the_last(tmp_path):
    cfg, runs = _digits_pipeline(tmp_path), tmp_path / "runs"
    assert main(["run", str(cfg), "--runs", str(runs), "--seeds", "0"]) == 0
    group = runs / "t" / "p"
    for ckpt in group.rglob("*.pt"):
        ckpt.unlink()
    for best in group.rglob("eval_best.json"):  # as if validation had picked the first epoch
        res = json.loads(best.read_text())
        res.pop("same_model_as", None)
        best.write_text(json.dumps({**res, "epoch": 0}))
    stamps = {p: p.stat().st_mtime_ns for p in group.rglob("eval*.json")}
    assert main(["run", str(cfg), "--runs", str(runs), "--seeds", "0"]) == 0
    assert {p: p.stat().st_mtime_ns for p in group.rglob("eval*.json")} == stamps and not list(group.rglob("*.pt"))


def test_a_result_of_another_attack_is_scored_again(tmp_path):
    cfg, runs = _digits_pipeline(tmp_path), tmp_path / "runs"
    assert main(["run", str(cfg), "--runs", str(runs), "--seeds", "0"]) == 0
    path = runs / "t" / "p" / "b" / "seed_0" / "eval.json"
    res = json.loads(path.read_text())
    path.write_text(json.dumps({**res, "attack": {**res["attack"], "eps": 0.1}}))  # e.g. frl eval --eps 0.1
    assert main(["run", str(cfg), "--runs", str(runs), "--seeds", "0"]) == 0
    assert json.loads(path.read_text())["attack"]["eps"] == pytest.approx(0.2)


@pytest.mark.parametrize("seeds", [[], ["--seeds", "0"]])
def test_a_moved_copied_or_absolute_runs_folder_resumes(tmp_path, monkeypatch, seeds):
    """A stage's init is compared by its place beside the stage, not by the path string it was saved with."""
    import shutil

    cfg = _digits_pipeline(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(cfg), "--runs", "runs", *seeds]) == 0  # relative, as the README writes it
    group = tmp_path / "runs" / "t" / "p"
    sub = Path("seed_0") if seeds else Path()
    assert json.loads((group / "b" / sub / "config.json").read_text())["init"] == str(Path("runs/t/p/a") / sub)
    for runs in (tmp_path / "runs", tmp_path / "moved" / "runs"):  # absolute; then copied elsewhere
        if runs != tmp_path / "runs":
            shutil.copytree(tmp_path / "runs", runs)
        (runs / "t" / "p" / "b" / sub / "eval.json").unlink()  # stage b must be loaded, checked and scored again
        stamps = {p: p.read_bytes() for p in (runs / "t" / "p" / "a").rglob("eval*.json")}
        assert main(["run", str(cfg), "--runs", str(runs), *seeds]) == 0
        assert (runs / "t" / "p" / "b" / sub / "eval.json").exists()
        assert {p: p.read_bytes() for p in (runs / "t" / "p" / "a").rglob("eval*.json")} == stamps
    # a stage that starts from another run is still refused
    other = json.loads((group / "b" / sub / "config.json").read_text())
    other["init"] = str(tmp_path / "elsewhere")
    (group / "b" / sub / "config.json").write_text(json.dumps(other))
    (group / "b" / sub / "eval.json").unlink()
    assert main(["run", str(cfg), "--runs", str(tmp_path / "runs"), *seeds]) == 2


def test_runs_over_seeds_are_not_mixed_with_a_run_without_seeds_and_best_needs_a_validation_split(tmp_path, capsys):
    cfg, runs = _digits_pipeline(tmp_path), tmp_path / "runs"
    assert main(["run", str(cfg), "--runs", str(runs), "--seeds", "0", "--train-set", "epochs=1"]) == 0
    before = {p: p.read_bytes() for p in runs.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert main(["run", str(cfg), "--runs", str(runs), "--train-set", "epochs=1"]) == 2
    err = capsys.readouterr().err
    assert "holds runs over seeds (seed_0): pass --seeds" in err and err.count("\n") == 1, err
    assert {p: p.read_bytes() for p in runs.rglob("*") if p.is_file()} == before
    other = tmp_path / "plain"
    assert main(["run", str(cfg), "--runs", str(other), "--train-set", "epochs=1"]) == 0
    capsys.readouterr()
    assert main(["run", str(cfg), "--runs", str(other), "--seeds", "0", "--train-set", "epochs=1"]) == 2
    assert "holds a run without seeds" in capsys.readouterr().err
    # also_score = ["best"] without a validation split, in the second stage: refused before the first trains
    fresh = tmp_path / "fresh"
    first, second = cfg.read_text().split('init = "a"')
    bad = tmp_path / "bad.toml"
    bad.write_text(first + 'init = "a"' + second.replace("val_per_class = 5", "val_per_class = 0"))
    assert main(["run", str(bad), "--runs", str(fresh)]) == 2
    err = capsys.readouterr().err
    assert "stage 'b'" in err and "holds out no validation split" in err, err
    assert not fresh.exists()


def test_a_rerun_with_changed_settings_refuses_instead_of_reusing_the_finished_seed(tmp_path, capsys):
    cfg, runs = _digits_pipeline(tmp_path), tmp_path / "runs"
    assert main(["run", str(cfg), "--runs", str(runs), "--seeds", "0", "--train-set", "epochs=1"]) == 0
    before = {p: p.read_bytes() for p in runs.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert main(["run", str(cfg), "--runs", str(runs), "--seeds", "0", "--train-set", "epochs=1",
                 "--train-set", "lr=0.05"]) == 2
    err = capsys.readouterr().err
    assert "was made with other settings (lr: saved" in err and err.count("\n") == 1, err
    assert {p: p.read_bytes() for p in runs.rglob("*") if p.is_file()} == before


def test_a_seed_cut_on_another_machine_keeps_its_finished_stages_and_retrains_what_lost_its_start(tmp_path):
    """Committed result files without checkpoints (a later session, a fresh machine): a finished stage is kept
    unless an unfinished stage must start from its lost model; a stage whose start is trained anew is trained
    again too (its results belong to the old start); the old results are set aside, not deleted."""
    stage = 'dataset = "digits"\neps = 0.2\nattack_steps = 1\neval_steps = 1\nval_per_class = 5\ntest_every = 0\n'
    cfg = tmp_path / "p.toml"
    cfg.write_text('[run]\nname = "p"\ntable = "t"\nalso_score = ["best"]\n'
                   f'[[stage]]\nname = "a"\n[stage.train]\nmethod = "pgd_at"\nepochs = 1\n{stage}'
                   f'[[stage]]\nname = "b"\n[stage.train]\nmethod = "pgd_at"\ninit = "a"\nepochs = 1\nlr = 0.001\n{stage}'
                   f'[[stage]]\nname = "c"\n[stage.train]\nmethod = "trades"\nepochs = 1\n{stage}')
    runs = tmp_path / "runs"
    run = ["run", str(cfg), "--runs", str(runs), "--seeds", "0"]
    assert main(run) == 0
    group = runs / "t" / "p"
    stamp = lambda name: {p.name: p.stat().st_mtime_ns for p in (group / name / "seed_0").glob("*.json*")}  # noqa: E731

    for ckpt in group.rglob("*.pt"):
        ckpt.unlink()
    (group / "c" / "seed_0" / "eval_best.json").unlink()  # c unfinished: only c trains
    a, b = stamp("a"), stamp("b")
    assert main(run) == 0
    assert stamp("a") == a and stamp("b") == b and (group / "c" / "seed_0" / "eval_best.json").exists()
    assert not (group / "a" / "seed_0" / "checkpoint.pt").exists()

    for ckpt in group.rglob("*.pt"):
        ckpt.unlink()
    (group / "b" / "seed_0" / "eval.json").unlink()  # b unfinished and its start's model is gone
    old_a, c = (group / "a" / "seed_0" / "eval.json").read_text(), stamp("c")
    assert main(run) == 0
    assert (group / "a" / "seed_0.old1" / "eval.json").read_text() == old_a  # set aside
    assert (group / "a" / "seed_0" / "checkpoint.pt").exists() and (group / "b" / "seed_0" / "eval.json").exists()
    assert stamp("c") == c  # independent of a: kept

    for ckpt in group.rglob("*.pt"):
        ckpt.unlink()
    (group / "a" / "seed_0" / "eval_best.json").unlink()  # the start unfinished: b's results are of the old start
    b_metrics = (group / "b" / "seed_0" / "metrics.jsonl").stat().st_mtime_ns
    assert main(run) == 0
    assert (group / "b" / "seed_0.old1").is_dir() and (group / "a" / "seed_0.old2").is_dir()
    assert (group / "b" / "seed_0" / "metrics.jsonl").stat().st_mtime_ns != b_metrics and stamp("c") == c
