"""Turn CIFAR-10 images kept in other forms into torchvision's on-disk layout, once.

Sources:

* a JPEG tree in ``ImageFolder`` layout (``train/<class>/*.jpg``, ``test/<class>/*.jpg``), as a
  folder or as one ``.tgz`` / ``.tar`` archive holding such a tree (read as a stream, never
  unpacked to disk); images are decoded in parallel, one chunk per worker process;
* two ``.npz`` files with arrays ``x`` (N, 32, 32, 3) uint8 and ``y`` (N,) int (train first).

The result is ``OUT/cifar-10-batches-py/`` with ``data_batch_1..5``, ``test_batch`` and
``batches.meta``, which ``--dataset cifar10 --data-dir OUT`` then loads through the same reader
as the official download (no decoding per run). Class names come from the tree's folder names
(sorted, as ``ImageFolder`` numbers them), or are CIFAR-10's for ``.npz`` files.

Order. From a tree, the training images are in ``ImageFolder`` order (class, then file name),
split into five batches in that order; the **test images are class-interleaved**: the first
file of every class (classes in order), then the second of every class, and so on (a class
with fewer files drops out of the rounds it has no file for), so any prefix of the test split
holds every class. From ``.npz`` files both splits keep the files' order.

Checks, before anything is written: every image 32 x 32 (the file named otherwise), 10 classes
each with images in both splits, train and test not the same file or the same images; a
training split smaller than the test split gets a warning (swapped files?). The seven files
are written aside and renamed into place together: a failure (a full disk) leaves an earlier
dataset in ``OUT`` as it was and no ``*.tmp``. Decoding workers end with this process, even
after a ``kill -9``.
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
from .worker_processes import die_with_parent

__all__ = ["prepare_cifar10", "read_jpeg_tree", "read_npz", "write_cifar10_batches", "interleaved_order",
           "decoding_pool"]

_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
IMAGE_SIZE = (32, 32)


def decoding_pool(workers: int) -> ProcessPoolExecutor:
    """The worker processes that decode images; they end when this process ends, however it ends."""
    return ProcessPoolExecutor(max_workers=workers, initializer=die_with_parent)


class _WrongSize(Exception):
    """An image of a chunk that is not 32 x 32: args (position in the chunk, width, height)."""


def _decode(blobs: list[bytes]) -> np.ndarray:
    """(N, 32, 32, 3) uint8 of the images; _WrongSize for the first image of another size."""
    from PIL import Image

    out = []
    for k, blob in enumerate(blobs):
        with Image.open(io.BytesIO(blob)) as img:
            if img.size != IMAGE_SIZE:
                raise _WrongSize(k, *img.size)
            out.append(np.asarray(img.convert("RGB"), dtype=np.uint8))
    return np.stack(out) if out else np.zeros((0, *IMAGE_SIZE, 3), np.uint8)


def interleaved_order(labels) -> np.ndarray:
    """Positions that put a class-sorted list in class-interleaved order: the first of every class, then
    the second of every class, ... (within a class, the given order is kept).

    >>> interleaved_order([0, 0, 0, 1, 1, 2]).tolist()
    [0, 3, 5, 1, 4, 2]
    """
    labels = np.asarray(labels)
    rank = np.zeros(len(labels), np.int64)
    for c in np.unique(labels):
        where = np.flatnonzero(labels == c)
        rank[where] = np.arange(len(where))
    return np.lexsort((labels, rank))


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
    for split, items in by_split.items():
        missing = sorted(set(classes) - {c for c, _, _ in items})
        if missing:
            raise DatasetError(f"{src}: {split}/ has no image of class {', '.join(missing)}")
    index = {c: i for i, c in enumerate(classes)}
    workers = workers or min(16, os.cpu_count() or 1)
    out = []
    with decoding_pool(workers) as pool:
        for split in ("train", "test"):
            items = sorted(by_split[split], key=lambda t: (t[0], t[1]))
            if split == "test":
                items = [items[i] for i in interleaved_order([index[c] for c, _, _ in items])]
            blobs = [b for _, _, b in items]
            size = max(1, -(-len(blobs) // (4 * workers)))
            chunks = [blobs[i:i + size] for i in range(0, len(blobs), size)]
            parts = []
            try:
                for part in pool.map(_decode, chunks):
                    parts.append(part)
            except _WrongSize as exc:  # an image of another size: name its file
                k, w, h = exc.args
                cls, name, _ = items[len(parts) * size + k]
                raise DatasetError(f"{src}: {split}/{cls}/{name} is {w} x {h}, not {IMAGE_SIZE[0]} x "
                                   f"{IMAGE_SIZE[1]}: not CIFAR-10") from None
            except Exception as exc:
                raise DatasetError(f"cannot decode an image of {src}/{split} ({type(exc).__name__})") from None
            out.append((np.concatenate(parts), np.asarray([index[c] for c, _, _ in items], dtype=np.int64)))
    return out[0], out[1], tuple(classes)


def read_npz(path):
    """(x, y) from an .npz file with arrays x (N, 32, 32, 3) uint8 and y (N,)."""
    try:
        with np.load(path) as d:
            x, y = np.asarray(d["x"]), np.asarray(d["y"]).astype(np.int64)
    except (OSError, KeyError, ValueError) as exc:
        raise DatasetError(f"{path}: not an .npz file with arrays x and y ({type(exc).__name__})") from None
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[-1] != 3 or len(x) != len(y) or y.ndim != 1:
        raise DatasetError(f"{path}: x must be uint8 (N, H, W, 3) with one label per image")
    if x.shape[1:3] != IMAGE_SIZE[::-1]:
        raise DatasetError(f"{path}: images are {x.shape[2]} x {x.shape[1]}, not {IMAGE_SIZE[0]} x "
                           f"{IMAGE_SIZE[1]}: not CIFAR-10")
    if len(y) == 0:
        raise DatasetError(f"{path}: holds no image")
    return x, y


def write_cifar10_batches(train, test, root, class_names=CIFAR10_CLASSES) -> Path:
    """Write (x, y) pairs (x as N, H, W, 3 uint8) as torchvision's cifar-10-batches-py; returns that folder.

    The seven files are written aside and renamed into place together (:func:`replace_together`): a
    failure leaves an earlier dataset there as it was and raises RunDirError naming the file."""
    from torchvision.datasets import CIFAR10

    from .atomic_files import replace_together, writing
    from .errors import RunDirError

    folder = Path(root) / CIFAR10.base_folder
    with writing(f"to --out {root}"):
        folder.mkdir(parents=True, exist_ok=True)

    def batch(name, x, y):
        rows = np.ascontiguousarray(x.transpose(0, 3, 1, 2)).reshape(len(x), -1)

        def write(tmp):
            with open(tmp, "wb") as fh:
                pickle.dump({"batch_label": name, "data": rows, "labels": [int(v) for v in y]}, fh)
        return write

    def meta(tmp):
        with open(tmp, "wb") as fh:
            pickle.dump({CIFAR10.meta["key"]: list(class_names)}, fh)

    (x, y) = train
    parts = np.array_split(np.arange(len(y)), len(CIFAR10.train_list))
    writers = {folder / name: batch(name, x[idx], y[idx]) for (name, _md5), idx in zip(CIFAR10.train_list, parts)}
    writers[folder / CIFAR10.test_list[0][0]] = batch(CIFAR10.test_list[0][0], *test)
    writers[folder / CIFAR10.meta["filename"]] = meta
    try:
        replace_together(writers)
    except RunDirError as exc:
        raise DatasetError(f"{exc}; the dataset in {folder} (if any) is unchanged") from None
    return folder


def check_splits(train, test, names, sources) -> list[str]:
    """DatasetError for splits that are not a CIFAR-10 training / test pair; warnings (strings) for what is
    legitimate but worth a look. ``sources``: the paths, for the messages."""
    (xtr, ytr), (xte, yte) = train, test
    k = len(names)
    if k != len(CIFAR10_CLASSES):
        raise DatasetError(f"{k} classes ({', '.join(names)}): CIFAR-10 has {len(CIFAR10_CLASSES)}")
    for split, y in (("train", ytr), ("test", yte)):
        if int(y.min()) < 0 or int(y.max()) >= k:
            raise DatasetError(f"{split} labels outside 0..{k - 1}: not CIFAR-10")
        empty = [names[c] for c in range(k) if not np.any(y == c)]
        if empty:
            raise DatasetError(f"the {split} split has no image of class {', '.join(empty)}")
    if xtr.shape == xte.shape and np.array_equal(ytr, yte) and np.array_equal(xtr, xte):
        raise DatasetError(f"{' and '.join(map(str, sources)) if len(sources) > 1 else sources[0]}: the training "
                           f"and test images are the same; give the training images first, then the test images")
    warn = []
    if len(ytr) < len(yte):
        warn.append(f"{len(ytr)} training but {len(yte)} test images: are the files swapped? (training first)")
    return warn


def prepare_cifar10(sources, out, workers: int | None = None) -> dict:
    """One JPEG tree / archive, or two .npz files (train, test), into ``out``; returns counts, names, per-class
    counts and warnings. Everything is checked before a file is written."""
    sources = [Path(s) for s in sources]
    if len(sources) == 2 and all(s.suffix == ".npz" for s in sources):
        if sources[0].exists() and sources[1].exists() and sources[0].samefile(sources[1]):
            raise DatasetError(f"{sources[0]} is given as both the training and the test file")
        train, test, names = read_npz(sources[0]), read_npz(sources[1]), CIFAR10_CLASSES
    elif len(sources) == 1:
        train, test, names = read_jpeg_tree(sources[0], workers)
    else:
        raise DatasetError("give one JPEG tree (folder or .tgz) or two .npz files (train, test)")
    warn = check_splits(train, test, tuple(names), sources)
    folder = write_cifar10_batches(train, test, out, names)
    counts = {split: np.bincount(y, minlength=len(names)).tolist() for split, (_, y) in (("train", train),
                                                                                        ("test", test))}
    return {"folder": str(folder), "train": int(len(train[1])), "test": int(len(test[1])), "classes": list(names),
            "per_class": counts, "test_order": "class-interleaved" if len(sources) == 1 else "as in the file",
            "warnings": warn}
