"""Datasets as whole tensors, the seeded validation split, augmentation and one batch loader.

Every dataset becomes a :class:`TensorData`: images ``x`` as uint8 (N, C, H, W) (pixel
value / 255 is the input, so inputs stay in [0, 1] and eps is in pixel units), labels
``y`` int64, and the class names. The loader keeps the whole split as one tensor, on
the GPU when training there, and draws batches by ``randperm`` with its own seeded
generator, so an epoch's order is a pure function of that generator's state (which
the checkpoint saves). Augmentation (random crop with padding + horizontal flip) is
done on the batch as tensor operations.

Sources
-------
* ``cifar10`` / ``svhn``: the torchvision dataset classes download the archives and
  define the on-disk layout (``CIFAR10.base_folder``, ``train_list``, ``test_list``;
  ``SVHN.split_list``); the files are read here (python pickles, MATLAB .mat) with the
  same conventions as torchvision (SVHN's label 10 is digit 0) but without recomputing
  the archive checksums on every load, so that small files in the real formats load
  through the same code.
* ``digits``: scikit-learn's bundled 8x8 digits, 0..16 scaled to [0, 1]; embedded, no download.
  Its test set is a fixed stratified 20% (seed 0, the same for every run).
* ``imagefolder``: any torchvision ``ImageFolder`` tree with ``train/`` and ``test/``.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .choices import DatasetName
from .errors import DatasetError

__all__ = [
    "DatasetName",
    "DatasetError",
    "TensorData",
    "load_split",
    "validation_split",
    "augment_crop_flip",
    "BatchLoader",
    "to_input",
    "first_per_class",
    "load_splits",
    "DATASET_STATS",
]

# Per-channel mean and standard deviation of the training images (the model's optional input normalisation).
DATASET_STATS = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2471, 0.2435, 0.2616)),
    "svhn": ((0.4377, 0.4438, 0.4728), (0.1980, 0.2010, 0.1970)),
}


CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@dataclass
class TensorData:
    """One split: uint8 images (N, C, H, W), int64 labels (N,), class names, augmentation flag."""

    x: torch.Tensor
    y: torch.Tensor
    class_names: tuple
    augment: bool = False

    def __post_init__(self):
        if self.x.dtype != torch.uint8 or self.x.ndim != 4:
            raise DatasetError(f"images must be uint8 (N, C, H, W), got {self.x.dtype} {tuple(self.x.shape)}")
        if self.y.shape != (self.x.shape[0],):
            raise DatasetError(f"{self.x.shape[0]} images but {tuple(self.y.shape)} labels")
        if len(self.y) and (int(self.y.min()) < 0 or int(self.y.max()) >= len(self.class_names)):
            raise DatasetError(f"labels outside 0..{len(self.class_names) - 1}")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def subset(self, idx) -> "TensorData":
        idx = torch.as_tensor(idx, dtype=torch.long)
        return TensorData(self.x[idx], self.y[idx], self.class_names, self.augment)


def first_per_class(y: torch.Tensor, n: int, num_classes: int) -> torch.Tensor:
    """Indices of a stratified subset of ``n`` examples: the first ``n // K`` of each of the K classes
    in file order (the first ``n % K`` classes one more), returned in file order.

    A class with fewer examples than its share gives all it has; ``n`` at or past ``len(y)`` is the
    whole split. This is what ``--limit N`` of ``frl eval`` / ``certify`` / ``audit`` scores, so a
    subset of a split stored in class order still holds every class.

    >>> first_per_class(torch.tensor([0, 0, 0, 1, 1, 1]), 4, 2).tolist()
    [0, 1, 3, 4]
    """
    if n < 1:
        raise ValueError(f"n == {n}, must be >= 1")
    if n >= len(y):
        return torch.arange(len(y))
    share = [n // num_classes + (1 if c < n % num_classes else 0) for c in range(num_classes)]
    picked = [torch.nonzero(y == c).flatten()[:share[c]] for c in range(num_classes)]
    return torch.sort(torch.cat(picked)).values


def to_input(x_uint8: torch.Tensor, dtype=torch.float32) -> torch.Tensor:
    """uint8 pixels -> model input in [0, 1]."""
    return x_uint8.to(dtype).div_(255.0)


# --- readers -----------------------------------------------------------------------------


def _missing(name, root, hint):
    return DatasetError(f"{name} not found in {root}: {hint}")


def _read_cifar10(root: Path, train: bool, download: bool) -> TensorData:
    from torchvision.datasets import CIFAR10

    if download:
        CIFAR10(str(root), train=train, download=True)  # torchvision's downloader and checksum
    folder = root / CIFAR10.base_folder
    files = CIFAR10.train_list if train else CIFAR10.test_list
    xs, ys = [], []
    for name, _md5 in files:
        path = folder / name
        if not path.exists():
            raise _missing("CIFAR-10", root, f"no {CIFAR10.base_folder}/{name}; pass --download to fetch it "
                                             f"(torchvision), or --data-dir to point at it")
        try:
            with open(path, "rb") as fh:
                entry = pickle.load(fh, encoding="latin1")
            data = np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
            labels = np.asarray(entry["labels"], dtype=np.int64)
        except Exception as exc:  # any unreadable file is the same user-facing problem
            raise DatasetError(f"CIFAR-10 file {path} is corrupt ({type(exc).__name__}); delete it and pass --download")
        if len(labels) != len(data):
            raise DatasetError(f"CIFAR-10 file {path} is corrupt: {len(data)} images, {len(labels)} labels")
        xs.append(data)
        ys.append(labels)
    names = CIFAR10_CLASSES
    meta = folder / CIFAR10.meta["filename"]
    if meta.exists():
        try:
            with open(meta, "rb") as fh:
                names = tuple(pickle.load(fh, encoding="latin1")[CIFAR10.meta["key"]])
        except Exception:
            raise DatasetError(f"CIFAR-10 file {meta} is corrupt; delete it and pass --download") from None
    return TensorData(torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys)), names,
                      augment=train)


def _read_svhn(root: Path, train: bool, download: bool) -> TensorData:
    import scipy.io as sio
    from torchvision.datasets import SVHN

    split = "train" if train else "test"
    if download:
        SVHN(str(root), split=split, download=True)
    path = root / SVHN.split_list[split][1]
    if not path.exists():
        raise _missing("SVHN", root, f"no {path.name}; pass --download to fetch it (torchvision), or --data-dir")
    try:
        mat = sio.loadmat(str(path))
        data = np.ascontiguousarray(np.transpose(mat["X"], (3, 2, 0, 1))).astype(np.uint8)
        labels = mat["y"].astype(np.int64).reshape(-1)
    except Exception as exc:
        raise DatasetError(f"SVHN file {path} is corrupt ({type(exc).__name__}); delete it and pass --download")
    labels[labels == 10] = 0  # SVHN stores digit 0 as label 10
    # SVHN is not flipped or cropped in the paper's setting: digits are not mirror-symmetric
    return TensorData(torch.from_numpy(data), torch.from_numpy(labels), tuple(str(i) for i in range(10)),
                      augment=False)


def _read_digits(train: bool) -> TensorData:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8)[:, None]  # 0..16 -> 0..255
    idx_train, idx_test = train_test_split(np.arange(len(x)), test_size=0.2, stratify=digits.target, random_state=0)
    idx = idx_train if train else idx_test
    return TensorData(torch.from_numpy(x[idx]), torch.from_numpy(digits.target[idx].astype(np.int64)),
                      tuple(str(i) for i in range(10)), augment=False)


def _read_imagefolder(root: Path, train: bool) -> TensorData:
    from torchvision.datasets import ImageFolder

    split = root / ("train" if train else "test")
    if not split.is_dir():
        raise _missing("ImageFolder tree", root, f"no {split.name}/ folder (expected {root}/train and {root}/test)")
    try:
        folder = ImageFolder(str(split))
    except (FileNotFoundError, RuntimeError) as exc:
        raise DatasetError(f"ImageFolder {split}: {exc}") from None
    images = []
    for path, _ in folder.samples:
        try:
            img = np.asarray(folder.loader(path).convert("RGB"), dtype=np.uint8)
        except Exception as exc:
            raise DatasetError(f"cannot decode {path} ({type(exc).__name__})") from None
        if images and img.shape != images[0].shape:
            raise DatasetError(f"{path} is {img.shape[1]}x{img.shape[0]}, the others {images[0].shape[1]}x"
                               f"{images[0].shape[0]}: all images must have one size")
        images.append(img)
    x = torch.from_numpy(np.stack(images).transpose(0, 3, 1, 2).copy())
    y = torch.as_tensor(folder.targets, dtype=torch.long)
    return TensorData(x, y, tuple(folder.classes), augment=train)


def load_split(name, train: bool, data_dir=None, download: bool = False) -> TensorData:
    """Load the train or test split of a dataset as a :class:`TensorData`.

    Raises
    ------
    DatasetError
        If the dataset is missing (with how to get it) or a file is corrupt.
    """
    if name not in {d.value for d in DatasetName}:
        raise DatasetError(f"unknown dataset {name!r}; choose from {', '.join(d.value for d in DatasetName)}")
    name = DatasetName(name)
    if name is DatasetName.DIGITS:
        return _read_digits(train)
    if data_dir is None:
        raise DatasetError(f"{name.value} needs --data-dir (and --download to fetch it there)")
    root = Path(data_dir)
    if name is DatasetName.CIFAR10:
        return _read_cifar10(root, train, download)
    if name is DatasetName.SVHN:
        return _read_svhn(root, train, download)
    if download:
        raise DatasetError("--download is not available for imagefolder: point --data-dir at a tree")
    return _read_imagefolder(root, train)


def load_splits(name, data_dir=None, download: bool = False, val_per_class: int = 0, seed: int = 0,
                val_split: str = "random"):
    """(train, val, test) of a dataset; ``val_per_class`` examples per class held out of train by ``seed``
    (or, ``val_split="tail"``, the last of each class: :func:`validation_split`)."""
    train_full = load_split(name, True, data_dir, download)
    test = load_split(name, False, data_dir, False)
    train_idx, val_idx = validation_split(train_full.y, val_per_class, seed, val_split)
    val = train_full.subset(val_idx)
    val.augment = False
    return train_full.subset(train_idx), val, test


# --- validation split --------------------------------------------------------------------


VAL_SPLITS = ("random", "tail")


def validation_split(y: torch.Tensor, per_class: int, seed: int, rule: str = "random"):
    """Indices (train_idx, val_idx): ``per_class`` examples of every class held out, chosen by ``seed``
    (``rule="random"``) or the last ``per_class`` of each class in the split's order (``"tail"``: the
    authors' FRL code, data_loader.py:56-58, ``tmp_idx[4700:5000]`` of CIFAR-10's 5,000 per class).

    Deterministic: the same labels and seed give the same split on any machine.
    """
    if per_class < 0:
        raise ValueError(f"val_per_class == {per_class}, must be >= 0")
    if rule not in VAL_SPLITS:
        raise ValueError(f"val_split == {rule!r}, must be one of {', '.join(VAL_SPLITS)}")
    y_np = y.cpu().numpy()
    rng = np.random.default_rng(seed)
    val = []
    for c in np.unique(y_np):
        idx = np.flatnonzero(y_np == c)
        if per_class >= len(idx):
            raise DatasetError(f"class {c} has {len(idx)} training examples; cannot hold out {per_class} for validation")
        val.append(idx[len(idx) - per_class:] if rule == "tail" else rng.permutation(idx)[:per_class])
    val_idx = np.sort(np.concatenate(val)) if val else np.zeros(0, dtype=np.int64)
    mask = np.ones(len(y_np), dtype=bool)
    mask[val_idx] = False
    return torch.from_numpy(np.flatnonzero(mask)), torch.from_numpy(val_idx)


# --- augmentation and batches --------------------------------------------------------------


def draw_crop_flip(n: int, generator: torch.Generator, padding: int = 4):
    """The random parameters of :func:`augment_crop_flip` for n images: row / column offsets and flips."""
    di = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    dj = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    return di, dj, flip


def augment_crop_flip(x: torch.Tensor, generator: torch.Generator | None, padding: int = 4, params=None) -> torch.Tensor:
    """Random crop with zero padding plus random horizontal flip, for a whole batch at once.

    Works on uint8 or float tensors on any device; the randomness comes from ``generator``
    (a CPU generator; the draws are moved to x's device), or from ``params`` drawn by
    :func:`draw_crop_flip`.
    """
    n, c, h, w = x.shape
    dev = x.device
    padded = F.pad(x, (padding, padding, padding, padding))
    di, dj, flip = params if params is not None else draw_crop_flip(n, generator, padding)
    di, dj, flip = di.to(dev, non_blocking=True), dj.to(dev, non_blocking=True), flip.to(dev, non_blocking=True)
    rows = (di[:, None] + torch.arange(h, device=dev))[:, None, :, None]
    cols = dj[:, None] + torch.arange(w, device=dev)
    cols = torch.where(flip[:, None], cols.flip(1), cols)[:, None, None, :]
    batch = torch.arange(n, device=dev)[:, None, None, None]
    chan = torch.arange(c, device=dev)[None, :, None, None]
    return padded[batch, chan, rows, cols]


class BatchLoader:
    """Batches of (input in [0, 1], label) from a :class:`TensorData`, optionally on a device.

    The whole split lives on ``device`` as uint8 (the GPU data path: no host round trip per
    batch, augmentation as tensor ops there). The order and the augmentation come from a
    seeded CPU ``torch.Generator`` (:attr:`generator`), whose state the checkpoint saves, so
    an interrupted epoch can be replayed exactly.

    Under DDP (``world`` > 1) every process draws the same global batch and augmentation
    parameters and keeps rows ``rank::world`` of it, so N processes see exactly what one
    process sees with the same global batch size.
    """

    def __init__(self, data: TensorData, batch_size: int, shuffle: bool, seed: int = 0, device="cpu",
                 augment: bool | None = None, drop_last: bool = False, rank: int = 0, world: int = 1,
                 channels_last: bool = False):
        if batch_size < 1:
            raise ValueError(f"batch_size == {batch_size}, must be >= 1")
        self.x = data.x.to(device)
        self.y = data.y.to(device)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.augment = data.augment if augment is None else augment
        self.drop_last = drop_last
        self.rank, self.world = int(rank), int(world)
        self.channels_last = channels_last
        self.generator = torch.Generator().manual_seed(int(seed))
        self.global_batch = 0

    def __len__(self) -> int:
        n = len(self.y)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        n = len(self.y)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        order = order.to(self.x.device)
        for k in range(len(self)):
            idx = order[k * self.batch_size:(k + 1) * self.batch_size]
            self.global_batch = len(idx)  # what all processes together see in this step
            params = draw_crop_flip(len(idx), self.generator) if self.augment else None
            if self.world > 1:
                idx = idx[self.rank::self.world]
                if params is not None:
                    params = tuple(p[self.rank::self.world] for p in params)
            xb = self.x[idx]
            if params is not None:
                xb = augment_crop_flip(xb, None, params=params)
            xb = to_input(xb)
            if self.channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            yield xb, self.y[idx]
