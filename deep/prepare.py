"""Turn CIFAR-10 images kept in other forms into torchvision's on-disk layout, once.

Sources:

* a JPEG tree in ``ImageFolder`` layout (``train/<class>/*.jpg``, ``test/<class>/*.jpg``), as a
  folder or as one ``.tgz`` / ``.tar`` archive holding such a tree (read as a stream, never
  unpacked to disk); images are decoded in parallel, one chunk per worker process;
* two ``.npz`` files with arrays ``x`` (N, 32, 32, 3) uint8 and ``y`` (N,) int (train first).

The result is ``OUT/cifar-10-batches-py/`` with ``data_batch_1..5``, ``test_batch`` and
``batches.meta``, which ``--dataset cifar10 --data-dir OUT`` then loads through the same reader
as the official download (no decoding per run). The training images are split into five
batches in their order; class names come from the tree's folder names (sorted, as
``ImageFolder`` numbers them), or are CIFAR-10's for ``.npz`` files.
"""

from __future__ import annotations

import io
import os
import pickle
import tarfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from .data import CIFAR10_CLASSES, DatasetError

__all__ = ["prepare_cifar10", "read_jpeg_tree", "read_npz", "write_cifar10_batches"]

_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def _decode(blobs: list[bytes]) -> np.ndarray:
    from PIL import Image

    out = []
    for blob in blobs:
        with Image.open(io.BytesIO(blob)) as img:
            out.append(np.asarray(img.convert("RGB"), dtype=np.uint8))
    return np.stack(out) if out else np.zeros((0, 32, 32, 3), np.uint8)


def _tree_entries(src: Path):
    """(split, class, name, bytes) of every image, from a folder or a tar archive."""
    if src.is_dir():
        for path in src.rglob("*"):
            rel = path.relative_to(src).parts
            if path.is_file() and path.suffix.lower() in _IMAGE_SUFFIXES and len(rel) >= 3:
                yield rel[-3], rel[-2], rel[-1], path.read_bytes()
        return
    try:
        with tarfile.open(src, "r:*") as tar:
            for member in tar:
                parts = Path(member.name).parts
                if member.isfile() and Path(member.name).suffix.lower() in _IMAGE_SUFFIXES and len(parts) >= 3:
                    yield parts[-3], parts[-2], parts[-1], tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DatasetError(f"{src} is not a readable tar archive ({type(exc).__name__})") from None


def read_jpeg_tree(src, workers: int | None = None):
    """((x_train, y_train), (x_test, y_test), class names) from an ImageFolder tree or its archive."""
    src = Path(src)
    if not src.exists():
        raise DatasetError(f"no such file or folder: {src}")
    by_split: dict[str, list] = {"train": [], "test": []}
    for split, cls, name, blob in _tree_entries(src):
        if split in by_split:
            by_split[split].append((cls, name, blob))
    if not by_split["train"] or not by_split["test"]:
        raise DatasetError(f"{src} holds no train/<class>/*.jpg and test/<class>/*.jpg images")
    classes = sorted({c for split in by_split.values() for c, _, _ in split})
    index = {c: i for i, c in enumerate(classes)}
    workers = workers or min(16, os.cpu_count() or 1)
    out = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for split in ("train", "test"):
            items = sorted(by_split[split], key=lambda t: (t[0], t[1]))
            blobs = [b for _, _, b in items]
            size = max(1, -(-len(blobs) // (4 * workers)))
            chunks = [blobs[i:i + size] for i in range(0, len(blobs), size)]
            try:
                x = np.concatenate(list(pool.map(_decode, chunks)))
            except Exception as exc:
                raise DatasetError(f"cannot decode an image of {src}/{split} ({type(exc).__name__})") from None
            out.append((x, np.asarray([index[c] for c, _, _ in items], dtype=np.int64)))
    return out[0], out[1], tuple(classes)


def read_npz(path):
    """(x, y) from an .npz file with arrays x (N, H, W, 3) uint8 and y (N,)."""
    try:
        with np.load(path) as d:
            x, y = np.asarray(d["x"]), np.asarray(d["y"]).astype(np.int64)
    except (OSError, KeyError, ValueError) as exc:
        raise DatasetError(f"{path}: not an .npz file with arrays x and y ({type(exc).__name__})") from None
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[-1] != 3 or len(x) != len(y):
        raise DatasetError(f"{path}: x must be uint8 (N, H, W, 3) with one label per image")
    return x, y


def write_cifar10_batches(train, test, root, class_names=CIFAR10_CLASSES) -> Path:
    """Write (x, y) pairs (x as N, H, W, 3 uint8) as torchvision's cifar-10-batches-py; returns that folder."""
    from torchvision.datasets import CIFAR10

    folder = Path(root) / CIFAR10.base_folder
    folder.mkdir(parents=True, exist_ok=True)

    def dump(name, x, y):
        rows = np.ascontiguousarray(x.transpose(0, 3, 1, 2)).reshape(len(x), -1)
        tmp = folder / (name + ".tmp")
        with open(tmp, "wb") as fh:
            pickle.dump({"batch_label": name, "data": rows, "labels": [int(v) for v in y]}, fh)
        os.replace(tmp, folder / name)

    (x, y) = train
    parts = np.array_split(np.arange(len(y)), len(CIFAR10.train_list))
    for (name, _md5), idx in zip(CIFAR10.train_list, parts):
        dump(name, x[idx], y[idx])
    dump(CIFAR10.test_list[0][0], *test)
    with open(folder / CIFAR10.meta["filename"], "wb") as fh:
        pickle.dump({CIFAR10.meta["key"]: list(class_names)}, fh)
    return folder


def prepare_cifar10(sources, out, workers: int | None = None) -> dict:
    """One JPEG tree / archive, or two .npz files (train, test), into ``out``; returns counts and names."""
    sources = [Path(s) for s in sources]
    if len(sources) == 2 and all(s.suffix == ".npz" for s in sources):
        train, test, names = read_npz(sources[0]), read_npz(sources[1]), CIFAR10_CLASSES
        if int(max(train[1].max(), test[1].max())) >= len(names):
            raise DatasetError("labels outside 0..9: not CIFAR-10")
    elif len(sources) == 1:
        train, test, names = read_jpeg_tree(sources[0], workers)
    else:
        raise DatasetError("give one JPEG tree (folder or .tgz) or two .npz files (train, test)")
    folder = write_cifar10_batches(train, test, out, names)
    return {"folder": str(folder), "train": int(len(train[1])), "test": int(len(test[1])), "classes": list(names)}
