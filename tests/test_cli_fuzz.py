"""Fuzzing the command line with bad input: every flag of every subcommand, bad TOML and bad results files.

Each case must exit with status 2, print exactly one line on stderr that names the flag or the file,
print no traceback, and leave every file of an existing run directory as it was. Only validation
runs here (no training), so the whole module takes seconds.
"""

import argparse
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deep.config import TrainConfig
from deep.runs import train_run
from frl.cli import build_parser, main

# capsys is read out before every call, so sharing it across examples is safe
HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=HEALTH)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("fuzz") / "run"
    train_run(TrainConfig(method="pgd_at", epochs=1, attack_steps=1, eval_steps=1, val_per_class=5, test_every=0,
                          out=str(out)), log=lambda m: None)
    return out


def _snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _valid_argv(command: str, run: Path, tmp: Path) -> list[str]:
    """A command line that parses (the bad flag is appended to it)."""
    return {
        "theory": ["theory"],
        "figures": ["figures", "table2", "--runs", str(tmp / "runs"), "--out", str(tmp / "figs")],
        "train": ["train", "--out", str(tmp / "new")],
        "eval": ["eval", str(run)],
        "demo": ["demo", "--out", str(tmp / "demo")],
        "run": ["run", str(tmp / "none.toml")],
        "ablation": ["ablation", "fig3", "--out", str(tmp / "abl")],
        "certify": ["certify", str(run), "--sigma", "0.25"],
        "prepare-cifar10": ["prepare-cifar10", str(tmp / "none"), "--out", str(tmp / "prep")],
        "report": ["report", str(tmp / "runs")],
        "compare": ["compare", str(tmp / "runs")],
    }[command]


def _value_flags():
    """(command, flag, kind) for every flag that takes a value: kind is number, whole, choice or text."""
    from frl.parsing import number, whole

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    out = []
    for command, p in sub.choices.items():
        for action in p._actions:
            if not action.option_strings or action.nargs == 0 or isinstance(action, argparse._HelpAction):
                continue
            flag = max(action.option_strings, key=len)
            kind = ("choice" if action.choices is not None else
                    "number" if getattr(action.type, "__name__", "") in ("parse_number", number.__name__) else
                    "whole" if getattr(action.type, "__name__", "") in ("parse_whole", whole.__name__) else "text")
            out.append((command, flag, kind))
    return out


VALUE_FLAGS = _value_flags()
TYPED = [(c, f, k) for c, f, k in VALUE_FLAGS if k != "text"]
NOT_NUMBERS = st.one_of(st.sampled_from(["abc", "nan", "inf", "-inf", "1/0", "", "1e999", "0x10", "--"]),
                        st.text(alphabet="abcxyz!@#", min_size=1, max_size=8))


def _assert_one_line_error(capsys, needle):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert needle in err, err


def test_the_fuzzer_sees_every_subcommand_and_the_typed_flags():
    commands = {c for c, _, _ in VALUE_FLAGS}
    assert commands == {"theory", "figures", "train", "eval", "demo", "run", "ablation", "certify",
                        "prepare-cifar10", "report", "compare"}
    kinds = {(c, f): k for c, f, k in VALUE_FLAGS}
    assert kinds[("train", "--eps")] == "number" and kinds[("train", "--epochs")] == "whole"
    assert kinds[("train", "--method")] == "choice" and kinds[("eval", "--steps")] == "whole"


@SETTINGS
@given(case=st.sampled_from(TYPED), data=st.data())
def test_a_value_of_the_wrong_type_for_any_flag_is_one_line_naming_it(run_dir, tmp_path_factory, capsys, case, data):
    command, flag, kind = case
    value = data.draw(NOT_NUMBERS if kind != "choice" else st.sampled_from(["bogus", "", "NATURAL", "1"]))
    if kind == "whole":
        value = data.draw(st.one_of(st.just(value), st.sampled_from(["1.5", "2e3", "1/2"])))
    tmp = tmp_path_factory.mktemp("case")
    before = _snapshot(run_dir)
    capsys.readouterr()
    assert main([*_valid_argv(command, run_dir, tmp), f"{flag}={value}"]) == 2
    _assert_one_line_error(capsys, flag)
    assert _snapshot(run_dir) == before


RANGED = [f for f in TrainConfig.__dataclass_fields__.values()
          if f.metadata["kind"] in ("number", "whole") and f.metadata["check"] is not None]


@SETTINGS
@given(field=st.sampled_from(RANGED), data=st.data())
def test_an_out_of_range_training_setting_is_one_line_naming_it(tmp_path_factory, capsys, field, data):
    """Negative values break every numeric constraint of TrainConfig (all ask for >= 0, > 0 or a fraction)."""
    value = data.draw(st.one_of(st.integers(-10**6, -1), st.floats(-1e300, -1e-9)))
    if field.metadata["kind"] == "whole":
        value = int(value) if value <= -1 else -1
    tmp = tmp_path_factory.mktemp("range")
    capsys.readouterr()
    flag = "--" + field.name.replace("_", "-")
    assert main(["train", "--method", "pgd_at", "--out", str(tmp / "r"), f"{flag}={value!r}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert field.name in err or flag in err, err
    assert not (tmp / "r").exists()  # nothing was created


@SETTINGS
@given(blob=st.one_of(st.binary(min_size=1, max_size=200),
                      st.sampled_from([b"[run\n", b"\xff\xfe[run]", b"name = 5", b"[run]\nname = 5\n[train]\n",
                                       b"[run]\nname = 'a'\n[train]\nepochs = 'many'\n",
                                       b"[run]\nname = '../x'\n[train]\n",
                                       b"[run]\nname = 'a'\n[train]\nlr_setp_every = 3\n",
                                       b"[run]\nname = 'a'\n[train]\n[certify]\nsigma = 'abc'\n",
                                       b"[run]\nname = 'a'\n[[stage]]\nname = 1\n"])))
def test_a_bad_toml_file_is_one_line_naming_it(tmp_path_factory, capsys, blob):
    tmp = tmp_path_factory.mktemp("toml")
    cfg = tmp / "bad.toml"
    cfg.write_bytes(blob)
    capsys.readouterr()
    assert main(["run", str(cfg), "--runs", str(tmp / "runs")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert "bad.toml" in err, err
    assert not (tmp / "runs").exists() or not any((tmp / "runs").rglob("*.json"))


JSON_VALUES = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                                     st.text(max_size=5)),
                           lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                   st.dictionaries(st.text(max_size=5), inner, max_size=4)),
                           max_leaves=12)


@settings(max_examples=25, deadline=None, suppress_health_check=HEALTH)
@given(content=st.one_of(JSON_VALUES.map(json.dumps), st.sampled_from(['{"avg": {}', "", "\x00\x01", "[1]"])),
       which=st.sampled_from(["config.json", "eval.json"]))
def test_a_bad_results_or_config_file_is_one_line_naming_it(run_dir, tmp_path_factory, capsys, content, which):
    tmp = tmp_path_factory.mktemp("files")
    run = tmp / "runs" / "table2" / "pgd_at"
    shutil.copytree(run_dir, run)
    (run / which).write_text(content)
    before = _snapshot(run)
    capsys.readouterr()
    if which == "config.json":
        code = main(["eval", str(run), "--limit", "5", "--steps", "1"])
    else:
        code = main(["figures", "table2", "--runs", str(tmp / "runs"), "--out", str(tmp / "figs")])
    err = capsys.readouterr().err
    if code == 0:  # the file happened to be valid
        return
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert which in err, err
    assert _snapshot(run) == before


GARBAGE = st.one_of(st.sampled_from(["abc", "nan", "", ",", "1,,x", "=", "3=", "=2", "x=y", "3=-1", "3=inf", "-1",
                                     "0", "1e999", "two"]),
                    st.text(alphabet="abcxyz!@#=,.-0123456789", min_size=1, max_size=10).filter(
                        lambda t: not t.startswith("-") or t.lstrip("-").replace(".", "").isdigit()))
# (command line without the flag, flag, what the message names); every value drawn is invalid for the flag
STRUCTURED = [
    (["train", "--out", "{tmp}/new"], "--lr-milestones", "milestones"),
    (["train", "--out", "{tmp}/new"], "--class-eps", "class"),
    (["train", "--out", "{tmp}/new"], "--class-bndy-weight", "class"),
    (["train", "--out", "{tmp}/new"], "--device", "device"),
    (["eval", "{run}"], "--attack", "--attack"),
    (["eval", "{run}"], "--version", "--version"),
    (["eval", "{run}"], "--device", "--device"),
    (["certify", "{run}", "--sigma", "0.25"], "--device", "--device"),
    (["run", "{tmp}/none.toml"], "--device", "--device"),
    (["ablation", "fig3", "--class", "3", "--init", "x", "--dataset", "digits", "--out", "{tmp}/a"], "--weights",
     "--weights"),
    (["ablation", "fig3", "--class", "3", "--init", "x", "--dataset", "digits", "--out", "{tmp}/a"], "--margins",
     "--margins"),
    (["ablation", "fig3", "--init", "x", "--dataset", "digits", "--out", "{tmp}/a"], "--class", "--class"),
    (["ablation", "frl-loss", "--out", "{tmp}/a"], "--arms", "--arms"),
    (["ablation", "frl-loss", "--arms", "pgd_at_continued", "--out", "{tmp}/a"], "--seeds", "--seeds"),
    (["ablation", "frl-loss", "--arms", "pgd_at_continued", "--out", "{tmp}/a"], "--train-arg", "--train-arg"),
]


def _invalid_for(flag, value) -> bool:
    """Whether ``value`` is invalid for ``flag`` (a few garbage strings are valid values of a few flags)."""
    import re

    if flag == "--lr-milestones":
        return not re.fullmatch(r"\s*(0?\.\d+|1(\.0*)?)(\s*,\s*(0?\.\d+|1(\.0*)?))*\s*,?\s*", value) or \
            any(float(v) == 0 for v in value.split(",") if v.strip())
    if flag in ("--class-eps", "--class-bndy-weight"):
        name, sep, factor = value.partition("=")
        try:
            ok_factor = float(factor) > 0 or (flag == "--class-bndy-weight" and float(factor) == 0)
        except ValueError:
            return True
        return not sep or not name.strip() or not ok_factor or not (name in "0123456789" and len(name) == 1) or \
            float(factor) in (float("inf"),)
    if flag == "--class":
        return not (value.isdigit() and int(value) < 10)
    if flag in ("--weights", "--margins"):
        try:
            values = [float(v) for v in value.split(",") if v.strip()]
        except ValueError:
            return True
        return not values or not all(0 < v < float("inf") for v in values)
    if flag == "--seeds":
        return not re.fullmatch(r"[\d,\s]*\d[\d,\s]*", value) or len({int(v) for v in value.split(",") if v.strip()}) \
            != len([v for v in value.split(",") if v.strip()])
    if flag == "--device":
        return value not in ("cpu",)
    return True  # --attack, --version, --arms, --train-arg: garbage is never a valid value


@SETTINGS
@given(case=st.sampled_from(STRUCTURED), value=GARBAGE)
def test_a_malformed_structured_value_is_one_line_naming_its_flag(run_dir, tmp_path_factory, capsys, case, value):
    argv, flag, needle = case
    if not _invalid_for(flag, value):
        return
    tmp = tmp_path_factory.mktemp("structured")
    argv = [a.replace("{tmp}", str(tmp)).replace("{run}", str(run_dir)) for a in argv]
    before = _snapshot(run_dir)
    capsys.readouterr()
    assert main([*argv, f"{flag}={value}"]) == 2
    _assert_one_line_error(capsys, needle)
    assert _snapshot(run_dir) == before
    assert not (tmp / "new").exists() and not any((tmp / "a").rglob("*.json")) if (tmp / "a").exists() else True
