"""Run directories that survive misuse: one writer, resume that never destroys, subsets beside the full
result, empty splits refused, and failed writes that leave the directory as it was."""

import errno
import hashlib
import json
import os
import socket
import subprocess
import sys

import pytest
import torch

from deep.run_dir import RunDir
from frl.cli import main

TINY = ["--dataset", "digits", "--method", "pgd_at", "--attack-steps", "1", "--eval-steps", "1", "--val-per-class",
        "5"]


def _snapshot(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _train(out, *extra, epochs=2):
    return main(["train", *TINY, "--epochs", str(epochs), "--out", str(out), *extra])


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("safety") / "run"
    assert _train(out, epochs=3) == 0
    return out


def _copy(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


def _one_line(capsys):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


# --- one writer ------------------------------------------------------------------------------------


def test_a_second_writer_is_refused_naming_the_holder(finished, tmp_path, capsys):
    run = _copy(finished, tmp_path / "run")
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (run / RunDir.LOCK).write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname(),
                                                   "command": "frl train"}))
        before = _snapshot(run)
        capsys.readouterr()
        assert _train(run, "--resume", epochs=3) == 2
        err = _one_line(capsys)
        assert f"in use by frl train (pid {holder.pid}" in err
        assert main(["eval", str(run), "--limit", "5"]) == 2
        assert f"pid {holder.pid}" in _one_line(capsys)
        assert _snapshot(run) == before
    finally:
        holder.kill()
        holder.wait()


def test_the_lock_of_a_dead_process_is_taken_over_and_released(finished, tmp_path, capsys):
    run = _copy(finished, tmp_path / "run")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (run / RunDir.LOCK).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "command": "frl train"}))
    assert main(["eval", str(run), "--limit", "5", "--steps", "1"]) == 0
    assert not (run / RunDir.LOCK).exists() and (run / "eval_limit5.json").exists()


def test_two_trainings_on_one_directory_cannot_interleave(tmp_path):
    """Two real processes started together on one --out: exactly one trains, the other is refused."""
    cmd = [sys.executable, "-m", "frl", "train", *TINY, "--epochs", "2", "--out", str(tmp_path / "run")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([*cmd, "--seed", str(s)], env=env, stderr=subprocess.PIPE, text=True) for s in (0, 1)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    assert sorted(code for code, _ in results) == [0, 2], results
    refused = next(err for code, err in results if code == 2)
    assert "in use by frl train" in refused or "already holds a run" in refused
    lines = [json.loads(line) for line in open(tmp_path / "run" / RunDir.METRICS)]
    assert [(r["epoch"], r["split"]) for r in lines] == [(0, "val"), (0, "test"), (1, "val"), (1, "test")]
    assert json.loads((tmp_path / "run" / RunDir.CONFIG).read_text())["seed"] in (0, 1)


# --- resume never destroys -----------------------------------------------------------------------


def test_a_corrupt_metrics_line_is_kept_aside_not_deleted_with_what_follows(finished, tmp_path, capsys):
    run = _copy(finished, tmp_path / "run")
    lines = (run / RunDir.METRICS).read_text().splitlines()
    assert len(lines) == 6  # val and test lines of three epochs
    lines[1] = lines[1][: len(lines[1]) // 2]  # a line damaged in the middle of the file
    (run / RunDir.METRICS).write_text("\n".join(lines) + "\n")
    assert _train(run, "--resume", epochs=3) == 0
    assert "1 unreadable line(s) of metrics.jsonl kept aside in metrics.jsonl.corrupt" in capsys.readouterr().err
    kept = [json.loads(line) for line in (run / RunDir.METRICS).read_text().splitlines()]
    assert len(kept) == 5 and [r["epoch"] for r in kept] == [0, 1, 1, 2, 2]
    assert (run / RunDir.CORRUPT).read_text() == lines[1] + "\n"


def test_resume_without_config_json_is_refused_and_changes_nothing(finished, tmp_path, capsys):
    run = _copy(finished, tmp_path / "run")
    (run / RunDir.CONFIG).unlink()
    before = _snapshot(run)
    capsys.readouterr()
    assert _train(run, "--resume", epochs=3) == 2
    assert "no config.json" in _one_line(capsys)
    assert _snapshot(run) == before


def test_a_folder_with_results_but_no_checkpoint_is_a_run_and_is_not_overwritten(finished, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    for name in (RunDir.CONFIG, RunDir.EVAL):
        (run / name).write_bytes((finished / name).read_bytes() if (finished / name).exists() else b"{}")
    before = _snapshot(run)
    capsys.readouterr()
    assert _train(run, epochs=3) == 2
    assert "already holds a run (config.json, eval.json)" in _one_line(capsys)
    assert _train(run, "--resume", epochs=3) == 2
    assert "no checkpoint.pt but holds results eval.json" in _one_line(capsys)
    assert _snapshot(run) == before


def test_a_subset_evaluation_never_replaces_the_full_result(finished, tmp_path, capsys):
    run = _copy(finished, tmp_path / "run")
    assert main(["eval", str(run), "--steps", "1"]) == 0
    full = (run / RunDir.EVAL).read_bytes()
    assert main(["eval", str(run), "--steps", "1", "--limit", "20"]) == 0
    assert main(["eval", str(run), "--steps", "1", "--split", "val"]) == 0
    assert (run / RunDir.EVAL).read_bytes() == full
    subset = json.loads((run / "eval_limit20.json").read_text())
    assert sum(subset["n_per_class"]) == 20
    assert all((e is None) == (n == 0) for e, n in zip(subset["std_error"], subset["n_per_class"]))
    assert sum(json.loads((run / "eval_val.json").read_text())["n_per_class"]) == 50


# --- empty splits --------------------------------------------------------------------------------


def test_no_validation_split_means_no_validation_score(tmp_path, capsys):
    out = tmp_path / "noval"
    assert main(["train", *TINY, "--val-per-class", "0", "--epochs", "2", "--out", str(out)]) == 0
    splits = [json.loads(line)["split"] for line in open(out / RunDir.METRICS)]
    assert splits == ["test", "test"] and not (out / RunDir.BEST).exists()
    capsys.readouterr()
    assert main(["eval", str(out), "--split", "val"]) == 2
    err = _one_line(capsys)
    assert "the val split of" in err and "is empty" in err
    assert main(["train", "--dataset", "digits", "--method", "frl_reweight", "--init", str(out), "--val-per-class",
                 "0", "--out", str(tmp_path / "frl")]) == 2
    assert "val_per_class == 0: frl_reweight reads class-wise validation errors" in _one_line(capsys)


# --- faults ---------------------------------------------------------------------------------------


def test_a_full_disk_is_one_line_leaves_no_tmp_and_the_last_checkpoint_resumes(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    real_save = torch.save
    calls = []

    def save_until_the_disk_fills(obj, f, *args, **kwargs):
        calls.append(f)
        if len(calls) > 2:  # best.pt and checkpoint.pt of epoch 1 fit; then the disk is full
            with open(f, "wb") as fh:
                fh.write(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_until_the_disk_fills)
    capsys.readouterr()
    assert _train(out, epochs=3) == 2
    lines = capsys.readouterr().err.splitlines()  # epoch 1's progress line, then the error
    assert len(lines) == 2 and lines[0].startswith("epoch 1/3") and "Traceback" not in lines[1]
    assert lines[1].startswith("frl train: error: cannot write") and "No space left on device" in lines[1]
    assert not list(out.glob("*.tmp")) and not (out / RunDir.LOCK).exists()
    assert torch.load(out / RunDir.CHECKPOINT, weights_only=False)["epoch"] == 0
    monkeypatch.setattr(torch, "save", real_save)
    assert _train(out, "--resume", epochs=3) == 0
    assert [json.loads(line)["epoch"] for line in open(out / RunDir.METRICS)][-1] == 2


def test_an_unwritable_result_path_is_one_line(finished, tmp_path, capsys):
    run = _copy(finished, tmp_path / "run")
    before = _snapshot(run)
    capsys.readouterr()
    assert main(["eval", str(run), "--limit", "5", "--steps", "1", "--out", str(tmp_path / "no" / "dir" / "x.json")]) == 2
    assert "cannot write" in _one_line(capsys)
    assert _snapshot(run) == before


# --- the remaining cases, one line each ------------------------------------------------------


@pytest.mark.parametrize("argv,needle", [
    (["train", "--method", "pgd_at", "--eps", "1e300", "--out", "{tmp}/r"], "eps == 1e+300, must be in [0, 1]"),
    (["train", "--method", "pgd_at", "--norm", "l2", "--eps", "1e300", "--out", "{tmp}/r"], "must be in [0, 10000]"),
    (["eval", "{run}", "--eps", "1e300"], "--eps == 1e+300, must be in [0, 1]"),
    (["theory", "--d", "1000000000"], "--d 1000000000: at most 100000"),
    (["theory", "--K", "1e300"], "overflow double precision"),
    (["run", "{tmp}"], "is a directory, not a TOML config file"),
])
def test_extreme_values_and_wrong_paths_are_one_line(finished, tmp_path, capsys, argv, needle):
    argv = [a.replace("{tmp}", str(tmp_path)).replace("{run}", str(finished)) for a in argv]
    before = _snapshot(finished)
    capsys.readouterr()
    assert main(argv) == 2
    assert needle in _one_line(capsys)
    assert _snapshot(finished) == before


@pytest.mark.parametrize("edit,needle", [
    (lambda cfg: [1], "expected a JSON object"),
    (lambda cfg: {**cfg, "eps": "abc"}, "eps: not a number"),
    (lambda cfg: {**cfg, "model": "preact_resnet18"}, "does not fit the preact_resnet18"),
    (lambda cfg: {**cfg, "epochs": 0}, "epochs == 0, must be >= 1"),
])
def test_an_edited_config_json_is_one_line_naming_the_file(finished, tmp_path, capsys, edit, needle):
    run = _copy(finished, tmp_path / "run")
    (run / RunDir.CONFIG).write_text(json.dumps(edit(json.loads((run / RunDir.CONFIG).read_text()))))
    before = _snapshot(run)
    capsys.readouterr()
    assert main(["eval", str(run), "--limit", "5", "--steps", "1"]) == 2
    err = _one_line(capsys)
    assert needle in err and "config.json" in err
    assert _snapshot(run) == before


def test_figures_all_and_report_skip_a_bad_results_file_and_draw_the_rest(finished, tmp_path, capsys):
    runs = tmp_path / "runs"
    good = _copy(finished, runs / "fig1" / "natural")
    assert main(["eval", str(good), "--steps", "1"]) == 0
    bad = _copy(finished, runs / "table2" / "pgd_at")
    (bad / RunDir.EVAL).write_text('{"avg": {"std_error": 0.1}, "worst": {}}')  # truncated by hand
    (runs / "fig3").mkdir()
    (runs / "fig3" / RunDir.ABLATION).write_text('{"class": 3}')
    capsys.readouterr()
    assert main(["figures", "all", "--runs", str(runs), "--out", str(tmp_path / "figs")]) == 0
    out = capsys.readouterr().out
    assert "table2: skipped" in out and "eval.json is not a valid result file" in out
    assert "fig3: skipped" in out and "ablation.json is not an ablation design" in out
    assert (tmp_path / "figs" / "fig1.png").exists()
    assert main(["figures", "table2", "--runs", str(runs), "--out", str(tmp_path / "figs")]) == 2
    assert "table2/pgd_at/eval.json is not a valid result file" in _one_line(capsys)
    assert main(["report", str(runs), "--out", str(tmp_path / "report.md")]) == 0
    report = (tmp_path / "report.md").read_text()
    assert "fig1" in report and "eval.json is not a valid result file" in report
    settings = report.split("## Run settings")[1]
    table = [line.strip("|").split("|") for line in settings.splitlines() if line.startswith("| ")]
    header = [c.strip() for c in table[0]]
    row = next([c.strip() for c in r] for r in table if r[0].strip() == "fig1/natural")
    assert row[header.index("method")] == "pgd_at" and row[header.index("eps")] != ""
    assert row[header.index("beta")] == row[header.index("sigma")] == row[header.index("tau1")] == ""  # not PGD-AT's


def test_without_a_terminal_a_long_epoch_reports_its_batches(tmp_path, capsys, monkeypatch):
    import deep.train

    monkeypatch.setattr(deep.train, "PROGRESS_EVERY_S", 0.0)  # every batch, instead of every 30 s
    assert main(["train", *TINY, "--epochs", "1", "--batch-size", "256", "--out", str(tmp_path / "r")]) == 0
    lines = [l for l in capsys.readouterr().err.splitlines() if ": batch " in l]
    assert lines[0].startswith("epoch 1/1: batch 1/6, loss ") and lines[-1].startswith("epoch 1/1: batch 6/6")
    assert main(["train", *TINY, "--epochs", "1", "--batch-size", "256", "--no-progress",
                 "--out", str(tmp_path / "quiet")]) == 0
    assert ": batch " not in capsys.readouterr().err
