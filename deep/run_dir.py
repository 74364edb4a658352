"""The run directory: ``config.json``, ``metrics.jsonl``, ``checkpoint.pt`` (and ``eval.json``).

* ``config.json`` - every setting, the package version and the git commit if any.
* ``metrics.jsonl`` - one JSON object per line, appended per epoch and split.
* ``checkpoint.pt`` - one dict of everything needed to continue (model, optimiser,
  scheduler, RNG states, method state, config), written to a temporary file and renamed
  over the old one, so a kill at any moment leaves either the old or the new checkpoint.
* ``best.pt`` - the model of the epoch with the lowest validation robust error (written the
  same way); ``frl eval --checkpoint best`` evaluates it.

On resume, metrics lines of epochs after the checkpoint (written before a kill but not
covered by a checkpoint) and a torn last line are dropped, so the file matches what an
uninterrupted run writes.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import torch

__all__ = ["RunDir", "git_commit"]


def git_commit() -> str | None:
    """The commit of the code that runs (None outside a git checkout)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _fsync_replace(tmp: Path, final: Path) -> None:
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, final)


class RunDir:
    CONFIG = "config.json"
    METRICS = "metrics.jsonl"
    CHECKPOINT = "checkpoint.pt"
    BEST = "best.pt"

    def __init__(self, path):
        self.path = Path(path)

    @property
    def config_path(self) -> Path:
        return self.path / self.CONFIG

    @property
    def metrics_path(self) -> Path:
        return self.path / self.METRICS

    @property
    def checkpoint_path(self) -> Path:
        return self.path / self.CHECKPOINT

    @property
    def best_path(self) -> Path:
        return self.path / self.BEST

    def holds_run(self) -> bool:
        return self.checkpoint_path.exists() or self.metrics_path.exists()

    def create(self) -> None:
        """Make the directory (raises OSError if it cannot be created)."""
        self.path.mkdir(parents=True, exist_ok=True)
        probe = self.path / ".write-test"
        probe.write_text("")
        probe.unlink()

    # -- config -----------------------------------------------------------------------------
    def write_config(self, config: dict) -> None:
        from frl import __version__

        record = {**config, "package_version": __version__, "git_commit": git_commit(),
                  "torch_version": torch.__version__}
        tmp = self.config_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(record, indent=2))
        _fsync_replace(tmp, self.config_path)

    def read_config(self) -> dict:
        try:
            return json.loads(self.config_path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"{self.path} has no {self.CONFIG}: not a run directory") from None

    # -- metrics ----------------------------------------------------------------------------
    def append_metrics(self, record: dict) -> None:
        with open(self.metrics_path, "a") as fh:
            fh.write(json.dumps(record) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def read_metrics(self) -> list[dict]:
        """All complete metrics lines (a torn last line is ignored)."""
        if not self.metrics_path.exists():
            return []
        records = []
        for line in self.metrics_path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break
        return records

    def truncate_metrics(self, last_epoch: int) -> None:
        """Keep only lines of epochs <= last_epoch (and drop a torn line)."""
        keep = [r for r in self.read_metrics() if r.get("epoch", -1) <= last_epoch]
        tmp = self.metrics_path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in keep))
        _fsync_replace(tmp, self.metrics_path)

    # -- checkpoint -------------------------------------------------------------------------
    def save_checkpoint(self, state: dict) -> None:
        tmp = self.checkpoint_path.with_suffix(".pt.tmp")
        torch.save(state, tmp)
        _fsync_replace(tmp, self.checkpoint_path)

    def save_best(self, state: dict) -> None:
        """The model of the epoch with the lowest validation robust error so far (atomic, like the checkpoint)."""
        tmp = self.best_path.with_suffix(".pt.tmp")
        torch.save(state, tmp)
        _fsync_replace(tmp, self.best_path)

    def load_checkpoint(self, map_location="cpu", best: bool = False) -> dict | None:
        path = self.best_path if best else self.checkpoint_path
        if not path.exists():
            return None
        try:
            return torch.load(path, map_location=map_location, weights_only=False)
        except Exception as exc:
            raise ValueError(f"{path} is unreadable ({type(exc).__name__})") from None
