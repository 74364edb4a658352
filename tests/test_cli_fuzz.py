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
        "audit": ["audit", str(tmp / "model.pt"), "--out", str(tmp / "aud")],
    }[command]


def _value_flags():
    """(command, flag, kind) for every flag that takes a value: kind is number, whole, choice or text."""
    from frl.parsing import number, whole

    parser = build_parser(complete=True)
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
                        "prepare-cifar10", "report", "compare", "audit"}
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


RANGED = [s for s in TrainConfig.settings().values() if s.kind in ("number", "whole") and s.check is not None]


@SETTINGS
@given(field=st.sampled_from(RANGED), data=st.data())
def test_an_out_of_range_training_setting_is_one_line_naming_it(tmp_path_factory, capsys, field, data):
    """Negative values break every numeric constraint of TrainConfig (all ask for >= 0, > 0 or a fraction)."""
    value = data.draw(st.one_of(st.integers(-10**6, -1), st.floats(-1e300, -1e-9)))
    if field.kind == "whole":
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


# --- compare, run and prepare-cifar10 inputs (issue 26) -------------------------------------------------

KEYS_OF_AN_EVAL = ["avg", "worst", "std_error", "bndy_error", "rob_error", "n_per_class", "class_names", "attack",
                   "checkpoint", "split", "pgd", "examples"]


@settings(max_examples=40, deadline=None, suppress_health_check=HEALTH)
@given(key=st.sampled_from(KEYS_OF_AN_EVAL), value=JSON_VALUES, drop=st.booleans(), which=st.sampled_from([0, 1]))
def test_a_mutated_eval_file_in_a_comparison_is_one_line_or_compared(tmp_path_factory, capsys, key, value, drop, which):
    """One eval.json of four with one entry replaced (or dropped): compared, or one line naming that file and
    no comparison written."""
    from test_compare import _eval_file

    tmp = tmp_path_factory.mktemp("cmp")
    for method in ("trades", "wat"):
        for seed in (0, 1):
            d = tmp / "runs" / method / f"seed_{seed}"
            d.mkdir(parents=True)
            res = _eval_file(0.2, 0.5)
            if (method, seed) == ("wat", which):
                res.pop(key, None) if drop else res.__setitem__(key, value)
            (d / "eval.json").write_text(json.dumps(res))
    before = _snapshot(tmp / "runs")
    capsys.readouterr()
    code = main(["compare", str(tmp / "runs"), "--out", str(tmp / "cmp")])
    err = capsys.readouterr().err
    assert code in (0, 2) and "Traceback" not in err, err
    if code == 2:
        assert err.count("\n") == 1 and f"wat/seed_{which}" in err, err
        assert not (tmp / "cmp").exists() or not any((tmp / "cmp").iterdir())
    else:
        assert json.loads((tmp / "cmp" / "compare.json").read_text())["methods"]["wat"]["n"] in (1, 2)
    assert _snapshot(tmp / "runs") == before


class _WouldTrain(Exception):
    pass


STAGE_VALUES = st.one_of(st.none().map(lambda _: "nothing"), st.integers(-3, 3), st.floats(allow_nan=False),
                         st.text(alphabet="ab/\\.x ", max_size=4), st.lists(st.integers(0, 2), max_size=2),
                         st.sampled_from(["best", "last", "averaged", "pgd_at", "a", "b"]))


@settings(max_examples=40, deadline=None, suppress_health_check=HEALTH)
@given(where=st.sampled_from(["run", "stage_a", "stage_b", "train_b"]),
       key=st.sampled_from(["name", "table", "init", "checkpoint", "also_score", "summary", "compare", "row", "epochs",
                            "method", "eps", "val_per_class", "dafa_warmup", "sigma", "certify", "seed", "stage"]),
       value=STAGE_VALUES)
def test_a_mutated_pipeline_is_refused_in_one_line_before_anything_trains(tmp_path_factory, capsys, monkeypatch,
                                                                         where, key, value):
    """A two-stage pipeline with one key set to a drawn value: refused with one line naming the file (or the
    setting) before any stage trains, or valid (it would train: stopped there)."""
    import tomllib

    import deep.pipeline

    def would_train(cfg, log=print):
        raise _WouldTrain

    monkeypatch.setattr(deep.pipeline, "train_run", would_train)
    tables = {"run": {"name": "p", "table": "t"},
              "stage_a": {"name": "a", "train": {"dataset": "digits", "method": "pgd_at", "epochs": 2, "eps": 0.2}},
              "stage_b": {"name": "b", "train": {"dataset": "digits", "method": "frl_reweight", "init": "a", "epochs": 2,
                                                 "eps": 0.2, "val_per_class": 5}}}
    target = tables["stage_b"]["train"] if where == "train_b" else tables[where]
    target[key] = value

    def toml(v):
        return json.dumps(v) if not isinstance(v, list) else "[" + ", ".join(toml(x) for x in v) + "]"

    def table(header, d):
        return f"[{header}]\n" + "".join(f"{k} = {toml(v)}\n" for k, v in d.items() if not isinstance(v, dict))

    text = table("run", tables["run"])
    for s in ("stage_a", "stage_b"):
        st_ = tables[s]
        text += "[[stage]]\n" + "".join(f"{k} = {toml(v)}\n" for k, v in st_.items() if not isinstance(v, dict))
        text += table("stage.train", st_["train"])
    tmp = tmp_path_factory.mktemp("pipe")
    cfg = tmp / "p.toml"
    cfg.write_text(text)
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return  # not TOML at all: the TOML cases above cover it
    capsys.readouterr()
    try:
        code = main(["run", str(cfg), "--runs", str(tmp / "runs")])
    except _WouldTrain:
        return  # a valid pipeline: it got as far as training its first stage
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    assert err.count("\n") == 1, err
    assert not (tmp / "runs").exists() or not any(p.is_file() for p in (tmp / "runs").rglob("*"))


@settings(max_examples=30, deadline=None, suppress_health_check=HEALTH)
@given(kind=st.sampled_from(["bytes", "npz", "tar"]), blob=st.binary(max_size=300), n=st.integers(0, 12),
       size=st.sampled_from([(32, 32), (32, 31), (8, 8)]), dtype=st.sampled_from(["uint8", "float32", "int64"]),
       label_top=st.sampled_from([1, 10, 11]), member=st.sampled_from(["c/train/cat/0.jpg", "x.jpg", "c/test/a/b/0.png",
                                                                       "../../evil.jpg", "c/train/cat/0.txt"]))
def test_bad_prepare_inputs_are_one_line_and_write_nothing(tmp_path_factory, capsys, kind, blob, n, size, dtype,
                                                           label_top, member):
    import io
    import tarfile

    import numpy as np

    tmp = tmp_path_factory.mktemp("prep")
    if kind == "bytes":
        src = [tmp / "x.tgz"]
        src[0].write_bytes(blob)
    elif kind == "npz":
        src = [tmp / "a.npz", tmp / "b.npz"]
        for path in src:
            np.savez(path, x=np.zeros((n, *size, 3), dtype=dtype), y=np.arange(n) % label_top)
    else:
        src = [tmp / "t.tar"]
        with tarfile.open(src[0], "w") as tar:
            info = tarfile.TarInfo(member)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    capsys.readouterr()
    code = main(["prepare-cifar10", *map(str, src), "--out", str(tmp / "out"), "--workers", "1"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert not (tmp / "out").exists() or not any(p.is_file() for p in (tmp / "out").rglob("*"))
    assert not (tmp.parent / "evil.jpg").exists()
