"""The run directory: every file of a run and every result file, by name, with its reader and its writer.

* ``config.json`` - every setting, the package version and the git commit if any.
* ``metrics.jsonl`` - one JSON object per line, appended (and fsync'ed) per epoch and split.
* ``checkpoint.pt`` - one dict of everything needed to continue (model, optimiser, scheduler, RNG
  states, method state, config); ``best.pt`` - the model of the epoch with the lowest validation
  robust error (``frl eval --checkpoint best``).
* ``eval.json`` / ``certify.json`` - class-wise errors under attack (``frl eval``) and certified
  errors (``frl certify``), checked by :mod:`deep.result_checks`.
* In the folder that groups runs: ``summary.json`` / ``.md`` (a pipeline or the demo), ``demo.json``,
  ``ablation.json``, ``frl_loss.json`` / ``.md`` (``frl ablation frl-loss``), ``compare.json`` / ``.md``.

Every other module names these files through :class:`RunDir` (``RunDir.EVAL``, ``read_eval()``, ...).
Reading needs no torch; only the checkpoints do. The jobs around it have a module each:
:mod:`deep.atomic_files` (every file written aside, fsync'ed, renamed), :mod:`deep.run_lock` (one
writer), :mod:`deep.result_checks` (the shapes of result files), :mod:`deep.version_facts`.

What is guaranteed is written for users in ``docs/run-directories.md``.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from . import metrics_file, run_lock
from .choices import Checkpoint
from .atomic_files import load_json, replace_together, write_atomic, write_json, write_text, writing
from .errors import NoAveragedModel, RunDirError
from .result_checks import SIX, check_certify, check_eval, six_numbers
from .version_facts import git_commit, package_version

__all__ = ["RunDir", "check_result_out", "git_commit", "package_version", "write_json", "replace_together",
           "SIX", "six_numbers", "check_eval", "check_certify"]

# names that belong to a run directory: never the target of a result written with --out
_RUN_OWN = ("config.json", "metrics.jsonl", "metrics.jsonl.corrupt", run_lock.LOCK)


def check_result_out(out, kind: str) -> Path:
    """``out`` as the file a result of ``kind`` ("eval", "certify", ...) may be written to, or RunDirError:
    not empty, not a directory, not a file of a run directory (config, metrics, any ``*.pt``, a lock or a
    ``*.tmp``), and not an existing file that is not a JSON result of the same kind."""
    if out is None or not str(out).strip():
        raise RunDirError("--out is empty: name the JSON file to write")
    path = Path(out)
    if path.is_dir():
        raise RunDirError(f"--out {out} is a directory: name the JSON file to write")
    name = path.name
    if name in _RUN_OWN or name.endswith((".pt", ".tmp")) or name.startswith(run_lock.LOCK):
        raise RunDirError(f"--out {out} would replace a file of a run directory; choose another name")
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError):
            old = None
        if not (isinstance(old, dict) and old.get("result_kind", kind) == kind
                and ("rob_error" in old or "certified_error" in old or "std_error" in old)):
            raise RunDirError(f"--out {out} exists and is not a {kind} result: it is kept; remove it or choose "
                              f"another name")
    return path


def _file(name: str) -> property:
    """A read-only ``Path`` attribute: the file ``name`` of this run directory."""
    return property(lambda self: self.path / name)


class RunDir:
    CONFIG = "config.json"
    METRICS = "metrics.jsonl"
    CORRUPT = "metrics.jsonl.corrupt"
    CHECKPOINT = "checkpoint.pt"
    BEST = "best.pt"
    EVAL = "eval.json"
    CERTIFY = "certify.json"
    ABLATION = "ablation.json"
    SUMMARY = "summary.json"
    SUMMARY_MD = "summary.md"
    LOCK = run_lock.LOCK
    DEMO = "demo.json"  # frl demo: its settings, beside its runs
    FRL_LOSS = "frl_loss.json"  # frl ablation frl-loss: the six numbers per arm over seeds
    COMPARE = "compare.json"  # frl compare: methods against a base over seeds
    # the files that make a directory a run: any one of them is enough
    RUN_FILES = (CONFIG, METRICS, CHECKPOINT, BEST, EVAL, CERTIFY)
    # the models a run can be evaluated with (frl eval --checkpoint): the last epoch's, the best by
    # validation robust error, and the weight average of a method that keeps one (CFA)
    MODELS = Checkpoint.values()

    def __init__(self, path):
        self.path = Path(path)

    config_path = _file(CONFIG)
    metrics_path = _file(METRICS)
    checkpoint_path = _file(CHECKPOINT)
    best_path = _file(BEST)
    eval_path = _file(EVAL)

    @staticmethod
    def result_name(kind: str, split: str = "test", limit: int | None = None) -> str:
        """``eval.json`` / ``certify.json`` for the whole test split; a subset gets its own file
        (``eval_val.json``, ``eval_limit100.json``), so it never replaces the full result."""
        suffix = ("" if split == "test" else f"_{split}") + ("" if limit is None else f"_limit{int(limit)}")
        return f"{kind}{suffix}.json"

    def run_files(self) -> list[str]:
        """The files of a run that this directory holds."""
        return [name for name in self.RUN_FILES if (self.path / name).exists()]

    def holds_model(self) -> bool:
        """config.json and checkpoint.pt are both there: the run can be evaluated or fine-tuned from."""
        return self.config_path.exists() and self.checkpoint_path.exists()

    def holds_run(self) -> bool:
        return bool(self.run_files())

    def create(self) -> None:
        """Make the directory; RunDirError if it cannot be created or written."""
        with writing(f"to --out {self.path}"):
            self.path.mkdir(parents=True, exist_ok=True)
            probe = self.path / ".write-test"
            probe.write_text("")
            probe.unlink()

    # -- one writer (deep.run_lock) ---------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, command: str = "frl"):
        """Hold ``.lock`` while writing; RunDirError naming the holder if another live process has it. A
        command that fails before writing anything leaves no empty folder behind."""
        made = not self.path.exists()
        self.create()
        try:
            with run_lock.hold(self.path, command):
                yield self
        finally:
            if made:
                with contextlib.suppress(OSError):
                    self.path.rmdir()

    # -- result files (JSON) -----------------------------------------------------------------
    def write_json(self, name: str, obj) -> Path:
        return write_json(self.path / name, obj)

    def read_json(self, name: str):
        """A JSON file of this directory; None when missing; RunDirError naming the file when unreadable."""
        return load_json(self.path / name)

    def read_eval(self, name: str = EVAL) -> dict | None:
        """The eval.json dict (checked), or None when there is none yet."""
        res = self.read_json(name)
        return None if res is None else check_eval(res, self.path / name)

    def read_certify(self, name: str = CERTIFY) -> dict | None:
        """The certify.json dict (checked), or None when there is none yet."""
        res = self.read_json(name)
        return None if res is None else check_certify(res, self.path / name)

    def write_summary(self, summary: dict, markdown: str | None = None) -> Path:
        """``summary.json`` (and ``summary.md``) of the runs grouped in this directory."""
        path = self.write_json(self.SUMMARY, summary)
        if markdown is not None:
            write_text(self.path / self.SUMMARY_MD, markdown)
        return path

    # -- config -----------------------------------------------------------------------------
    def write_config(self, config: dict) -> None:
        import torch

        record = {**config, "package_version": package_version(), "git_commit": git_commit(),
                  "torch_version": torch.__version__}
        write_json(self.config_path, record)

    def read_config(self) -> dict:
        """config.json as a dict; RunDirError when it is missing, unreadable or not a JSON object."""
        cfg = load_json(self.config_path)
        if cfg is None:
            raise RunDirError(f"{self.path} has no {self.CONFIG}: not a run directory")
        if not isinstance(cfg, dict):
            raise RunDirError(f"{self.config_path} is not a run's config (expected a JSON object of settings)")
        return cfg

    # -- metrics (deep.metrics_file) ---------------------------------------------------------
    def append_metrics(self, record: dict) -> None:
        metrics_file.append(self.metrics_path, record)

    def read_metrics(self) -> list[dict]:
        """Every readable metrics line (a torn or corrupt line is skipped, never the lines after it)."""
        return metrics_file.read(self.metrics_path)

    def truncate_metrics(self, last_epoch: int) -> int:
        """Keep the lines of epochs <= last_epoch; any other unreadable line goes to ``metrics.jsonl.corrupt``."""
        return metrics_file.truncate(self.metrics_path, self.path / self.CORRUPT, last_epoch)

    # -- checkpoint -------------------------------------------------------------------------
    def save_checkpoint(self, state: dict) -> None:
        self._save(state, self.checkpoint_path)

    def save_best(self, state: dict) -> None:
        """The model of the epoch with the lowest validation robust error so far (atomic, like the checkpoint)."""
        self._save(state, self.best_path)

    @staticmethod
    def _save(state: dict, path: Path) -> None:
        import torch

        write_atomic(path, lambda tmp: torch.save(state, tmp), torch_writer=True)

    def load_checkpoint(self, map_location="cpu", best: bool = False) -> dict | None:
        path = self.best_path if best else self.checkpoint_path
        if not path.exists():
            return None
        import torch

        try:
            ckpt = torch.load(path, map_location=map_location, weights_only=False)
        except Exception as exc:
            raise RunDirError(f"{path} is unreadable ({type(exc).__name__})") from None
        if not isinstance(ckpt, dict) or "model" not in ckpt or "epoch" not in ckpt:
            raise RunDirError(f"{path} is not a checkpoint of this project")
        return ckpt

    def load_model(self, which: str = "last", map_location="cpu") -> dict:
        """The checkpoint dict whose ``model`` is the model ``which`` names (one of :attr:`MODELS`):
        checkpoint.pt's, best.pt's, or the weight average checkpoint.pt's method state keeps.
        RunDirError when the run holds no such model."""
        if which not in self.MODELS:
            raise RunDirError(f"checkpoint == {which!r}, must be one of {', '.join(self.MODELS)}")
        path = self.best_path if which == "best" else self.checkpoint_path
        ckpt = self.load_checkpoint(map_location, best=which == "best")
        if ckpt is None:
            hint = (" (it was trained before best checkpoints were kept, or has no validation split); use the last "
                    "checkpoint") if which == "best" else ""
            raise RunDirError(f"{self.path} has no {path.name}{hint}")
        if which != "averaged":
            return ckpt
        method = ckpt.get("method")
        averaged = method.get("averaged") if isinstance(method, dict) else None
        if averaged is None:
            raise NoAveragedModel(f"{path} holds no averaged model: only cfa keeps one, from the first epoch whose "
                                  f"worst-class validation robust accuracy reaches --cfa-threshold; evaluate the "
                                  f"last checkpoint, or train with a lower threshold")
        return {**ckpt, "model": averaged}
