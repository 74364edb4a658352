"""``frl prepare-cifar10`` refuses what is not a CIFAR-10 pair, replaces an earlier dataset whole or not at all,
and leaves no decoding worker behind (issue 26, items 1, 5 and 6)."""

import hashlib
import io
import os
import resource
import signal
import subprocess
import sys
import tarfile
import time

import numpy as np
import pytest

from fake_datasets import real_or_random_cifar
from frl.cli import main

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _tree_tgz(path, per_class=(2, 1), odd=None, skip_test_class=None):
    """A tiny JPEG tree archive; ``odd`` = (split, class, size) gives one image another size."""
    from PIL import Image

    x, _ = real_or_random_cifar(10 * sum(per_class))
    k = 0
    with tarfile.open(path, "w:gz") as tar:
        for split, n in zip(("train", "test"), per_class):
            for c in CLASSES:
                if split == "test" and c == skip_test_class:
                    continue
                for i in range(n):
                    img = Image.fromarray(x[k])
                    if odd and odd[:2] == (split, c) and i == 0:
                        img = img.resize(odd[2])
                    buf = io.BytesIO()
                    img.save(buf, format="JPEG", quality=75)
                    info = tarfile.TarInfo(f"c10/{split}/{c}/{i:04d}.jpg")
                    info.size = len(buf.getvalue())
                    tar.addfile(info, io.BytesIO(buf.getvalue()))
                    k += 1
    return path


def _npz(path, n, seed=0, size=32):
    rng = np.random.default_rng(seed)
    np.savez(path, x=rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8), y=np.arange(n) % 10)
    return path


def _one_line(argv, capsys, code=2):
    got = main(argv)
    err = capsys.readouterr().err
    assert got == code and err.count("\n") == 1, err
    return err


def _snapshot(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_an_image_of_another_size_is_named_and_nothing_is_written(tmp_path, capsys):
    src = _tree_tgz(tmp_path / "t.tgz", odd=("test", "cat", (33, 32)))
    err = _one_line(["prepare-cifar10", str(src), "--out", str(tmp_path / "o"), "--workers", "1"], capsys)
    assert "test/cat/0000.jpg is 33 x 32, not 32 x 32: not CIFAR-10" in err
    assert not (tmp_path / "o").exists()


def test_a_class_without_test_images_is_refused(tmp_path, capsys):
    src = _tree_tgz(tmp_path / "t.tgz", skip_test_class="frog")
    err = _one_line(["prepare-cifar10", str(src), "--out", str(tmp_path / "o"), "--workers", "1"], capsys)
    assert "test/ has no image of class frog" in err


def test_the_same_npz_as_train_and_test_is_refused_and_swapped_files_are_warned_about(tmp_path, capsys):
    a, b = _npz(tmp_path / "a.npz", 40), _npz(tmp_path / "b.npz", 20, seed=1)
    out = tmp_path / "o"
    assert "is given as both the training and the test file" in _one_line(
        ["prepare-cifar10", str(a), str(a), "--out", str(out)], capsys)
    (tmp_path / "copy.npz").write_bytes(a.read_bytes())
    assert "the training and test images are the same" in _one_line(
        ["prepare-cifar10", str(a), str(tmp_path / "copy.npz"), "--out", str(out)], capsys)
    assert not out.exists()
    assert "images are 28 x 28, not 32 x 32" in _one_line(
        ["prepare-cifar10", str(_npz(tmp_path / "s.npz", 20, size=28)), str(b), "--out", str(out)], capsys)
    # swapped (the smaller file first) is legitimate but worth a word: a warning, exit 0
    assert main(["prepare-cifar10", str(b), str(a), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning: 20 training but 40 test images: are the files swapped?" in err


def test_a_full_disk_keeps_an_earlier_dataset_whole(tmp_path):
    from deep.data import load_split

    a, b = _npz(tmp_path / "a.npz", 50), _npz(tmp_path / "b.npz", 30, seed=1)
    out = tmp_path / "o"
    assert main(["prepare-cifar10", str(a), str(b), "--out", str(out)]) == 0
    before = _snapshot(out)
    big_train, big_test = _npz(tmp_path / "big.npz", 400, seed=2), _npz(tmp_path / "bigt.npz", 300, seed=3)
    limit = 400 * 3072 // 5 + 64 * 1024  # a training batch fits, the test batch does not

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run([sys.executable, "-m", "frl.cli", "prepare-cifar10", str(big_train), str(big_test),
                           "--out", str(out)], preexec_fn=small_files, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "cannot write" in proc.stderr and "is unchanged" in proc.stderr, proc.stderr
    assert _snapshot(out) == before  # the five training batches, the test batch and the meta as they were
    assert len(load_split("cifar10", True, out)) == 50 and len(load_split("cifar10", False, out)) == 30


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_decoding_workers_end_when_prepare_is_killed(tmp_path):
    """The pool prepare-cifar10 decodes with: after a kill -9 of its process, no worker stays. The kill comes
    only once both workers run a task (so each has set its parent-death signal: the pool's initializer runs
    first), which a loaded machine can delay by seconds after the workers exist."""
    started = tmp_path / "started"
    started.mkdir()
    (tmp_path / "tasks.py").write_text(
        "import os, time\n\ndef mark_and_sleep(folder):\n"
        "    open(os.path.join(folder, str(os.getpid())), 'w').close()\n    time.sleep(120)\n")
    script = ("import sys, time\nsys.path.insert(0, sys.argv[1])\nfrom tasks import mark_and_sleep\n"
              "from deep.prepare import decoding_pool\npool = decoding_pool(2)\n"
              "futures = [pool.submit(mark_and_sleep, sys.argv[2]) for _ in range(2)]\ntime.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path), str(started)])
    deadline = time.time() + 60
    while len(list(started.iterdir())) < 2 and time.time() < deadline:
        time.sleep(0.1)
    kids = [p.name for p in started.iterdir()]
    assert len(kids) == 2, kids  # two workers, each inside its task
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 20
    alive = kids
    while alive and time.time() < deadline:
        time.sleep(0.2)
        alive = [k for k in kids if os.path.exists(f"/proc/{k}") and "Z" not in _state(k)]
    assert not alive, f"workers {alive} outlived their parent"


def _state(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def test_limit_scores_every_class_of_a_class_ordered_split(tmp_path):
    """--limit N on a split stored in class order: N / K of each class, and eval.json says so."""
    import json

    import torch

    from deep.data import first_per_class

    y = torch.arange(10).repeat_interleave(5)  # class order, as an ImageFolder tree
    idx = first_per_class(y, 23, 10)
    assert torch.bincount(y[idx], minlength=10).tolist() == [3, 3, 3] + [2] * 7
    assert idx.tolist() == sorted(idx.tolist())
    assert first_per_class(y, 500, 10).tolist() == list(range(50))
    assert first_per_class(torch.tensor([0] * 9 + [1]), 4, 2).tolist() == [0, 1, 9]  # class 1 has one: all it has
    run = tmp_path / "r"
    assert main(["train", "--dataset", "digits", "--method", "pgd_at", "--epochs", "1", "--eps", "0.2",
                 "--attack-steps", "1", "--eval-steps", "1", "--test-every", "0", "--out", str(run)]) == 0
    assert main(["eval", str(run), "--steps", "1", "--limit", "25"]) == 0
    res = json.loads((run / "eval_limit25.json").read_text())
    assert res["n_per_class"] == [3] * 5 + [2] * 5
    assert res["subset"]["limit"] == 25 and res["subset"]["rule"].startswith("stratified")
