"""frl run --jobs N (deep/side_by_side.py): stages trained side by side in worker processes are the stages
trained one after another with the same threads, a stage waits for the one it starts from, a failure ends
the run, a kill -9 leaves no worker training, and a bad --jobs is refused before anything is written."""

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from deep.errors import ConfigError
from deep.pipeline import run_pipeline
from deep.side_by_side import Task, check_jobs, run_tasks
from figures.seeds import write_seeds_summary
from frl.cli import main
from side_by_side_tasks import exit_3, fail_on_two, threads

ROOT = Path(__file__).resolve().parents[1]
TIMING = {"epoch_time", "images_per_s"}
STAGE = 'dataset = "digits"\neps = 0.2\nattack_steps = 1\neval_steps = 1\nval_per_class = 5\ntest_every = 0\n'


def _pipeline(tmp_path, epochs=2):
    """Two starts "a", "b" and a stage "c" from a: a and b train side by side, c once a has finished (b,
    five times as long, is still training then)."""
    cfg = tmp_path / "p.toml"
    body = '[run]\nname = "p"\ntable = "t"\nsummary = "a"\n'
    for name, init, n in (("a", None, epochs), ("b", None, 5 * epochs), ("c", "a", epochs)):
        start = f'init = "{init}"\nlr = 0.001\n' if init else ""
        body += f'[[stage]]\nname = "{name}"\n[stage.train]\nmethod = "pgd_at"\nepochs = {n}\n{start}{STAGE}'
    cfg.write_text(body)
    return cfg


def _results(group: Path) -> dict:
    out = {}
    for f in sorted(group.rglob("*")):
        if f.name == "eval.json":
            res = json.loads(f.read_text())
            res.pop("run")
            out[str(f.relative_to(group))] = res
        elif f.name == "metrics.jsonl":
            out[str(f.relative_to(group))] = [{k: v for k, v in json.loads(line).items() if k not in TIMING}
                                              for line in f.read_text().splitlines()]
    return out


@pytest.fixture
def two_threads():
    """torch's threads at 2 in this process (two jobs, one thread each), whatever an earlier test left."""
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(old)


def test_stages_side_by_side_are_the_stages_one_after_another_with_the_same_threads(tmp_path, two_threads):
    cfg = _pipeline(tmp_path)
    lines = []
    run_pipeline(cfg, runs=tmp_path / "jobs", seeds=[0], jobs=2, log=lines.append,
                 summarise=lambda folder, start, names: write_seeds_summary(folder, start, names))
    try:
        torch.set_num_threads(1)  # what each of the two workers had
        run_pipeline(cfg, runs=tmp_path / "alone", seeds=[0], log=lambda m: None)
    finally:
        torch.set_num_threads(2)
    side, alone = _results(tmp_path / "jobs" / "t"), _results(tmp_path / "alone" / "t")
    assert len(side) == 6 and side == alone  # 3 stages x (eval.json, metrics.jsonl)
    assert {line["threads"] for m in side.values() if isinstance(m, list) for line in m} == {1}
    # a and b both start before either finishes, c only after a has finished; each with 1 of the 2 threads
    at = {line: k for k, line in enumerate(lines)}
    started = [at[f"seed 0, stage {s}: started (1 thread)"] for s in "abc"]
    finished = [at[f"seed 0, stage {s}: finished"] for s in "abc"]
    assert max(started[:2]) < min(finished[:2]) and finished[0] < started[2]
    summary = json.loads((tmp_path / "jobs" / "t" / "p" / "summary.json").read_text())  # after the seed
    assert summary["stages"]["b"]["last"]["seeds"] == [0]
    stamps = {f: f.stat().st_mtime_ns for f in (tmp_path / "jobs").rglob("eval*.json")}
    for ckpt in (tmp_path / "jobs").rglob("*.pt"):  # a fresh machine with the committed result files only
        ckpt.unlink()
    run_pipeline(cfg, runs=tmp_path / "jobs", seeds=[0], jobs=2, log=lambda m: None)
    assert {f: f.stat().st_mtime_ns for f in (tmp_path / "jobs").rglob("eval*.json")} == stamps


def test_a_task_alone_gets_every_thread_and_two_side_by_side_half_each():
    got = {}
    tasks = [Task("start", "start", (0,)), Task("b", "b", (0,), after="start"), Task("c", "c", (0,), after="start")]
    run_tasks(tasks, threads, 2, 4, lambda t, r: got.update({t.key: r}), log=lambda m: None)
    assert got == {"start": 4, "b": 2, "c": 2}
    got.clear()
    run_tasks(tasks, threads, 1, 4, lambda t, r: got.update({t.key: r}), log=lambda m: None)
    assert got == {"start": 4, "b": 4, "c": 4}  # one job: one after another, each with all four


def test_tasks_wait_for_their_start_and_the_first_failure_is_raised():
    done = []
    tasks = [Task(1, "one", (1,)), Task(3, "three", (3,), after=1), Task(0, "zero", (0,), after=3)]
    quiet = dict(log=lambda m: None)
    run_tasks(tasks, fail_on_two, 2, 2, lambda t, r: done.append((t.key, r)), **quiet)
    assert done == [(1, 1), (3, 3), (0, 0)]  # each after the one it waits for, however fast it is
    with pytest.raises(ConfigError, match="task 2 is wrong"):
        run_tasks([Task(5, "five", (5,)), Task(2, "two", (2,))], fail_on_two, 2, 2, lambda t, r: None, **quiet)
    with pytest.raises(RuntimeError, match=r"seven: its worker process ended without a readable result \(exit code 3\)"):
        run_tasks([Task(7, "seven", (7,))], exit_3, 1, 1, lambda t, r: None, **quiet)
    with pytest.raises(RuntimeError, match="never run"):
        run_tasks([Task(1, "one", (1,), after=9)], fail_on_two, 1, 1, lambda t, r: None, **quiet)


@pytest.mark.parametrize("jobs", ["0", "-1", str(torch.get_num_threads() + 1)])
def test_a_bad_jobs_is_one_line_and_exit_2_before_anything_is_written(jobs, tmp_path, capsys):
    cfg = _pipeline(tmp_path)
    assert main(["run", str(cfg), "--runs", str(tmp_path / "runs"), "--jobs", jobs]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--jobs" in err and not (tmp_path / "runs").exists()
    with pytest.raises(ConfigError):
        check_jobs(True)


def test_jobs_with_download_is_refused_before_anything_is_written(tmp_path, capsys, two_threads):
    cfg = _pipeline(tmp_path)
    assert main(["run", str(cfg), "--runs", str(tmp_path / "runs"), "--jobs", "2", "--download"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--download" in err and len(err.splitlines()) == 1 and not (tmp_path / "runs").exists()


def _alive(pid: str) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_a_kill_of_frl_run_leaves_no_stage_training_and_a_rerun_finishes_every_stage(tmp_path):
    cfg, runs = _pipeline(tmp_path, epochs=4), tmp_path / "runs"
    cmd = [sys.executable, "-m", "frl", "run", str(cfg), "--runs", str(runs), "--seeds", "0", "--jobs", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "2"}  # two threads for the two jobs on any machine
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    seen, deadline = [], time.time() + 120
    while time.time() < deadline and sum("epoch 2/" in line for line in seen) < 2:  # a and b, side by side
        ready, _, _ = select.select([proc.stderr], [], [], 1.0)
        line = proc.stderr.readline() if ready else ""
        if ready and not line:
            break  # it ended: the assertion below shows what it said
        seen.append(line)
    assert sum("epoch 2/" in line for line in seen) == 2, "".join(seen)[-2000:]
    kids = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 30
    while time.time() < deadline and any(_alive(k) for k in kids):
        time.sleep(0.2)
    assert kids and not [k for k in kids if _alive(k)], f"workers {kids} outlived frl run"
    rerun = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    for stage, epochs in (("a", 4), ("b", 20), ("c", 4)):
        metrics = (runs / "t" / "p" / stage / "seed_0" / "metrics.jsonl").read_text().splitlines()
        lines = [json.loads(m) for m in metrics]
        assert [r["epoch"] for r in lines if r["split"] == "val"] == list(range(epochs)), stage  # each epoch once
