"""``metrics.jsonl``: one JSON object per line, appended and fsync'ed; read and cut back on resume.

A kill in the middle of an append leaves a last line without its newline (torn): it is dropped. Any
other unreadable line is never deleted: :func:`truncate` moves it to ``metrics.jsonl.corrupt``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .atomic_files import write_text, writing

__all__ = ["append", "read", "truncate"]


def append(path: Path, record: dict) -> None:
    """Append ``record`` as one line and fsync it."""
    with writing(path):
        with open(path, "a") as fh:
            fh.write(json.dumps(record) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


def _lines(path: Path) -> tuple[list[dict], list[str], bool]:
    """(records, unreadable lines other than a torn last one, whether the last line was torn)."""
    if not path.exists():
        return [], [], False
    lines = path.read_text(errors="replace").split("\n")
    torn = lines[-1] != ""
    records, corrupt = [], []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError
            records.append(record)
        except ValueError:
            if not (torn and i == len(lines) - 1):
                corrupt.append(line)
    return records, corrupt, torn and bool(lines[-1].strip())


def read(path: Path) -> list[dict]:
    """Every readable line (a torn or corrupt line is skipped, never the lines after it)."""
    return _lines(path)[0]


def truncate(path: Path, corrupt_path: Path, last_epoch: int) -> int:
    """Keep the lines of epochs <= last_epoch, drop a torn last line, and move any other unreadable
    line to ``corrupt_path``; returns how many lines were moved there."""
    records, corrupt, _ = _lines(path)
    keep = [r for r in records if isinstance(r.get("epoch"), int) and r["epoch"] <= last_epoch]
    if corrupt:
        with writing(corrupt_path):
            with open(corrupt_path, "a") as fh:
                fh.write("".join(line + "\n" for line in corrupt))
    write_text(path, "".join(json.dumps(r) + "\n" for r in keep))
    return len(corrupt)
