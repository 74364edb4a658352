"""``frl theory``: the table, the JSON, and one-line errors with exit status 2."""

import json
import subprocess
import sys

import numpy as np
import pytest

import gaussian_theory as gt
from frl.cli import main


def test_default_table_is_figure2_setting(capsys):
    assert main(["theory"]) == 0
    out = capsys.readouterr().out
    assert "d=2, K=1.41421, sigma=1, eta=2, eps=0.5" in out
    assert f"b_nat = g(eta) = {float(gt.b_nat(2, np.sqrt(2), 1, 2)):.6g}" in out
    assert "[holds] Theorem 1" in out and "FAILS" not in out


def test_json_numbers_match_the_library(tmp_path):
    path = tmp_path / "t.json"
    assert main(["theory", "--d", "3", "--K", "2", "--sigma", "0.5", "--eta", "0.4", "--eps", "1/5",
                 "--json", str(path)]) == 0
    res = json.loads(path.read_text())
    assert res["b_nat"] == pytest.approx(float(gt.b_nat(3, 2.0, 0.5, 0.4)), rel=1e-12)
    assert res["b_rob"] == pytest.approx(float(gt.b_rob(3, 2.0, 0.5, 0.4, 0.2)), rel=1e-12)
    np.testing.assert_allclose(res["f_nat"]["std_error"], gt.R_nat_f_nat(3, 2.0, 0.5, 0.4), rtol=1e-12)
    np.testing.assert_allclose(res["f_rob"]["std_error"], gt.R_nat_f_rob(3, 2.0, 0.5, 0.4, 0.2), rtol=1e-12)
    np.testing.assert_allclose(res["f_rob"]["rob_error"], gt.R_rob_f_rob(3, 2.0, 0.5, 0.4, 0.2), rtol=1e-12)
    np.testing.assert_allclose(res["f_nat"]["rob_error"], gt.R_rob_f_nat(3, 2.0, 0.5, 0.4, 0.2), rtol=1e-12)
    assert set(res["claims"]) == {"theorem1", "theorem2", "corollary1_errors", "corollary1_b_order",
                                  "corollary1_b_rob_positive"}


def test_dprime_reports_theorem3_and_the_failing_a3_claim(capsys):
    assert main(["theory", "--d", "1", "--K", "2", "--eta", "1", "--eps", "0.5", "--m", "1", "--gamma", "0.1",
                 "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["claims"]["theorem3"]["holds"] is True
    assert res["claims"]["a3_both_classes_worse"]["holds"] is False
    reg = res["regimes"]["a3_both_classes_worse"]
    assert reg["lhs"] < reg["rhs"]


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["theory", "--K", "1"], "K == 1, must be > 1"),
        (["theory", "--sigma", "-2"], "sigma == -2, must be > 0"),
        (["theory", "--eps", "2"], "eps == 2 >= eta == 2"),
        (["theory", "--eps", "0"], "eps == 0, must be > 0"),
        (["theory", "--d", "0"], "d == 0, must be >= 1"),
        (["theory", "--d", "1.5"], "not a whole number"),
        (["theory", "--eta", "x"], "not a number"),
        (["theory", "--m", "2", "--gamma", "0.7"], "gamma == 0.7 >= eps == 0.5"),
        (["theory", "--bogus"], "unrecognized arguments"),
        (["nope"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_console_entry_point_runs_as_a_module():
    proc = subprocess.run([sys.executable, "-m", "frl", "theory", "--K", "0.5"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "frl theory: error: K == 0.5, must be > 1"
    proc = subprocess.run([sys.executable, "-m", "frl", "theory"], capture_output=True, text=True)
    assert proc.returncode == 0 and "Corollary 1" in proc.stdout
