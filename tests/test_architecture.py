"""The layering of the code: the library never imports the CLI, no import cycle anywhere, the loop stays
small, and the Python API, the CLI and a TOML file give a run the same settings."""

import ast
import json
from pathlib import Path

import pytest

from deep.config import TrainConfig
from deep.pipeline import stage_config
from deep.runs import train_run
from frl.cli import main

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("deep", "gaussian_theory", "figures", "frl")
LIBRARY = ("deep", "gaussian_theory", "figures")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """{module: project modules it imports anywhere in its file (function-level imports included)}."""
    files = {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    graph = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            edges |= {t for t in targets if t in files and t != name}
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_cycle_finder_finds_a_cycle_and_only_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_graph_sees_relative_and_function_level_imports():
    graph = import_graph()
    assert "deep.methods.base" in graph["deep.methods.frl"]  # from .base import ...
    assert "deep.runs" in graph["frl.commands.evaluate"]  # imported inside run()


def test_no_import_cycle_anywhere():
    assert find_cycle(import_graph()) is None


def test_the_library_never_imports_the_command_line():
    graph = import_graph()
    offenders = {m: sorted(t for t in targets if t.split(".")[0] == "frl")
                 for m, targets in graph.items() if m.split(".")[0] in LIBRARY}
    assert {m: t for m, t in offenders.items() if t} == {}


# the size guard: no function (method included) over 50 lines, no class over 200, in any package
FUNCTION_LINES, CLASS_LINES = 50, 200


def long_definitions(packages=PACKAGES) -> list[str]:
    """"path:name (lines)" of every function over FUNCTION_LINES and every class over CLASS_LINES lines."""
    long = []
    for pkg in packages:
        for path in (ROOT / pkg).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                size = getattr(node, "end_lineno", 0) - getattr(node, "lineno", 0) + 1
                limit = (FUNCTION_LINES if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else
                         CLASS_LINES if isinstance(node, ast.ClassDef) else None)
                if limit is not None and size > limit:
                    long.append(f"{path.relative_to(ROOT)}:{node.name} ({size} lines)")
    return long


def test_the_loop_stays_small_and_no_function_or_class_anywhere_is_long():
    assert len((ROOT / "deep" / "train.py").read_text().splitlines()) <= 250
    assert long_definitions() == []


def test_the_size_guard_sees_a_long_function_and_a_long_class(tmp_path, monkeypatch):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    body = "\n".join(f"    x{i} = {i}" for i in range(FUNCTION_LINES))
    (pkg / "m.py").write_text(f"def f():\n{body}\n\n\nclass C:\n" + "\n".join(
        f"    def g{i}(self):\n        return {i}\n" for i in range(CLASS_LINES // 3 + 1)))
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    assert long_definitions(("pkg",)) == [f"pkg/m.py:f ({FUNCTION_LINES + 1} lines)",
                                          f"pkg/m.py:C ({3 * (CLASS_LINES // 3 + 1)} lines)"]


def test_the_config_and_the_run_directory_stay_small():
    for path, limit in (("deep/config.py", 250), ("deep/run_dir.py", 250), ("README.md", 200)):
        assert len((ROOT / path).read_text().splitlines()) <= limit, path


RECORDED = {"out", "git_commit", "package_version", "torch_version"}


def _saved(run_dir) -> dict:
    return {k: v for k, v in json.loads((Path(run_dir) / "config.json").read_text()).items() if k not in RECORDED}


def test_python_api_and_cli_give_a_run_the_same_settings(tmp_path):
    train_run(TrainConfig(method="pgd_at", epochs=1, attack_steps=1, eval_steps=1, out=str(tmp_path / "py")),
              log=lambda m: None)
    assert main(["train", "--method", "pgd_at", "--epochs", "1", "--attack-steps", "1", "--eval-steps", "1",
                 "--out", str(tmp_path / "cli")]) == 0
    py, cli = _saved(tmp_path / "py"), _saved(tmp_path / "cli")
    assert py == cli
    assert (py["batch_size"], py["lr"], py["val_per_class"]) == (16, 0.1, 30)  # the digits defaults


@pytest.mark.parametrize("method", ["frl_reweight_remargin", "baseline_reweight", "trades"])
def test_the_three_ways_agree_on_dataset_and_fine_tuning_defaults(method):
    from frl.train_flags import add_train_arguments, config_from_args
    from frl.cli import _Parser

    parser = _Parser(prog="frl train")
    add_train_arguments(parser)
    init = ["--init", "runs/t/pgd_at"] if method != "trades" else []
    from_cli = config_from_args(parser.parse_args(["--dataset", "cifar10", "--method", method, "--out", "runs/t/x",
                                                   *init]))
    from_python = TrainConfig(dataset="cifar10", method=method, out="runs/t/x",
                              init="runs/t/pgd_at" if init else None)
    from_toml = stage_config({"run": {"name": "x", "table": "t"},
                              "train": {"dataset": "cifar10", "method": method,
                                        **({"init": "pgd_at"} if init else {})}}, "runs")
    from_toml.resume = False
    assert from_cli == from_python == from_toml
    finetunes = method != "trades"
    assert (from_python.epochs, from_python.lr, from_python.lr_step_every) == ((40, 1e-3, 40) if finetunes
                                                                               else (200, 0.1, 0))


def test_building_the_command_line_imports_no_torch():
    """``frl theory`` and ``frl --help`` stay fast: the method registry (torch) is read only when needed."""
    import subprocess
    import sys

    code = "import sys, frl.cli; frl.cli.build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_a_bug_keeps_its_traceback_while_a_user_mistake_is_one_line(monkeypatch, capsys, tmp_path):
    import deep.runs

    monkeypatch.chdir(tmp_path)
    (tmp_path / "some" / "run").mkdir(parents=True)

    def broken(*args, **kwargs):
        raise ValueError("an internal bug, not the user's mistake")

    monkeypatch.setattr(deep.runs, "evaluate_run", broken)
    with pytest.raises(ValueError, match="internal bug"):
        main(["eval", "some/run"])

    def user_mistake(*args, **kwargs):
        from deep.errors import RunDirError

        raise RunDirError("some/run has no model")

    monkeypatch.setattr(deep.runs, "evaluate_run", user_mistake)
    assert main(["eval", "some/run"]) == 2
    assert capsys.readouterr().err == "frl eval: error: some/run has no model\n"
