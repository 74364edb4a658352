"""frl compare: methods over seeds, mean ± std and the rho metric against a base, beside the published table."""

import json

import pytest
import torch

from figures.compare import published_key, rho
from frl.cli import main

TINY = ["--dataset", "digits", "--epochs", "1", "--batch-size", "32", "--attack-steps", "2", "--eval-steps", "1",
        "--val-per-class", "5", "--test-every", "0"]


def test_rho_is_the_worst_class_gain_minus_the_average_loss_and_reproduces_the_published_values():
    assert rho(0.5, 0.3, 0.5, 0.2) == pytest.approx(0.5)
    assert rho(0.4, 0.2, 0.5, 0.2) == pytest.approx(-0.2)
    assert rho(0.4, 0.2, 0.5, 0.0) is None  # a base whose worst class has no accuracy: no relative gain
    # DAFA's table (TRADES base): rho_rob of FRL 0.11, CFA 0.32, WAT 0.27, DAFA 0.42
    base = (49.80, 21.31)
    for (avg, worst), published in (((44.68, 25.84), 0.11), ((50.78, 27.62), 0.32), ((46.30, 28.55), 0.27),
                                    ((49.05, 30.53), 0.42)):
        assert rho(avg, worst, *base) == pytest.approx(published, abs=0.006)
    assert published_key("frl_reweight_remargin") == "frl" and published_key("wat") == "wat"


def test_frl_compare_on_digits_runs_with_two_seeds(tmp_path, capsys):
    runs = tmp_path / "runs"
    for method in ("trades", "wat"):
        for seed in (0, 1):
            out = runs / method / f"seed_{seed}"
            assert main(["train", *TINY, "--method", method, "--seed", str(seed), "--out", str(out)]) == 0
            assert main(["eval", str(out), "--steps", "2"]) == 0
    capsys.readouterr()
    assert main(["compare", str(runs), "--base", "trades", "--out", str(tmp_path / "cmp")]) == 0
    printed = capsys.readouterr().out
    res = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    trades, wat = res["methods"]["trades"], res["methods"]["wat"]
    assert trades["n"] == wat["n"] == 2 and trades["rho_nat"] == 0.0
    ev = [json.loads((runs / "wat" / f"seed_{s}" / "eval.json").read_text()) for s in (0, 1)]
    mean_rob_worst = sum(1 - e["worst"]["rob_error"] for e in ev) / 2
    assert wat["mean"]["rob_worst"] == pytest.approx(mean_rob_worst)
    assert wat["std"]["rob_worst"] == pytest.approx(abs(ev[0]["worst"]["rob_error"] - ev[1]["worst"]["rob_error"])
                                                    / 2 ** 0.5)
    b, m = trades["mean"], wat["mean"]
    expected = rho(m["rob_avg"], m["rob_worst"], b["rob_avg"], b["rob_worst"])
    assert wat["rho_rob"] == (pytest.approx(expected) if expected is not None else None)
    assert trades["rho_rob"] == (0.0 if b["rob_worst"] > 0 else None)
    assert "| wat | 2 |" in printed and "46.30 / 28.55, 0.27" in printed  # the published WAT row beside ours
    assert (tmp_path / "cmp" / "compare.png").stat().st_size > 1000
    assert main(["compare", str(runs), "--base", "frl"]) == 2
    assert "no evaluated runs of the base method 'frl'" in capsys.readouterr().err


# --- frl run over seeds: configs/compare/, every stage per seed, then the comparison ----------------

# 2 epochs, so that DAFA's weights (warm-up 1) and CFA's calibration (from epoch 1) act at all
SHRINK = [a for t in ("epochs=2", "dafa_warmup=1", "cfa_begin=1", "attack_steps=1", "eval_steps=1", "val_per_class=5",
                      "batch_size=64", "progress=false") for a in ("--train-set", t)]


def test_frl_run_over_seeds_runs_every_stage_per_seed_and_compares_them(tmp_path, capsys):
    runs = tmp_path / "runs"
    assert main(["run", "configs/compare/digits.toml", "--runs", str(runs), "--seeds", "0", "1", *SHRINK,
                 "--train-set", "cfa_threshold=0"]) == 0
    group = runs / "compare" / "digits"
    for stage in ("trades", "wat", "dafa", "cfa", "frl"):
        for seed in (0, 1):
            cfg = json.loads((group / stage / f"seed_{seed}" / "config.json").read_text())
            assert cfg["seed"] == seed and cfg["epochs"] == 2
    frl = json.loads((group / "frl" / "seed_1" / "config.json").read_text())
    assert frl["init"] == str(group / "trades" / "seed_1")  # the same seed's run of the earlier stage
    res = json.loads((group / "compare.json").read_text())
    assert list(res["methods"]) == ["trades", "cfa", "dafa", "frl", "wat"]
    assert all(m["n"] == 2 for m in res["methods"].values())
    assert res["methods"]["cfa"]["checkpoints"] == ["averaged"]  # threshold 0: every epoch is averaged
    assert json.loads((group / "cfa" / "seed_0" / "eval.json").read_text())["checkpoint"] == "averaged"
    assert "| cfa | 2 | averaged |" in (group / "compare.md").read_text()
    assert not (group / "summary.json").exists()  # over seeds, the comparison replaces the per-stage summary


def test_a_cfa_stage_whose_average_never_started_is_scored_with_its_last_model_and_says_so(tmp_path, capsys):
    import tomllib

    full = tomllib.loads(open("configs/compare/digits.toml").read())
    keep = [s for s in full["stage"] if s["name"] in ("trades", "cfa")]
    toml = '[run]\nname = "two"\ncompare = "trades"\n' + "".join(
        f'[[stage]]\nname = "{s["name"]}"\ncheckpoint = "{s.get("checkpoint", "last")}"\n[stage.train]\n'
        f'method = "{s["train"]["method"]}"\n' for s in keep)
    (tmp_path / "two.toml").write_text(toml)
    runs = tmp_path / "runs"
    assert main(["run", str(tmp_path / "two.toml"), "--runs", str(runs), *SHRINK, "--train-set", "cfa_threshold=2"]) == 0
    group = runs / "two"
    assert json.loads((group / "cfa" / "eval.json").read_text())["checkpoint"] == "last"
    assert "holds no averaged model" in capsys.readouterr().err
    res = json.loads((group / "compare.json").read_text())  # one seed: each stage folder is the run itself
    assert res["methods"]["cfa"]["checkpoints"] == ["last"] and (group / "summary.json").exists()


@pytest.mark.parametrize("argv,needle", [
    (["--seeds", "1", "1"], "distinct whole numbers"),
    (["--seeds", "0", "--train-set", "seed=3"], "give the seeds with --seeds only"),
    (["--seeds", "-1"], "distinct whole numbers in [0, 2**63)"),
])
def test_bad_seeds_are_one_line_errors(tmp_path, capsys, argv, needle):
    assert main(["run", "configs/compare/digits.toml", "--runs", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1, err


def test_compare_must_name_a_stage(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[run]\nname = "x"\ncompare = "nope"\n[[stage]]\nname = "a"\n[stage.train]\nmethod = "trades"\n'
                   '[[stage]]\nname = "b"\n[stage.train]\nmethod = "wat"\n')
    assert main(["run", str(bad), "--runs", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "compare = 'nope' must name one of its stages (a, b)" in err and err.count("\n") == 1


TRADES_BASE = {"trades": "trades", "wat": "wat", "dafa": "dafa", "cfa": "cfa", "frl": "frl_reweight_remargin"}
PGD_AT_BASE = {"pgd_at": "pgd_at", "dafa": "dafa", "cfa": "cfa", "frl": "frl_reweight_remargin"}


@pytest.mark.parametrize("name,expected", [("digits", TRADES_BASE), ("cifar10_fast", TRADES_BASE),
                                           ("cifar10_paper", TRADES_BASE), ("digits_pgd_at", PGD_AT_BASE)])
def test_comparison_configs_train_every_method_on_one_split_with_one_attack(name, expected):
    from pathlib import Path

    from deep import methods
    from deep.pipeline import load_pipeline, stage_config, stages

    cfg = load_pipeline(Path("configs/compare") / f"{name}.toml")
    base = next(iter(expected))
    assert cfg["run"]["compare"] == base
    parts = stages(cfg)
    built = {}
    for part in parts:
        part["run"]["seed"] = 3
        built[part["run"]["name"]] = stage_config(part, "runs")
    assert {n: c.method for n, c in built.items()} == expected
    shared = ("dataset", "model", "eps", "norm", "val_per_class", "batch_size", "attack_steps", "eval_steps", "seed")
    for key in shared:  # the same data split, model, radius and attack for every method
        assert len({getattr(c, key) for c in built.values()}) == 1, key
    # one attack loss for all: the base's (TRADES' KL or PGD-AT's cross-entropy)
    assert len({methods.get(c.method).attack_loss_for(c) for c in built.values()}) == 1
    scratch = [c for n, c in built.items() if n != "frl"]
    assert all(c.init is None for c in scratch) and len({c.epochs for c in scratch}) == 1
    assert built["frl"].init.endswith(f"{base}/seed_3") and built["frl"].frl_loss == base
    assert [p["run"]["checkpoint"] for p in parts] == ["averaged" if n == "cfa" else "last" for n in built]
    cfa, first = built["cfa"], built[base]
    if name == "cifar10_paper":  # the reference's settings
        assert (cfa.lr, cfa.weight_decay) == (first.lr, first.weight_decay) == (0.1, 5e-4)
        assert (cfa.cfa_begin, cfa.cfa_threshold, cfa.cfa_decay, built["dafa"].dafa_warmup, cfa.epochs) == \
            (10, 0.24, 0.88, 70, 110)
        from deep.schedule import make_optimizer

        for n, c in built.items():  # DAFA's decays from 0-based epochs 99 and 104 (its 1-based 100, 105)
            if n != "frl":
                assert sorted(round(f * c.epochs) for f in c.lr_milestones) == [99, 104], n
            # Nesterov where DAFA's code made the row (its inverted flag), plain momentum elsewhere
            opt = make_optimizer(torch.nn.Linear(2, 2).parameters(), c, torch.device("cpu"))
            assert opt.defaults["nesterov"] is (n in ("trades", "dafa")), n
        assert built["wat"].weight_decay == 2e-4 and built["wat"].wat_eta == pytest.approx(0.1 * 1000 / 1024)
        assert cfa.normalize and not any(c.normalize for n, c in built.items() if n != "cfa")
    elif base == "trades":  # TRADES' SGD steps before the calibration (test_cfa: the loss is TRADES / (1 + beta))
        assert cfa.lr == pytest.approx(first.lr * (1 + first.beta))
        assert cfa.weight_decay == pytest.approx(first.weight_decay / (1 + first.beta))
    else:  # CFA's PGD-AT loss is PGD-AT's own
        assert (cfa.lr, cfa.weight_decay) == (first.lr, first.weight_decay)


def _eval_file(std, rob, aa=None):
    """An eval.json as frl eval writes it: PGD, or AutoAttack with its PGD numbers under "pgd"."""
    def errors(rob_error):
        return {"avg": {"std_error": std, "bndy_error": rob_error - std, "rob_error": rob_error},
                "worst": {"std_error": std + 0.1, "bndy_error": rob_error - std + 0.2, "rob_error": rob_error + 0.2},
                "std_error": [std] * 10, "bndy_error": [rob_error - std] * 10, "rob_error": [rob_error] * 10,
                "n_per_class": [5] * 10, "class_names": list("0123456789"), "checkpoint": "last"}
    pgd = {**errors(rob), "attack": {"name": "pgd", "steps": 20}}
    return pgd if aa is None else {**errors(aa), "attack": {"name": "autoattack"}, "pgd": pgd}


def test_autoattack_columns_and_rho_appear_where_every_seed_has_autoattack(tmp_path, capsys):
    files = {"trades": (0.2, 0.5, 0.55), "wat": (0.22, 0.48, 0.53), "dafa": (0.2, 0.45, None)}
    for method, (std, rob, aa) in files.items():
        for seed in (0, 1):
            d = tmp_path / "runs" / method / f"seed_{seed}"
            d.mkdir(parents=True)
            (d / "eval.json").write_text(json.dumps(_eval_file(std, rob + 0.01 * seed, aa)))
    assert main(["compare", str(tmp_path / "runs"), "--out", str(tmp_path / "cmp")]) == 0
    res = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    trades, wat, dafa = (res["methods"][m] for m in ("trades", "wat", "dafa"))
    assert trades["mean"]["rob_avg"] == pytest.approx(1 - 0.505)  # PGD from the AutoAttack file's "pgd"
    assert wat["mean"]["aa_avg"] == pytest.approx(0.47) and wat["mean"]["aa_worst"] == pytest.approx(0.27)
    assert wat["rho_aa"] == pytest.approx(rho(0.47, 0.27, 0.45, 0.25))
    assert "aa_avg" not in dafa["mean"] and dafa["rho_aa"] is None  # no AutoAttack there: no AA numbers
    md = (tmp_path / "cmp" / "compare.md").read_text()
    assert "| AA avg | AA worst |" in md and "| dafa | 2 | last |" in md and " — | — |" in md
    # the independent reproductions of FRL beside ours, each with its attack and checkpoint rule
    assert [e["id"] for e in res["reproductions"]] == ["paper_table2", "cfa_best", "cfa_last", "dafa", "gdvarb_rerun"]
    assert "| cfa_best | preact_resnet18 | AutoAttack |" in md and "| frl | 82.80 / 71.40 | 45.90 / 25.40 | -2.40 / +3.70 |" in md


def test_the_papers_table2_as_accuracies_is_100_minus_its_printed_errors():
    from figures.compare import reproductions
    from figures.results import paper_numbers

    rows = {r["row"]: r["values"] for r in paper_numbers()["tables"]["table2"]["rows"]}
    printed = {"pgd_at": rows["PGD Adv. Training"], "trades": rows["TRADES (1/lambda = 6)"],
               "frl": rows["FRL(Reweight+Remargin, 0.05)"]}
    mine = next(e for e in reproductions() if e["id"] == "paper_table2")["rows"]
    for name, (std, worst_std, _, _, rob, worst_rob) in printed.items():
        got = mine[name]
        assert (got["clean_avg"], got["clean_worst"], got["rob_avg"], got["rob_worst"]) == pytest.approx(
            (100 - std, 100 - worst_std, 100 - rob, 100 - worst_rob))


@pytest.mark.parametrize("change,needle", [
    (lambda r: {**r, "split": "val"}, "split: 'test' against 'val'"),
    (lambda r: {**r, "attack": {"name": "pgd", "steps": 1}}, "attack:"),
    (lambda r: {**r, "rob_error": [0.5] * 9, "std_error": [0.2] * 9, "bndy_error": [0.3] * 9,
                "n_per_class": [5] * 9, "class_names": list("012345678")}, "classes: 10 against 9"),
    (lambda r: {**r, "avg": {**r["avg"], "std_error": 7.5}}, "an error of 7.5, not a fraction"),
    (lambda r: {**r, "rob_error": [-3.0] * 10}, "an error of -3.0"),
])
def test_compare_refuses_to_average_evals_that_were_not_scored_alike(tmp_path, capsys, change, needle):
    """One line naming both files (or the bad one), exit 2, and no comparison written."""
    for method in ("trades", "wat"):
        for seed in (0, 1):
            d = tmp_path / "runs" / method / f"seed_{seed}"
            d.mkdir(parents=True)
            res = _eval_file(0.2, 0.5)
            (d / "eval.json").write_text(json.dumps(change(res) if (method, seed) == ("wat", 1) else res))
    assert main(["compare", str(tmp_path / "runs"), "--out", str(tmp_path / "cmp")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and "wat/seed_1/eval.json" in err, err
    assert not (tmp_path / "cmp" / "compare.json").exists()


def test_compare_refuses_evals_of_two_data_sets(tmp_path, capsys):
    for method, dataset in (("trades", "digits"), ("wat", "cifar10")):
        d = tmp_path / "runs" / method / "seed_0"
        d.mkdir(parents=True)
        (d / "eval.json").write_text(json.dumps(_eval_file(0.2, 0.5)))
        (d / "config.json").write_text(json.dumps({"dataset": dataset}))
    assert main(["compare", str(tmp_path / "runs"), "--out", str(tmp_path / "cmp")]) == 2
    assert "dataset: 'digits' against 'cifar10'" in capsys.readouterr().err


def test_compare_reports_runs_without_results_and_compares_the_seeds_asked_for(tmp_path, capsys):
    runs = tmp_path / "runs"
    for method, seeds in (("trades", (0, 1, 2)), ("wat", (0, 1))):
        for seed in seeds:
            d = runs / method / f"seed_{seed}"
            d.mkdir(parents=True)
            (d / "eval.json").write_text(json.dumps(_eval_file(0.2, 0.5 - 0.01 * seed)))
    (runs / "wat" / "seed_2").mkdir()  # still training: its config, no eval yet
    (runs / "wat" / "seed_2" / "config.json").write_text(json.dumps({"dataset": "digits"}))
    (runs / "dafa").mkdir()
    (runs / "dafa" / "config.json").write_text(json.dumps({"dataset": "digits"}))  # a method run never scored
    assert main(["compare", str(runs), "--out", str(tmp_path / "cmp")]) == 0
    out = capsys.readouterr().out
    res = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert res["missing"] == {"dafa": ["dafa"], "wat": ["seed_2"]} and res["seeds_asked"] is None
    assert "note: wat: seed_2 without eval.json, left out" in out and "note: dafa: dafa without" in out
    assert res["methods"]["trades"]["seeds"] == ["seed_0", "seed_1", "seed_2"]
    assert main(["compare", str(runs), "--seeds", "0", "1", "--out", str(tmp_path / "cmp2")]) == 0
    res = json.loads((tmp_path / "cmp2" / "compare.json").read_text())
    assert res["methods"]["trades"]["seeds"] == res["methods"]["wat"]["seeds"] == ["seed_0", "seed_1"]
    assert res["seeds_asked"] == [0, 1] and res["missing"] == {"dafa": ["seed_0", "seed_1"]}
    capsys.readouterr()
    assert main(["compare", str(runs), "--seeds", "7", "--out", str(tmp_path / "cmp3")]) == 2
    assert "no evaluated runs of the base method 'trades'" in capsys.readouterr().err
