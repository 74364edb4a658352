"""l2 adversarial training, randomized smoothing (train + certify), AutoAttack class-wise, the class-wise
figures and tables from runs, and ``frl report``."""

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binomtest

from deep.certify import lower_confidence_bound
from figures.results import paper_numbers
from frl.cli import main

TINY = ["--dataset", "digits", "--epochs", "2", "--eval-steps", "2", "--attack-steps", "2", "--val-per-class", "10"]
CIFAR = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


@pytest.fixture(scope="module")
def digits_pgd(tmp_path_factory):
    out = tmp_path_factory.mktemp("aa") / "pgd"
    assert main(["train", "--dataset", "digits", "--method", "pgd_at", "--epochs", "4", "--eps", "0.2",
                 "--out", str(out)]) == 0
    return out


def test_l2_adversarial_training_and_its_evaluation(tmp_path):
    out = tmp_path / "l2"
    assert main(["train", *TINY, "--method", "pgd_at", "--norm", "l2", "--eps", "1.0", "--out", str(out)]) == 0
    assert main(["eval", str(out)]) == 0
    res = json.loads((out / "eval.json").read_text())
    assert res["attack"]["norm"] == "l2" and res["attack"]["steps"] == 20
    assert res["attack"]["step_size"] == pytest.approx(0.2)  # eps/5: 0.1 at the paper's 0.5


def test_autoattack_classwise_is_at_least_as_strong_as_pgd20(digits_pgd):
    out = digits_pgd / "aa.json"
    assert main(["eval", str(digits_pgd), "--attack", "autoattack", "--limit", "80", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["attack"]["name"] == "autoattack" and res["attack"]["package"] == "pyautoattack"
    assert len(res["rob_error"]) == 10 and res["pgd"]["attack"]["steps"] == 20
    for aa, pgd, gap in zip(res["rob_error"], res["pgd"]["rob_error"], res["gap_autoattack_minus_pgd"]):
        assert aa >= pgd and gap == pytest.approx(aa - pgd)
    assert res["std_error"] == res["pgd"]["std_error"]  # same clean predictions


@pytest.mark.parametrize("k,n,alpha", [(0, 10, 0.01), (7, 10, 0.05), (990, 1000, 0.001), (1000, 1000, 0.001)])
def test_clopper_pearson_lower_bound_matches_scipys_exact_interval(k, n, alpha):
    ci = binomtest(k, n).proportion_ci(confidence_level=1 - 2 * alpha, method="exact")
    assert lower_confidence_bound(k, n, alpha) == pytest.approx(ci.low, abs=1e-12)


def test_gaussian_noise_training_and_certify(tmp_path, capsys):
    out = tmp_path / "gn"
    assert main(["train", *TINY, "--method", "gaussian_noise", "--sigma", "0.25", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["certify", str(out), "--sigma", "0.25", "--radius", "0.3", "--n", "200", "--n0", "20",
                 "--alpha", "0.01", "--limit", "60", "--predict"]) == 0
    assert "warning" not in capsys.readouterr().err  # smoothed with the noise it was trained with
    assert main(["certify", str(out), "--sigma", "0.5", "--n", "20", "--n0", "5", "--limit", "3"]) == 0
    err = capsys.readouterr().err
    assert "warning: " in err and "trained with Gaussian noise at sigma 0.25" in err
    # a subset (--limit) goes to its own file, never over the full result
    assert not (out / "certify.json").exists()
    res = json.loads((out / "certify_limit60.json").read_text())
    assert len(res["certified_error"]) == 10 and len(res["radius_per_sample"]) == 60
    present = [n > 0 for n in res["n_per_class"]]
    assert all((e is None) == (not p) for e, p in zip(res["certified_error"], present))  # no example, no error
    assert all(r >= s for r, s in zip(res["certified_error"], res["certified_std_error"]) if r is not None)
    radii = np.array(res["radius_per_sample"])
    certified = radii >= 0
    # a radius is sigma Phi^-1(p_lower); p_lower is at most the bound for n of n successes, alpha^(1/n)
    from scipy.stats import norm

    assert certified.any() and np.all(radii[certified] <= 0.25 * norm.ppf(0.01 ** (1 / 200)) + 1e-9)
    assert np.all(radii[~certified] == -1) and np.all(np.array(res["predicted"])[~certified] == -1)
    assert res["predict_error"] is not None and res["n"] == 200


@pytest.mark.parametrize("extra,needle", [
    (["--sigma", "0"], "sigma == 0, must be > 0"),
    (["--sigma", "0.25", "--radius=-0.5"], "radius == -0.5, must be >= 0"),
    (["--sigma", "0.25", "--n", "10", "--n0", "20"], "n0 == 20 > n == 10"),
    (["--sigma", "0.25", "--alpha", "1.5"], "alpha == 1.5, must be in (0, 1)"),
])
def test_certify_bad_input(digits_pgd, capsys, extra, needle):
    assert main(["certify", str(digits_pgd), *extra]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1


def test_eval_and_certify_refuse_runs_without_a_model(tmp_path, capsys):
    assert main(["certify", str(tmp_path), "--sigma", "0.5"]) == 2
    assert "has no model" in capsys.readouterr().err
    assert main(["eval", str(tmp_path), "--attack", "fgsm"]) == 2
    assert "--attack 'fgsm': unknown attack" in capsys.readouterr().err


def _fake_eval(path: Path, std, rob):
    path.mkdir(parents=True)
    bndy = [r - s for r, s in zip(rob, std)]
    path.joinpath("eval.json").write_text(json.dumps({
        "class_names": CIFAR, "std_error": std, "bndy_error": bndy, "rob_error": rob,
        "avg": {"std_error": float(np.mean(std)), "bndy_error": float(np.mean(bndy)), "rob_error": float(np.mean(rob))},
        "worst": {"std_error": max(std), "bndy_error": max(bndy), "rob_error": max(rob)}}))
    path.joinpath("config.json").write_text(json.dumps({"dataset": "cifar10", "method": path.name}))


@pytest.fixture()
def fake_runs(tmp_path):
    runs = tmp_path / "runs"
    rng = np.random.default_rng(0)
    for m in ("natural", "pgd_at", "trades_6"):
        std = rng.uniform(0.02, 0.3, 10).round(3).tolist()
        rob = [min(1.0, s + 0.4) for s in std] if m != "natural" else [1.0] * 10
        _fake_eval(runs / "fig1" / m, std, rob)
    return runs


def test_classwise_figures_and_tables_from_runs(fake_runs, tmp_path, capsys):
    out = tmp_path / "figs"
    for fid in ("fig1", "table1", "table4"):
        assert main(["figures", fid, "--runs", str(fake_runs), "--out", str(out)]) == 0
        assert (out / f"{fid}.png").stat().st_size > 1000
    t1 = json.loads((out / "table1.json").read_text())
    nat = json.loads((fake_runs / "fig1" / "natural" / "eval.json").read_text())
    adv = json.loads((fake_runs / "fig1" / "pgd_at" / "eval.json").read_text())
    cat = CIFAR.index("cat")
    rows = {(r["metric"], r["row"]): r for r in t1["rows"]}
    assert rows[("Std. Error", "Natural Training")]["ours"][0] == pytest.approx(100 * nat["std_error"][cat])
    assert rows[("Std. Error", "Diff. (Adv - Nat.)")]["ours"][0] == pytest.approx(
        100 * (adv["std_error"][cat] - nat["std_error"][cat]))
    assert rows[("Rob. Error", "PGD Adv. Training")]["paper"] == [82.7, 66.4, 34.3, 40.8]
    f1 = json.loads((out / "fig1.json").read_text())
    assert set(f1["methods"]) == {"natural", "pgd_at", "trades_6"} and f1["missing"] == ["trades_1"]
    assert f1["paper"]["std_error"]["pgd_at"] == paper_numbers()["tables"]["table4"]["std_error"]["pgd_at"]
    assert "fig1: runs missing" in capsys.readouterr().err  # partial results are drawn, the gaps named
    for fid, cfg in (("fig5", "configs/paper/fig5"), ("fig6", "configs/paper/fig6"), ("fig7", "configs/paper/fig7"),
                     ("fig4", "configs/paper/fig4"), ("table5", "configs/paper/fig5")):
        assert main(["figures", fid, "--runs", str(fake_runs), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert cfg in err and err.count("\n") == 1


def test_every_figure_and_table_id_is_listed_and_has_configs(capsys):
    assert main(["figures", "--list"]) == 0
    ids = {line.split()[0] for line in capsys.readouterr().out.splitlines()}
    assert {f"fig{i}" for i in range(1, 8)} | {f"table{i}" for i in range(1, 9)} <= ids
    root = Path(__file__).resolve().parents[1] / "configs" / "paper"
    for fig in ("fig1", "fig5", "fig6", "fig7"):
        assert {p.stem for p in (root / fig).glob("*.toml")} == {"natural", "pgd_at", "trades_1", "trades_6"}
    assert len(list((root / "fig4").glob("*.toml"))) == 3
    assert 'norm = "l2"' in (root / "fig6" / "pgd_at.toml").read_text()


def test_report_html_and_markdown(fake_runs, tmp_path):
    html_out = tmp_path / "rep" / "report.html"
    assert main(["report", str(fake_runs), "--out", str(html_out)]) == 0
    text = html_out.read_text()
    assert "data:image/png;base64," in text and "Table 1" in text and "82.7 / " in text
    assert "Not available yet" in text and "configs/paper/fig5" in text
    md_out = tmp_path / "rep" / "report.md"
    assert main(["report", str(fake_runs), "--out", str(md_out)]) == 0
    assert "| Rob. Error | PGD Adv. Training | 82.7 / " in md_out.read_text()


def test_report_bad_input(tmp_path, capsys):
    assert main(["report", str(tmp_path / "none")]) == 2
    assert "is not a directory" in capsys.readouterr().err
