"""frl compare: methods over seeds, mean ± std and the rho metric against a base, beside the published table."""

import json

import pytest

from figures.compare import published_key, rho
from frl.cli import main

TINY = ["--dataset", "digits", "--epochs", "3", "--batch-size", "32", "--attack-steps", "2", "--eval-steps", "1",
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
