"""Result writers that never destroy what they should not (issue 26): --out of frl eval / certify, and a
real full disk (a file-size limit) while a checkpoint is written."""

import json
import os
import resource
import subprocess
import sys

import pytest

from frl.cli import main

TINY = ["--dataset", "digits", "--method", "pgd_at", "--epochs", "1", "--eps", "0.2", "--attack-steps", "1",
        "--eval-steps", "1", "--test-every", "0"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("guards") / "run"
    assert main(["train", *TINY, "--out", str(out)]) == 0
    return out


def _one_line_exit_2(argv, capsys):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize("target", ["checkpoint.pt", "best.pt", "config.json", "metrics.jsonl", "x.pt.tmp"])
def test_eval_out_never_replaces_a_file_of_a_run(run, target, capsys, tmp_path):
    other = tmp_path / "other"
    assert main(["train", *TINY, "--out", str(other)]) == 0
    capsys.readouterr()
    for folder in (run, other):  # its own run directory and another one
        path = folder / target
        before = path.read_bytes() if path.exists() else None
        err = _one_line_exit_2(["eval", str(run), "--steps", "1", "--limit", "10", "--out", str(path)], capsys)
        assert "would replace a file of a run directory" in err
        assert (path.read_bytes() if path.exists() else None) == before


def test_eval_out_refuses_an_empty_name_a_directory_and_a_file_that_is_no_eval(run, capsys, tmp_path):
    assert "is empty" in _one_line_exit_2(["eval", str(run), "--out", ""], capsys)
    assert "is a directory" in _one_line_exit_2(["eval", str(run), "--out", str(tmp_path)], capsys)
    notes = tmp_path / "notes.json"
    notes.write_text('{"mine": 1}')
    assert "is not a eval result" in _one_line_exit_2(["eval", str(run), "--steps", "1", "--out", str(notes)], capsys)
    assert notes.read_text() == '{"mine": 1}'
    # an earlier eval result may be replaced by a new one
    res = tmp_path / "res.json"
    for _ in range(2):
        assert main(["eval", str(run), "--steps", "1", "--limit", "10", "--out", str(res)]) == 0
    assert json.loads(res.read_text())["result_kind"] == "eval"


def test_a_full_disk_while_writing_a_checkpoint_is_one_line_and_leaves_no_tmp(tmp_path):
    """torch.save under a real file-size limit raises RuntimeError ("unexpected pos"), not OSError."""
    out = tmp_path / "r"
    limit = 64 * 1024  # config and metrics fit; the checkpoint does not

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run([sys.executable, "-m", "frl.cli", "train", *TINY, "--out", str(out)], preexec_fn=small_files,
                          capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert lines[-1].startswith("frl train: error: cannot write") and lines[-1].endswith(
        ".pt: the disk is full or a file-size limit was reached"), lines[-1]
    assert not list(out.glob("*.tmp")) and not list(out.glob("*.pt"))  # no half-written model anywhere


def test_compare_under_a_full_disk_keeps_the_previous_set_of_files_whole(tmp_path):
    from test_compare import _eval_file

    for method, rob in (("trades", 0.5), ("wat", 0.45)):
        d = tmp_path / "runs" / method / "seed_0"
        d.mkdir(parents=True)
        (d / "eval.json").write_text(json.dumps(_eval_file(0.2, rob)))
    out = tmp_path / "cmp"
    assert main(["compare", str(tmp_path / "runs"), "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(before) == ["compare.json", "compare.md", "compare.pdf", "compare.png"]
    (tmp_path / "runs" / "wat" / "seed_0" / "eval.json").write_text(json.dumps(_eval_file(0.1, 0.3)))  # a new result
    limit = max(len(before["compare.md"]), 4096) + 1024  # the Markdown fits, the figure does not

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run([sys.executable, "-m", "frl.cli", "compare", str(tmp_path / "runs"), "--out", str(out)],
                          preexec_fn=small_files, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "cannot write" in proc.stderr, proc.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # all four as they were, no *.tmp


@pytest.mark.parametrize("text,needle", [
    ('[run]\nname = "a"\ncompre = "x"\n[train]\nmethod = "pgd_at"\n', "unknown key 'compre' in [run] (did you mean compare?)"),
    ('[run]\nname = "a"\nseeds = [0, 1]\n[train]\nmethod = "pgd_at"\n', "frl run --seeds"),
    ('[run]\nname = "a"\n[[stage]]\nname = "s"\ncheckpont = "best"\n[stage.train]\nmethod = "pgd_at"\n',
     "unknown key 'checkpont' in [[stage]] 's' (did you mean checkpoint?)"),
    ('[run]\nname = "a"\n[[stage]]\nname = "s"\n[stage.train]\nmethod = "pgd_at"\n'
     '[[stage]]\nname = "s"\n[stage.train]\nmethod = "pgd_at"\n', "two stages are named 's'"),
    ('[run]\nname = "a"\n[[stage]]\nname = "f"\n[stage.train]\nmethod = "frl_reweight"\ninit = "p"\n'
     '[[stage]]\nname = "p"\n[stage.train]\nmethod = "pgd_at"\n', "starts from 'p' (init), which is not an earlier"),
    ('[run]\nname = "a\\u0000b"\n[train]\nmethod = "pgd_at"\n', "names must be folder names"),
])
def test_a_pipeline_with_an_unknown_key_or_an_impossible_stage_order_is_refused_before_training(tmp_path, capsys,
                                                                                               text, needle):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    err = _one_line_exit_2(["run", str(cfg), "--runs", str(tmp_path / "runs")], capsys)
    assert needle in err
    assert not (tmp_path / "runs").exists()  # nothing trained, nothing written


def test_a_seed_torch_cannot_take_is_refused_before_anything_runs(tmp_path, capsys):
    huge = str(2 ** 64)
    assert "in [0, 2**63)" in _one_line_exit_2(["run", "configs/compare/digits.toml", "--runs",
                                                        str(tmp_path / "r"), "--seeds", huge], capsys)
    assert not (tmp_path / "r").exists()
    assert "must be in [0, 2**63)" in _one_line_exit_2(["train", *TINY, "--seed", huge, "--out", str(tmp_path / "t")],
                                                       capsys)
