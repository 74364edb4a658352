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

What is guaranteed (the README's "Run directories" section says it for users):

* **Atomic files.** Every file is written to ``NAME.tmp`` and renamed over the old one (metrics
  lines are appended and fsync'ed); a kill at any moment leaves the old file or the new one, and
  a failed write (disk full, no permission) leaves no ``*.tmp`` behind and raises RunDirError.
* **One writer.** ``lock()`` takes ``.lock`` (holder's pid, host and command) for the duration of a
  write; a second writer gets one line naming the holder; the lock of a process that died on this
  host is taken over.
* **Resume never destroys.** On resume, metrics lines of epochs after the checkpoint (written
  before a kill but not covered by a checkpoint) and a torn last line are dropped, so the file
  matches what an uninterrupted run writes; any other unreadable line is kept aside in
  ``metrics.jsonl.corrupt``, never deleted. ``deep.train`` refuses to resume (or to start over)
  when what it needs is missing.
* **Validated readers.** ``read_config`` / ``read_eval`` / ``read_certify`` / ``read_json`` name
  the file and what is wrong with it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import subprocess
from importlib import metadata
from pathlib import Path

from .errors import NoAveragedModel, RunDirError

__all__ = ["RunDir", "git_commit", "package_version", "write_json", "SIX", "six_numbers", "check_eval",
           "check_certify"]

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
def _writing(path, tmp: Path | None = None, torch_writer: bool = False):
    """Turn a failed write (disk full, no permission, a file where a folder should be) into a RunDirError,
    removing the half-written ``tmp``. ``torch_writer``: the block is a ``torch.save``, whose archive
    writer reports a full disk or a file-size limit as a RuntimeError ("unexpected pos", "file write
    failed"), not an OSError."""
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


# names that belong to a run directory: never the target of a result written with --out
_RUN_OWN = ("config.json", "metrics.jsonl", "metrics.jsonl.corrupt", ".lock")


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
    if name in _RUN_OWN or name.endswith((".pt", ".tmp")) or name.startswith(".lock"):
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


def replace_together(writers: dict) -> list[Path]:
    """Write a set of files that belong together, each by ``writers[path](tmp_path)``, all aside first and
    then renamed into place: a failure (a full disk included) leaves every earlier file as it was, no
    ``*.tmp`` behind, and raises RunDirError naming the file."""
    done = []
    try:
        for path, write in writers.items():
            path = Path(path)
            tmp = path.with_name(path.name + ".tmp")
            done.append((tmp, path))
            with _writing(path, tmp, torch_writer=True):
                write(tmp)
    except RunDirError:
        for tmp, _ in done:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise
    for tmp, path in done:
        os.replace(tmp, path)
    return [path for _, path in done]


def write_json(path, obj, indent: int = 2) -> Path:
    """Write ``obj`` to ``path`` atomically (temp file + rename); RunDirError if it cannot be written."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with _writing(path, tmp):
        tmp.write_text(json.dumps(obj, indent=indent))
        os.replace(tmp, path)
    return path


def _load_json(path: Path):
    """The JSON in ``path``; None when the file is missing; RunDirError naming the file when it is unreadable."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise RunDirError(f"{path} is a directory, not a JSON file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RunDirError(f"{path} is unreadable ({getattr(exc, 'strerror', None) or type(exc).__name__})") from None
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{path} is not valid JSON (line {exc.lineno}: {exc.msg})") from None


# --- the shapes of the result files ---------------------------------------------------------

def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _require(ok: bool, path, what: str) -> None:
    if not ok:
        raise RunDirError(f"{path} is not a valid result file: {what}")


def check_eval(res, path="eval.json") -> dict:
    """An eval.json dict: avg / worst numbers and class-wise lists of one length (None for an absent class)."""
    _require(isinstance(res, dict), path, "expected a JSON object")
    for group in ("avg", "worst"):
        g = res.get(group)
        _require(isinstance(g, dict) and all(_is_number(g.get(k)) for k in ("std_error", "bndy_error", "rob_error")),
                 path, f"'{group}' needs numbers std_error, bndy_error, rob_error")
    lists = [res.get(k) for k in ("std_error", "bndy_error", "rob_error")]
    _require(all(isinstance(v, list) and v for v in lists) and len({len(v) for v in lists}) == 1, path,
             "std_error, bndy_error and rob_error must be lists of one length (one number per class)")
    _require(all(_is_number(x) or x is None for v in lists for x in v), path, "class-wise errors must be numbers")
    names = res.get("class_names")
    _require(names is None or (isinstance(names, list) and len(names) == len(lists[0])), path,
             "class_names must list one name per class")
    counts = res.get("n_per_class")
    _require(counts is None or (isinstance(counts, list) and len(counts) == len(lists[0]) and all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts) and sum(counts) >= 1), path,
             "n_per_class must list one whole number >= 0 per class")
    for key in ("checkpoint", "split", "method"):
        _require(res.get(key) is None or isinstance(res.get(key), str), path, f"{key} must be text")
    attack = res.get("attack")
    _require(attack is None or (isinstance(attack, dict) and isinstance(attack.get("name", "pgd"), str) and all(
        attack.get(k) is None or _is_number(attack[k]) for k in ("eps", "steps", "step_size"))), path,
             "attack must be an object with a name and numbers eps, steps, step_size")
    _require(res.get("examples") is None or isinstance(res.get("examples"), dict), path,
             "examples must be an object")
    if "pgd" in res:
        _require(isinstance(res["pgd"], dict) and "pgd" not in res["pgd"], path, "pgd must be an eval object")
        check_eval(res["pgd"], f"{path} (its pgd entry)")
        _require(len(res["pgd"]["rob_error"]) == len(lists[0]), path, "pgd must have one error per class too")
    return res


def check_certify(res, path="certify.json") -> dict:
    """A certify.json dict: sigma, radius and class-wise certified errors of one length."""
    _require(isinstance(res, dict), path, "expected a JSON object")
    _require(_is_number(res.get("sigma")) and _is_number(res.get("radius")), path, "needs numbers sigma and radius")
    lists = [res.get(k) for k in ("certified_std_error", "certified_error")]
    _require(all(isinstance(v, list) and v for v in lists) and len({len(v) for v in lists}) == 1 and
             all(_is_number(x) or x is None for v in lists for x in v), path,
             "certified_std_error and certified_error must be lists of numbers of one length")
    return res


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OSError, ValueError, OverflowError):
        return False
    return True


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
    LOCK = ".lock"
    # the files that make a directory a run: any one of them is enough
    RUN_FILES = (CONFIG, METRICS, CHECKPOINT, BEST, EVAL, CERTIFY)
    # the models a run can be evaluated with (frl eval --checkpoint): the last epoch's, the best by
    # validation robust error, and the weight average of a method that keeps one (CFA)
    MODELS = ("last", "best", "averaged")

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
        with _writing(f"to --out {self.path}"):
            self.path.mkdir(parents=True, exist_ok=True)
            probe = self.path / ".write-test"
            probe.write_text("")
            probe.unlink()

    # -- one writer ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, command: str = "frl"):
        """Hold ``.lock`` while writing; RunDirError naming the holder if another live process has it.

        The lock file appears with its content in one step (written aside, then hard-linked into
        place), so a reader never sees it empty; a holder that died on this host is taken over.
        """
        made = not self.path.exists()
        self.create()
        path = self.path / self.LOCK
        me = {"pid": os.getpid(), "host": socket.gethostname(), "command": command}
        aside = self.path / f"{self.LOCK}.{me['pid']}"
        with _writing(aside, aside):
            aside.write_text(json.dumps(me))
        try:
            for _ in range(3):
                try:
                    os.link(aside, path)
                    break
                except FileExistsError:
                    self._take_over_stale(path)
            else:
                raise RunDirError(f"{self.path} is locked ({path}) and the lock could not be taken over")
        finally:
            aside.unlink()
        try:
            yield self
        finally:
            with contextlib.suppress(OSError, ValueError):
                if json.loads(path.read_text()).get("pid") == me["pid"]:
                    path.unlink()
            if made:  # a command that failed before writing anything leaves no empty folder behind
                with contextlib.suppress(OSError):
                    self.path.rmdir()

    @staticmethod
    def _holder(path: Path):
        """(pid, host, command) of a lock file; None if it is unreadable; FileNotFoundError if it is gone."""
        try:
            holder = json.loads(path.read_text())
            return int(holder["pid"]), str(holder["host"]), str(holder.get("command", "frl"))
        except FileNotFoundError:
            raise
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _take_over_stale(self, path: Path) -> None:
        """Remove the lock of a process that is gone (same host, pid not alive); else RunDirError naming it."""
        try:
            holder = self._holder(path)
        except FileNotFoundError:
            return  # released meanwhile: try again
        if holder is not None and (holder[1] != socket.gethostname() or _pid_alive(holder[0])):
            pid, host, command = holder
            raise RunDirError(f"{self.path} is in use by {command} (pid {pid} on {host}); wait for it to end, or "
                              f"delete {path} if that process is gone")
        # move the dead lock aside, then check that it is the one judged dead (not a new holder's)
        grave = path.with_name(f"{self.LOCK}.stale.{os.getpid()}")
        try:
            os.rename(path, grave)
        except FileNotFoundError:
            return
        try:
            if self._holder(grave) != holder:  # a live holder took it meanwhile: put its lock back
                with contextlib.suppress(OSError):
                    os.link(grave, path)
        finally:
            grave.unlink()

    # -- result files (JSON) -----------------------------------------------------------------
    def write_json(self, name: str, obj) -> Path:
        return write_json(self.path / name, obj)

    def read_json(self, name: str):
        """A JSON file of this directory; None when missing; RunDirError naming the file when unreadable."""
        return _load_json(self.path / name)

    def write_eval(self, result: dict, name: str = EVAL) -> Path:
        return self.write_json(name, result)

    def read_eval(self, name: str = EVAL) -> dict | None:
        """The eval.json dict (checked), or None when there is none yet."""
        res = self.read_json(name)
        return None if res is None else check_eval(res, self.path / name)

    def write_certify(self, result: dict, name: str = CERTIFY) -> Path:
        return self.write_json(name, result)

    def read_certify(self, name: str = CERTIFY) -> dict | None:
        """The certify.json dict (checked), or None when there is none yet."""
        res = self.read_json(name)
        return None if res is None else check_certify(res, self.path / name)

    def write_summary(self, summary: dict, markdown: str | None = None) -> Path:
        """``summary.json`` (and ``summary.md``) of the runs grouped in this directory."""
        path = self.write_json(self.SUMMARY, summary)
        if markdown is not None:
            md, tmp = self.path / self.SUMMARY_MD, self.path / (self.SUMMARY_MD + ".tmp")
            with _writing(md, tmp):
                tmp.write_text(markdown)
                os.replace(tmp, md)
        return path

    # -- config -----------------------------------------------------------------------------
    def write_config(self, config: dict) -> None:
        import torch

        record = {**config, "package_version": package_version(), "git_commit": git_commit(),
                  "torch_version": torch.__version__}
        tmp = self.config_path.with_suffix(".json.tmp")
        with _writing(self.config_path, tmp):
            tmp.write_text(json.dumps(record, indent=2))
            _fsync_replace(tmp, self.config_path)

    def read_config(self) -> dict:
        """config.json as a dict; RunDirError when it is missing, unreadable or not a JSON object."""
        cfg = _load_json(self.config_path)
        if cfg is None:
            raise RunDirError(f"{self.path} has no {self.CONFIG}: not a run directory")
        if not isinstance(cfg, dict):
            raise RunDirError(f"{self.config_path} is not a run's config (expected a JSON object of settings)")
        return cfg

    # -- metrics ----------------------------------------------------------------------------
    def append_metrics(self, record: dict) -> None:
        with _writing(self.metrics_path):
            with open(self.metrics_path, "a") as fh:
                fh.write(json.dumps(record) + "\n")
                fh.flush()
                os.fsync(fh.fileno())

    def _metrics_lines(self) -> tuple[list[dict], list[str], bool]:
        """(records, unreadable lines other than a torn last one, whether the last line was torn)."""
        if not self.metrics_path.exists():
            return [], [], False
        text = self.metrics_path.read_text(errors="replace")
        lines = text.split("\n")
        torn = lines[-1] != ""  # a kill in the middle of an append leaves a last line without its newline
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

    def read_metrics(self) -> list[dict]:
        """Every readable metrics line (a torn or corrupt line is skipped, never the lines after it)."""
        return self._metrics_lines()[0]

    def truncate_metrics(self, last_epoch: int) -> int:
        """Keep the lines of epochs <= last_epoch, drop a torn last line, and move any other unreadable
        line to ``metrics.jsonl.corrupt``; returns how many lines were moved there."""
        records, corrupt, _ = self._metrics_lines()
        keep = [r for r in records if isinstance(r.get("epoch"), int) and r["epoch"] <= last_epoch]
        if corrupt:
            with _writing(self.path / self.CORRUPT):
                with open(self.path / self.CORRUPT, "a") as fh:
                    fh.write("".join(line + "\n" for line in corrupt))
        tmp = self.metrics_path.with_suffix(".jsonl.tmp")
        with _writing(self.metrics_path, tmp):
            tmp.write_text("".join(json.dumps(r) + "\n" for r in keep))
            _fsync_replace(tmp, self.metrics_path)
        return len(corrupt)

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
        with _writing(path, tmp, torch_writer=True):
            torch.save(state, tmp)
            _fsync_replace(tmp, path)

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
