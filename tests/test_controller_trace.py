"""figures/controller.py and `frl figures controller_trace`: the swing statistics as properties, the
reading of real run directories (metrics.jsonl + config.json as the trainer writes them), bad input."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from figures import controller
from figures.controller import controller_trace_markdown, draw_controller_trace, swing
from figures.results import BadResults, MissingResults, controller_trace
from frl.cli import main
from deep.run_dir import RunDir

NAMES = ["a", "b", "c"]
errors_arrays = arrays(np.float64, st.tuples(st.integers(3, 8), st.integers(2, 5)),
                       elements=st.integers(0, 1000).map(lambda k: k / 1000))  # errors as from 1,000 images


def test_a_period_two_swing_alternates_at_minus_one_and_a_drift_at_plus_one():
    swings = np.array([[0.2, 0.8], [0.8, 0.2], [0.2, 0.8], [0.8, 0.2]])
    s = swing(swings)
    assert s["alternation"] == pytest.approx(-1.0)
    assert s["mean_change"] == pytest.approx(0.6)
    assert abs(s["largest_change"]) == pytest.approx(0.6) and s["largest_epochs"] == [0, 1]
    drift = np.array([[0.5, 0.4], [0.4, 0.3], [0.3, 0.2]])
    assert swing(drift)["alternation"] == pytest.approx(1.0)
    assert swing(drift)["mean_change"] == pytest.approx(0.1)
    assert swing(drift[:2])["alternation"] is None  # one change: nothing to correlate it with


def test_the_largest_change_names_its_class_and_epochs():
    e = np.array([[0.1, 0.5, 0.3], [0.1, 0.45, 0.3], [0.1, 0.45, 0.9]])
    s = swing(e)
    assert (s["largest_class"], s["largest_epochs"]) == (2, [1, 2])
    assert s["largest_change"] == pytest.approx(0.6)


def test_alternation_by_hand():
    e = np.array([[0.5, 0.2], [0.6, 0.1], [0.4, 0.4], [0.5, 0.1]])
    d = np.diff(e, axis=0)  # (+.1, -.1), (-.2, +.3), (+.1, -.3)
    num = (d[:-1] * d[1:]).sum()  # -.02 - .03 - .02 - .09 = -0.16
    expected = num / np.sqrt((d[:-1] ** 2).sum() * (d[1:] ** 2).sum())
    assert num == pytest.approx(-0.16) and swing(e)["alternation"] == pytest.approx(expected)
    assert swing(e)["mean_change"] == pytest.approx(np.abs(d).mean())
    assert swing(np.full((4, 3), 0.3))["alternation"] is None  # nothing moved: no correlation to speak of


@settings(max_examples=60, deadline=None)
@given(errors_arrays, st.floats(0.01, 0.4))
def test_a_swing_of_any_amplitudes_alternates_at_minus_one(e, amp):
    """Every class flipping by its own amplitude each epoch is -1; the same changes all of one sign, +1."""
    levels, amps = e[0], amp * (1 + e[1])
    flips = np.array([levels + (amps if t % 2 else 0) for t in range(e.shape[0])])
    drift = np.array([levels + t * amps for t in range(e.shape[0])])
    assert swing(flips)["alternation"] == pytest.approx(-1.0)
    assert swing(drift)["alternation"] == pytest.approx(1.0)
    assert swing(flips)["mean_change"] == pytest.approx(amps.mean())


def test_a_class_without_images_is_left_out():
    e = [[0.2, None, 0.8], [0.8, None, 0.2], [0.2, None, 0.8]]
    s = swing(e)
    assert s["alternation"] == pytest.approx(-1.0) and s["mean_change"] == pytest.approx(0.6)
    assert s["largest_class"] in (0, 2)
    assert swing([[0.2, 0.5], [0.8, np.nan]])["largest_class"] == 0
    with pytest.raises(ValueError, match="no class has an error in every epoch"):
        swing([[None, 0.1], [0.2, None]])


def test_independent_noise_alternates_near_minus_one_half():
    rng = np.random.default_rng(0)
    s = swing(0.3 + 0.02 * rng.standard_normal((400, 10)))
    assert s["alternation"] == pytest.approx(-0.5, abs=0.03)
    walk = swing(0.3 + 0.02 * np.cumsum(rng.standard_normal((400, 10)), axis=0))
    assert abs(walk["alternation"]) < 0.05


@pytest.mark.parametrize("bad", [np.zeros((1, 3)), np.zeros(4)])
def test_swing_needs_two_epochs_of_classes(bad):
    with pytest.raises(ValueError, match="at least 2 epochs"):
        swing(bad)


def _write_run(path, method, std_by_epoch, weights_key="class_weights", test_line=True):
    rd = RunDir(path)
    rd.create()
    rd.write_config({"method": method, "epochs": len(std_by_epoch)})
    for t, std in enumerate(std_by_epoch):
        line = {"epoch": t, "split": "val", "std_error": std, "rob_error": [min(1.0, v + 0.3) for v in std],
                "class_names": NAMES, "n_per_class": [100] * len(std)}
        if weights_key:
            line[weights_key] = [1 / len(std)] * len(std)
        rd.append_metrics(line)
        if test_line and t == len(std_by_epoch) - 1:
            rd.append_metrics({**line, "split": "test"})  # the closing test pass is not a validated epoch


def test_trace_reads_stage_seed_folders_and_keeps_the_validation_lines(tmp_path):
    _write_run(tmp_path / "frl" / "seed_0", "frl_reweight_remargin", [[0.2, 0.8, 0.3], [0.8, 0.2, 0.3], [0.2, 0.8, 0.3]])
    _write_run(tmp_path / "pgd_at" / "seed_0", "pgd_at", [[0.3, 0.4, 0.3], [0.31, 0.39, 0.3]], weights_key=None)
    _write_run(tmp_path / "short" / "seed_0", "pgd_at", [[0.3, 0.4, 0.3]])  # one validated epoch: left out
    res = controller_trace(tmp_path)
    assert [r["run"] for r in res["runs"]] == ["frl/seed_0", "pgd_at/seed_0"]
    frl, pgd = res["runs"]
    assert frl["epochs"] == [0, 1, 2] and frl["weights_key"] == "class_weights" and frl["method"] == "frl_reweight_remargin"
    assert frl["swing"]["alternation"] == pytest.approx(-1.0)
    assert pgd["weights"] is None and pgd["swing"]["mean_change"] == pytest.approx(0.02 / 3)
    md = controller_trace_markdown(res)
    assert "| frl/seed_0 | frl_reweight_remargin | 3 | 40.0 | +60.0 (a, 0→1) | -1.00 | b a b |" in md
    fig = draw_controller_trace(res)
    assert len(fig.axes) == 4  # two runs, errors and weights; the run without weights leaves its panel blank
    assert controller_trace(tmp_path / "frl" / "seed_0")["runs"][0]["run"] == "seed_0"  # one run directory


def test_trace_of_a_committed_frl_fine_tune_finds_its_swing():
    """The committed FRL runs with the TRADES loss (results/cpu/cifar10_frl_start18, docs/results.md): cat and dog
    trade places as the worst class every epoch."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "results" / "cpu" / "cifar10_frl_start18" / "frl_reweight_remargin_trades"
    if not root.exists():
        pytest.skip(f"{root} is not in this checkout")
    for r in controller_trace(root)["runs"]:
        worst = [r["class_names"][int(np.argmax(e))] for e in r["std_error"]]
        assert worst == ["dog", "cat", "dog", "cat"]
        assert r["swing"]["alternation"] < -0.9 and r["swing"]["mean_change"] > 0.15


def test_cli_writes_the_four_files_and_refuses_a_folder_without_runs(tmp_path, capsys):
    _write_run(tmp_path / "runs" / "frl" / "seed_0", "frl_reweight", [[0.2, 0.8, 0.3], [0.8, 0.2, 0.3], [0.2, 0.8, 0.3]])
    out = tmp_path / "out"
    assert main(["figures", "controller_trace", "--runs", str(tmp_path / "runs"), "--out", str(out)]) == 0
    for ext in ("png", "pdf", "json", "md"):
        assert (out / f"controller_trace.{ext}").stat().st_size > 100
    assert json.loads((out / "controller_trace.json").read_text())["runs"][0]["swing"]["alternation"] == pytest.approx(-1)
    capsys.readouterr()
    (tmp_path / "empty").mkdir()
    assert main(["figures", "controller_trace", "--runs", str(tmp_path / "empty"), "--out", str(tmp_path / "o2")]) == 2
    err = capsys.readouterr().err
    assert "no run with two or more validated epochs" in err and err.count("\n") == 1
    assert not (tmp_path / "o2" / "controller_trace.json").exists()


def test_a_validation_line_without_class_errors_is_named(tmp_path, capsys):
    rd = RunDir(tmp_path / "run")
    rd.create()
    for t in range(2):
        rd.append_metrics({"epoch": t, "split": "val", "rob_error": [0.5, 0.5]})
    with pytest.raises(BadResults, match="metrics.jsonl: a validation line lacks"):
        controller_trace(tmp_path / "run")
    assert main(["figures", "controller_trace", "--runs", str(tmp_path / "run"), "--out", str(tmp_path / "o")]) == 2
    assert "lacks class-wise errors" in capsys.readouterr().err
    with pytest.raises(MissingResults):
        controller_trace(tmp_path / "nothing-here")


def test_weights_only_where_every_epoch_logs_them_and_the_last_line_of_an_epoch_counts(tmp_path):
    run = tmp_path / "run"
    _write_run(run, "wat", [[0.2, 0.8, 0.3], [0.8, 0.2, 0.3], [0.2, 0.8, 0.3]], weights_key="wat_weights")
    rd = RunDir(run)
    lines = rd.read_metrics()
    del lines[0]["wat_weights"]  # the first epoch logged none
    lines.append({**lines[2], "std_error": [0.5, 0.5, 0.3]})  # epoch 2 again (a later line wins)
    rd.metrics_path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    r = controller_trace(run)["runs"][0]
    assert r["weights"] is None and r["weights_key"] is None
    assert r["std_error"][-1] == [0.5, 0.5, 0.3] and r["epochs"] == [0, 1, 2]


def test_a_ragged_line_is_bad_results_and_many_runs_say_they_were_cut(tmp_path, monkeypatch):
    for i in range(3):
        _write_run(tmp_path / f"m{i}" / "seed_0", "pgd_at", [[0.2, 0.8, 0.3], [0.8, 0.2, 0.3]], weights_key=None)
    monkeypatch.setattr(controller, "MAX_ROWS", 2)
    fig = draw_controller_trace(controller_trace(tmp_path))
    assert len(fig.axes) == 2 and "the first 2 of 3 runs" in fig._suptitle.get_text()
    rd = RunDir(tmp_path / "m0" / "seed_0")
    rd.append_metrics({"epoch": 2, "split": "val", "std_error": [0.1], "rob_error": [0.2]})
    with pytest.raises(BadResults, match="std_error has fewer than 3 classes"):
        controller_trace(tmp_path)
