"""``frl prepare-cifar10 SRC... --out DIR``: CIFAR-10 from a JPEG tree (folder or .tgz) or two .npz files,
written once in torchvision's layout so that ``--dataset cifar10 --data-dir DIR`` reads it."""

from __future__ import annotations

import sys
import time

from ..errors import UserError
from ..parsing import path, whole

PROG = "frl prepare-cifar10"


def register(sub) -> None:
    p = sub.add_parser("prepare-cifar10", help="CIFAR-10 from a JPEG tree / .tgz or two .npz files, into "
                                               "torchvision's layout (decoded once, in parallel)",
                       description=__doc__.splitlines()[0])
    p.add_argument("sources", nargs="+", help="one ImageFolder tree or its .tgz, or train.npz and test.npz")
    p.add_argument("--out", type=path, required=True, help="folder to write cifar-10-batches-py/ into (the --data-dir)")
    p.add_argument("--workers", type=whole, default=None, help="decoding processes (default: cores, at most 16)")
    p.set_defaults(func=run)


def run(args) -> int:
    from deep.prepare import prepare_cifar10

    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers {args.workers}: must be >= 1", prog=PROG)
    t0 = time.perf_counter()
    try:
        info = prepare_cifar10(args.sources, args.out, args.workers)
    except OSError as exc:
        raise UserError(f"cannot write to --out {args.out}: {exc.strerror or exc}", prog=PROG) from None
    for line in info["warnings"]:
        print(f"{PROG}: warning: {line}", file=sys.stderr)
    print(f"{info['folder']}: {info['train']} training and {info['test']} test images, classes "
          f"{', '.join(info['classes'])}; test split {info['test_order']} ({time.perf_counter() - t0:.1f} s); use --dataset cifar10 --data-dir {args.out}")
    return 0
