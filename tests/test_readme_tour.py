"""The README's tour runs: every ``frl`` command between its tour markers, in order, at a tiny size where it
trains, and its Python example (issue 28: the README is a front door whose commands work)."""

import re
import shlex
from pathlib import Path

from frl.cli import main

ROOT = Path(__file__).resolve().parents[1]

# what makes a command tiny: appended to it (the README's commands run at their real size elsewhere)
TINY = {
    "train": ["--epochs", "1", "--attack-steps", "1", "--eval-steps", "1", "--val-per-class", "5",
              "--test-every", "0", "--no-progress"],
    "demo": ["--quick", "--pretrain-epochs", "1", "--frl-epochs", "1", "--threads", "1"],
    "eval": ["--steps", "2"],
}


def tour_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- tour:start -->\n(.*?)<!-- tour:end -->", text, re.S)
    assert block is not None, "the README has no tour block"
    lines = [line.split("  #")[0].strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line.startswith("frl ")]


def test_the_tour_names_one_command_of_each_kind():
    kinds = {shlex.split(c)[1] for c in tour_commands()}
    assert {"theory", "demo", "train", "eval", "compare", "figures"} <= kinds


def test_every_command_of_the_readme_tour_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for command in tour_commands():
        argv = shlex.split(command)[1:]
        assert main([*argv, *TINY.get(argv[0], [])]) == 0, (command, capsys.readouterr().err)
    assert (tmp_path / "compare_out" / "compare.json").exists() and (tmp_path / "report.html").exists()
    assert (tmp_path / "runs" / "frl_reweight_remargin" / "eval.json").exists()


def test_the_readme_python_example_runs(tmp_path, monkeypatch):
    text = (ROOT / "README.md").read_text()
    code = re.search(r"From Python, the same runs:\n\n```python\n(.*?)```", text, re.S)
    assert code is not None
    monkeypatch.chdir(tmp_path)
    exec(compile(code.group(1).replace("steps=20", "steps=2"), "README.md", "exec"), {})
    assert (tmp_path / "runs" / "py_pgd_at" / "checkpoint.pt").exists()
