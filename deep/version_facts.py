"""What code produced a run: the installed package version and the git commit (recorded in config.json)."""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path

__all__ = ["package_version", "git_commit"]


def package_version() -> str:
    """The installed version of this project (``frl-toolkit``)."""
    try:
        return metadata.version("frl-toolkit")
    except metadata.PackageNotFoundError:
        return "unknown"


def git_commit() -> str | None:
    """The commit of the code that runs (None outside a git checkout)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
