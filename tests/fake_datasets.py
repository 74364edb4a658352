"""Tiny datasets written in the real on-disk formats (CIFAR-10 python pickles, SVHN .mat,
ImageFolder), from real CIFAR-10 pixels in ../shared/data when available."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
CIFAR_TEST_NPZ = SHARED / "cifar10_test.npz"
CIFAR_TRAIN_NPZ = SHARED / "cifar10_train_4k.npz"
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def real_or_random_cifar(n, seed=0, train=True):
    """(x uint8 (n, 32, 32, 3), y) from the shared exact CIFAR-10 subset, else random pixels."""
    path = CIFAR_TRAIN_NPZ if train else CIFAR_TEST_NPZ
    if path.exists():
        d = np.load(path)
        return d["x"][:n].copy(), d["y"][:n].astype(np.int64)
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), np.arange(n, dtype=np.int64) % 10


def write_cifar10(root: Path, n_per_batch=40, n_test=40) -> dict:
    """Write cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}; return the arrays written."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    x, y = real_or_random_cifar(5 * n_per_batch, train=True)
    for b in range(5):
        sl = slice(b * n_per_batch, (b + 1) * n_per_batch)
        # the official layout: rows of 3072 bytes, channel-major (R plane, G plane, B plane)
        entry = {"data": x[sl].transpose(0, 3, 1, 2).reshape(-1, 3072), "labels": y[sl].tolist(),
                 "batch_label": f"training batch {b + 1} of 5", "filenames": [f"{i}.png" for i in range(n_per_batch)]}
        with open(folder / f"data_batch_{b + 1}", "wb") as fh:
            pickle.dump(entry, fh)
    xt, yt = real_or_random_cifar(n_test, train=False)
    with open(folder / "test_batch", "wb") as fh:
        pickle.dump({"data": xt.transpose(0, 3, 1, 2).reshape(-1, 3072), "labels": yt.tolist()}, fh)
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump({"label_names": CLASSES, "num_cases_per_batch": n_per_batch, "num_vis": 3072}, fh)
    return {"train": (x, y), "test": (xt, yt)}


def write_svhn(root: Path, n_train=60, n_test=30, seed=0) -> dict:
    """Write train_32x32.mat / test_32x32.mat as SVHN does: X (32, 32, 3, N) uint8, y (N, 1) with 10 for digit 0."""
    import scipy.io as sio

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        x = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        digits = np.arange(n) % 10
        stored = np.where(digits == 0, 10, digits).reshape(-1, 1).astype(np.uint8)
        sio.savemat(str(root / f"{split}_32x32.mat"), {"X": x.transpose(1, 2, 3, 0), "y": stored})
        out[split] = (x, digits)
    return out


def write_imagefolder(root: Path, per_class=4, classes=("cat", "dog", "ship")) -> None:
    """A train/ and test/ tree of PNG files (real CIFAR-10 pixels when available)."""
    from PIL import Image

    x, _ = real_or_random_cifar(2 * per_class * len(classes))
    k = 0
    for split in ("train", "test"):
        for c in classes:
            d = root / split / c
            d.mkdir(parents=True)
            for i in range(per_class):
                Image.fromarray(x[k]).save(d / f"{i:04d}.png")
                k += 1
