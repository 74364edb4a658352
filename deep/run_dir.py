"""The run directory: every file of a run, by name, with its reader and its (atomic) writer.

* ``config.json`` - every setting, the package version and the git commit if any.
* ``metrics.jsonl`` - one JSON object per line, appended per epoch and split.
* ``checkpoint.pt`` - one dict of everything needed to continue (model, optimiser,
  scheduler, RNG states, method state, config), written to a temporary file and renamed
  over the old one, so a kill at any moment leaves either the old or the new checkpoint.
* ``best.pt`` - the model of the epoch with the lowest validation robust error (written the
  same way); ``frl eval --checkpoint best`` evaluates it.
* ``eval.json`` / ``certify.json`` - class-wise errors under attack (``frl eval``) and certified
  errors (``frl certify``); ``ablation.json`` / ``summary.json`` (+ ``summary.md``) - the design of
  an ablation and the summary of a pipeline or demo, in the folder that groups its runs.

Every other module names these files through :class:`RunDir` (``RunDir.EVAL``, ``read_eval()``, ...).
Reading needs no torch; only the checkpoints do.

On resume, metrics lines of epochs after the checkpoint (written before a kill but not
covered by a checkpoint) and a torn last line are dropped, so the file matches what an
uninterrupted run writes.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from importlib import metadata
from pathlib import Path

from .errors import RunDirError

__all__ = ["RunDir", "git_commit", "package_version", "write_json", "SIX", "six_numbers"]

# The six numbers every summary reports: (name, group, key) of an eval.json.
SIX = (("avg_std", "avg", "std_error"), ("worst_std", "worst", "std_error"),
       ("avg_bndy", "avg", "bndy_error"), ("worst_bndy", "worst", "bndy_error"),
       ("avg_rob", "avg", "rob_error"), ("worst_rob", "worst", "rob_error"))


def six_numbers(res: dict) -> dict:
    """{avg_std, worst_std, avg_bndy, worst_bndy, avg_rob, worst_rob} (fractions) of an eval.json dict."""
    return {name: res[group][key] for name, group, key in SIX}


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


def _fsync_replace(tmp: Path, final: Path) -> None:
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, final)


@contextlib.contextmanager
def _writing(path):
    """Turn a failed write (disk full, no permission, a file where a folder should be) into a RunDirError."""
    try:
        yield
    except OSError as exc:
        raise RunDirError(f"cannot write {path}: {exc.strerror or exc}") from None


def write_json(path, obj, indent: int = 2) -> Path:
    """Write ``obj`` to ``path`` atomically (temp file + rename); RunDirError if it cannot be written."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with _writing(path):
        tmp.write_text(json.dumps(obj, indent=indent))
        os.replace(tmp, path)
    return path


def _read_json(path: Path):
    """The JSON object in ``path``, or None when the file is missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


class RunDir:
    CONFIG = "config.json"
    METRICS = "metrics.jsonl"
    CHECKPOINT = "checkpoint.pt"
    BEST = "best.pt"
    EVAL = "eval.json"
    CERTIFY = "certify.json"
    ABLATION = "ablation.json"
    SUMMARY = "summary.json"
    SUMMARY_MD = "summary.md"

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

    @property
    def eval_path(self) -> Path:
        return self.path / self.EVAL

    @property
    def certify_path(self) -> Path:
        return self.path / self.CERTIFY

    def sub(self, name) -> "RunDir":
        """The run directory ``name`` inside this one (a stage of a pipeline, an arm of an ablation)."""
        return RunDir(self.path / name)

    def holds_model(self) -> bool:
        """config.json and checkpoint.pt are both there: the run can be evaluated or fine-tuned from."""
        return self.config_path.exists() and self.checkpoint_path.exists()

    def holds_run(self) -> bool:
        return self.checkpoint_path.exists() or self.metrics_path.exists()

    def create(self) -> None:
        """Make the directory; RunDirError if it cannot be created or written."""
        with _writing(f"to --out {self.path}"):
            self.path.mkdir(parents=True, exist_ok=True)
            probe = self.path / ".write-test"
            probe.write_text("")
            probe.unlink()

    # -- result files (JSON) -----------------------------------------------------------------
    def write_json(self, name: str, obj) -> Path:
        return write_json(self.path / name, obj)

    def read_json(self, name: str):
        """A JSON file of this directory, or None when it is missing or unreadable."""
        return _read_json(self.path / name)

    def write_eval(self, result: dict) -> Path:
        return self.write_json(self.EVAL, result)

    def read_eval(self) -> dict | None:
        return self.read_json(self.EVAL)

    def write_certify(self, result: dict) -> Path:
        return self.write_json(self.CERTIFY, result)

    def read_certify(self) -> dict | None:
        return self.read_json(self.CERTIFY)

    def write_summary(self, summary: dict, markdown: str | None = None) -> Path:
        """``summary.json`` (and ``summary.md``) of the runs grouped in this directory."""
        path = self.write_json(self.SUMMARY, summary)
        if markdown is not None:
            with _writing(self.path / self.SUMMARY_MD):
                (self.path / self.SUMMARY_MD).write_text(markdown)
        return path

    # -- config -----------------------------------------------------------------------------
    def write_config(self, config: dict) -> None:
        import torch

        record = {**config, "package_version": package_version(), "git_commit": git_commit(),
                  "torch_version": torch.__version__}
        tmp = self.config_path.with_suffix(".json.tmp")
        with _writing(self.config_path):
            tmp.write_text(json.dumps(record, indent=2))
            _fsync_replace(tmp, self.config_path)

    def read_config(self) -> dict:
        try:
            return json.loads(self.config_path.read_text())
        except FileNotFoundError:
            raise RunDirError(f"{self.path} has no {self.CONFIG}: not a run directory") from None
        except json.JSONDecodeError:
            raise RunDirError(f"{self.config_path} is not valid JSON") from None

    # -- metrics ----------------------------------------------------------------------------
    def append_metrics(self, record: dict) -> None:
        with _writing(self.metrics_path):
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
        with _writing(self.metrics_path):
            tmp.write_text("".join(json.dumps(r) + "\n" for r in keep))
            _fsync_replace(tmp, self.metrics_path)

    # -- checkpoint -------------------------------------------------------------------------
    def save_checkpoint(self, state: dict) -> None:
        self._save(state, self.checkpoint_path)

    def save_best(self, state: dict) -> None:
        """The model of the epoch with the lowest validation robust error so far (atomic, like the checkpoint)."""
        self._save(state, self.best_path)

    @staticmethod
    def _save(state: dict, path: Path) -> None:
        import torch

        tmp = path.with_suffix(".pt.tmp")
        with _writing(path):
            torch.save(state, tmp)
            _fsync_replace(tmp, path)

    def load_checkpoint(self, map_location="cpu", best: bool = False) -> dict | None:
        path = self.best_path if best else self.checkpoint_path
        if not path.exists():
            return None
        import torch

        try:
            return torch.load(path, map_location=map_location, weights_only=False)
        except Exception as exc:
            raise RunDirError(f"{path} is unreadable ({type(exc).__name__})") from None
