"""Atomic files: every result file of the project is written aside, fsync'ed and renamed into place.

A kill at any moment leaves the old file or the new one, never half of one; a failed write (disk
full, no permission, a file where a folder should be) leaves no ``*.tmp`` behind and raises
:class:`~deep.errors.RunDirError` naming the file. The one exception is ``metrics.jsonl``, whose
lines are appended and fsync'ed (:meth:`deep.run_dir.RunDir.append_metrics`).

    >>> write_json("runs/x/eval.json", {"avg": ...})
    >>> replace_together({"out/compare.json": lambda tmp: tmp.write_text(js),
    ...                   "out/compare.md": lambda tmp: tmp.write_text(md)})
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Callable

from .errors import RunDirError

__all__ = ["writing", "write_atomic", "write_text", "write_json", "replace_together", "load_json"]


def _tmp_of(path: Path) -> Path:
    return path.with_name(path.name + ".tmp")


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


@contextlib.contextmanager
def writing(path, tmp: Path | None = None, torch_writer: bool = False):
    """Turn a failed write into a RunDirError naming ``path``, removing the half-written ``tmp``.

    ``torch_writer``: the block is a ``torch.save``, whose archive writer reports a full disk or a
    file-size limit as a RuntimeError ("unexpected pos", "file write failed"), not an OSError."""
    try:
        yield
    except (OSError, RuntimeError) as exc:
        if isinstance(exc, RuntimeError) and not torch_writer:
            raise
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else \
            ("the disk is full or a file-size limit was reached" if isinstance(exc, RuntimeError) else str(exc))
        raise RunDirError(f"cannot write {path}: {reason}") from None


def write_atomic(path, write: Callable[[Path], object], torch_writer: bool = False) -> Path:
    """``write(tmp)`` fills ``PATH.tmp``, which is fsync'ed and renamed over ``path``; RunDirError on failure."""
    path = Path(path)
    tmp = _tmp_of(path)
    with writing(path, tmp, torch_writer=torch_writer):
        write(tmp)
        _fsync(tmp)
        os.replace(tmp, path)
    return path


def write_text(path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    return write_atomic(path, lambda tmp: tmp.write_text(text))


def write_json(path, obj, indent: int = 2) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically."""
    return write_text(path, json.dumps(obj, indent=indent))


def replace_together(writers: dict) -> list[Path]:
    """Write a set of files that belong together, each by ``writers[path](tmp_path)``, all aside first and
    then renamed into place: a failure (a full disk included) leaves every earlier file as it was, no
    ``*.tmp`` behind, and raises RunDirError naming the file."""
    done = []
    try:
        for path, write in writers.items():
            path = Path(path)
            tmp = _tmp_of(path)
            done.append((tmp, path))
            with writing(path, tmp, torch_writer=True):
                write(tmp)
                _fsync(tmp)
    except RunDirError:
        for tmp, _ in done:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise
    for tmp, path in done:
        os.replace(tmp, path)
    return [path for _, path in done]


def load_json(path: Path):
    """The JSON in ``path``; None when the file is missing; RunDirError naming the file when it is unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise RunDirError(f"{path} is a directory, not a JSON file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RunDirError(f"{path} is unreadable ({getattr(exc, 'strerror', None) or type(exc).__name__})") from None
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{path} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
