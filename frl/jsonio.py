"""Result files: JSON written atomically (temp file + rename), with write failures as user errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .errors import UserError


def write_json(path, obj, prog: str = "frl", indent=2) -> Path:
    """Write ``obj`` to ``path`` atomically; an unwritable path is a one-line UserError of ``prog``."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps(obj, indent=indent))
        os.replace(tmp, path)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}", prog=prog) from None
    return path
