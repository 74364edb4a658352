"""``frl train`` / ``python -m frl train`` / ``frl eval``: the run directory, exact resume after SIGKILL,
bad input, divergence, and our PGD against torchattacks'."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from frl.cli import main

FAST = ["--dataset", "digits", "--model", "small_cnn", "--eps", "0.2", "--attack-steps", "3", "--eval-steps", "3",
        "--val-per-class", "10"]
TIMING = {"epoch_time", "images_per_s"}


def _metrics(path):
    return [{k: v for k, v in json.loads(line).items() if k not in TIMING}
            for line in open(os.path.join(path, "metrics.jsonl"))]


@pytest.fixture(scope="module")
def pgd_run(tmp_path_factory):
    """The issue's digits example: PGD-AT, 4 epochs, eps 0.2."""
    out = str(tmp_path_factory.mktemp("runs") / "x")
    assert main(["train", "--dataset", "digits", "--model", "small_cnn", "--method", "pgd_at", "--epochs", "4",
                 "--eps", "0.2", "--out", out]) == 0
    return out


def test_run_directory_contract(pgd_run):
    cfg = json.load(open(os.path.join(pgd_run, "config.json")))
    assert cfg["method"] == "pgd_at" and cfg["eps"] == 0.2 and cfg["epochs"] == 4
    assert "package_version" in cfg and "git_commit" in cfg and cfg["batch_size"] == 16
    lines = [json.loads(line) for line in open(os.path.join(pgd_run, "metrics.jsonl"))]
    assert [(r["epoch"], r["split"]) for r in lines] == [(e, s) for e in range(4) for s in ("val", "test")]
    for r in lines:
        assert len(r["std_error"]) == len(r["bndy_error"]) == len(r["rob_error"]) == 10
        assert all(abs(a + b - c) < 1e-12 for a, b, c in zip(r["std_error"], r["bndy_error"], r["rob_error"]))
        assert r["loss"] > 0 and r["epoch_time"] > 0
    ckpt = torch.load(os.path.join(pgd_run, "checkpoint.pt"), weights_only=False)
    assert {"model", "optimizer", "scheduler", "rng", "method", "data_generator", "config"} <= set(ckpt)


def test_pgd_at_on_digits_learns_and_shows_class_disparity(pgd_run):
    last = json.loads(open(os.path.join(pgd_run, "metrics.jsonl")).read().splitlines()[-1])
    assert last["split"] == "test"
    assert last["avg"]["std_error"] < 0.5
    rob = last["rob_error"]
    assert max(rob) - min(rob) > 0.3  # robust errors differ strongly between classes


def test_eval_writes_classwise_pgd20(pgd_run, capsys):
    assert main(["eval", pgd_run]) == 0
    res = json.load(open(os.path.join(pgd_run, "eval.json")))
    assert res["attack"]["steps"] == 20 and res["attack"]["eps"] == 0.2 and res["split"] == "test"
    assert sum(res["n_per_class"]) == 360 and len(res["class_names"]) == 10
    last = json.loads(open(os.path.join(pgd_run, "metrics.jsonl")).read().splitlines()[-1])
    assert res["std_error"] == pytest.approx(last["std_error"])  # the same final model
    assert res["avg"]["rob_error"] >= last["avg"]["rob_error"] - 0.02  # PGD-20 at least about as strong as PGD-10


def test_our_pgd_is_not_weaker_than_torchattacks(pgd_run):
    """Same settings (l_inf 0.2, step 0.05, 20 steps, random start) on the trained model, all 1,797 digits."""
    torchattacks = pytest.importorskip("torchattacks", reason="torchattacks is not installed: pip install --no-deps 'torchattacks>=3.4'")
    from deep.attacks import PGD
    from deep.data import load_split, to_input
    from deep.models import build_model

    ckpt = torch.load(os.path.join(pgd_run, "checkpoint.pt"), weights_only=False)
    model = build_model("small_cnn", 10, 1)
    model.load_state_dict(ckpt["model"])
    model.eval()
    x = torch.cat([to_input(load_split("digits", s).x) for s in (True, False)])
    y = torch.cat([load_split("digits", s).y for s in (True, False)])
    torch.manual_seed(0)
    ours = PGD(eps=0.2, steps=20, step_size=0.05)(model, x, y)
    torch.manual_seed(0)
    theirs = torchattacks.PGD(model, eps=0.2, alpha=0.05, steps=20, random_start=True)(x, y)
    with torch.no_grad():
        acc_ours = (model(ours).argmax(1) == y).float().mean().item()
        acc_theirs = (model(theirs).argmax(1) == y).float().mean().item()
    assert acc_ours <= acc_theirs + 0.005, (acc_ours, acc_theirs)


def _cmd(out, *extra, method=("--method", "pgd_at"), epochs=4):
    return [sys.executable, "-m", "frl", "train", *FAST, *method, "--epochs", str(epochs), "--seed", "3",
            "--out", out, *extra]


def _wait_for_progress(proc, ckpt, last_mtime, timeout=120):
    """Wait until the run writes a new checkpoint (or ends); return the checkpoint's mtime."""
    t0 = time.time()
    while time.time() - t0 < timeout and proc.poll() is None:
        mtime = os.path.getmtime(ckpt) if os.path.exists(ckpt) else None
        if mtime is not None and mtime != last_mtime:
            return mtime
        time.sleep(0.05)
    return last_mtime


def test_resume_after_sigkill_gives_exactly_the_uninterrupted_metrics(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ref = str(tmp_path / "ref")
    subprocess.run(_cmd(ref), check=True, env=env, capture_output=True)
    out = str(tmp_path / "killed")
    ckpt = os.path.join(out, "checkpoint.pt")
    rng = random.Random(0)
    kills, mtime = 0, None
    proc = subprocess.Popen(_cmd(out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(3):
        mtime = _wait_for_progress(proc, ckpt, mtime)
        # a random moment of the next epoch: training, evaluation, or the metrics / checkpoint writes
        time.sleep(rng.uniform(0.0, 1.2))
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        proc = subprocess.Popen(_cmd(out, "--resume"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert proc.wait(timeout=300) == 0 and kills >= 1
    assert _metrics(out) == _metrics(ref)


# The later robust-fairness methods, each with its controller acting within three epochs: WAT's Hedge
# weights, DAFA's class weights set after a warm-up of one epoch, CFA's margins and weight average.
LATER = {"wat": ["--method", "wat"],
         "dafa": ["--method", "dafa", "--dafa-warmup", "1"],
         "cfa": ["--method", "cfa", "--cfa-begin", "1", "--cfa-threshold", "0"]}


# kill -9 is method-independent file handling (checkpoint written aside, renamed); the method's state goes through
# the same state_dict path as the in-process cut of the contract test, which covers every method. CFA, the one
# with the most state (calibrated margins, class weights and the FAWA weight average), is killed for real.
@pytest.mark.parametrize("name", ["cfa"])
def test_later_methods_resume_exactly_after_sigkill(name, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = lambda out, *extra: _cmd(out, *extra, method=LATER[name], epochs=3)  # noqa: E731
    ref, out = str(tmp_path / "ref"), str(tmp_path / "killed")
    ref_proc = subprocess.Popen(cmd(ref), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # alongside
    proc = subprocess.Popen(cmd(out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for_progress(proc, os.path.join(out, "checkpoint.pt"), None)
    time.sleep(random.Random(name).uniform(0.0, 1.0))  # somewhere in the second epoch
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert subprocess.run(cmd(out, "--resume"), env=env, capture_output=True).returncode == 0
    assert ref_proc.wait(timeout=300) == 0
    assert _metrics(out) == _metrics(ref)
    assert {r["epoch"] for r in _metrics(out)} == {0, 1, 2}


def test_existing_run_is_not_overwritten_and_foreign_resume_is_refused(pgd_run, capsys):
    before = open(os.path.join(pgd_run, "metrics.jsonl")).read()
    assert main(["train", "--dataset", "digits", "--method", "pgd_at", "--epochs", "4", "--eps", "0.2",
                 "--out", pgd_run]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert main(["train", "--dataset", "digits", "--method", "pgd_at", "--epochs", "4", "--eps", "0.3",
                 "--out", pgd_run, "--resume"]) == 2
    err = capsys.readouterr().err
    assert "eps: saved 0.2, now 0.3" in err and err.count("\n") == 1
    assert open(os.path.join(pgd_run, "metrics.jsonl")).read() == before


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["--dataset", "mnist"], "invalid choice: 'mnist'"),
        (["--model", "vgg"], "invalid choice: 'vgg'"),
        (["--method", "frl_magic"], "invalid choice: 'frl_magic'"),
        (["--epochs", "0"], "epochs == 0, must be >= 1"),
        (["--eps=-1/255"], "eps == -0.00392157, must be >= 0"),
        (["--eps", "abc"], "not a number"),
        (["--method", "pgd_at", "--eps", "0"], "pgd_at needs eps > 0"),
        (["--dataset", "cifar10", "--data-dir", "{tmp}"], "CIFAR-10 not found"),
        (["--out", "/proc/no/such/dir"], "cannot write to --out"),
        (["--device", "cuda:0"] if not torch.cuda.is_available() else ["--device", "tpu"], "device"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, needle):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    base = ["train", "--epochs", "1", "--out", str(tmp_path / "r")]
    assert main(base + argv) == 2
    err = capsys.readouterr().err
    assert needle in err, err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_eval_bad_input(tmp_path, capsys):
    assert main(["eval", str(tmp_path)]) == 2
    assert "has no model" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "nope")]) == 2
    assert "is not a directory" in capsys.readouterr().err


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch, capsys):
    from deep.methods.natural import Natural

    original = Natural.loss

    def poisoned(self, model, x, y):
        loss = original(self, model, x, y)
        return loss * float("nan") if getattr(self, "_epoch", 0) >= 1 else loss

    monkeypatch.setattr(Natural, "loss", poisoned)
    monkeypatch.setattr(Natural, "on_epoch_start", lambda self, epoch, val: setattr(self, "_epoch", epoch))
    out = str(tmp_path / "nan")
    assert main(["train", *FAST, "--epochs", "3", "--out", out]) == 1
    err = capsys.readouterr().err
    assert "loss became nan in epoch 2" in err and "last good checkpoint (epoch 1) is kept" in err
    ckpt = torch.load(os.path.join(out, "checkpoint.pt"), weights_only=False)
    assert ckpt["epoch"] == 0 and all(torch.isfinite(v).all() for v in ckpt["model"].values())


def test_python_m_frl_train_is_frl_train(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "frl", "train", "--epochs", "0", "--out", str(tmp_path / "r")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.strip() == "frl train: error: epochs == 0, must be >= 1"
