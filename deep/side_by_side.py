"""Stages of a pipeline trained side by side (``frl run --jobs N``): N worker processes at once, each
sharing torch's threads.

Why: two compact_cnn training processes of one thread each get more images per second out of two CPU
cores than one process of two threads (``benchmarks/cpu_fast_path.py``, its "2 processes x 1 thread"
row: 1.14-1.23x on the 2-core AMD EPYC, docs/speed.md); the four fine-tunes of
``configs/cpu/cifar10_frl.toml`` start from one start and need nothing of each other, and neither do
seeds. A stage starts once the stage it starts from (its ``init`` in the pipeline) has finished; stages
start in the order of the seeds, then of the stages.

Each stage runs in a fresh process (spawned: nothing of this process's torch state carries over) that
the kernel kills when this process dies (:func:`deep.worker_processes.die_with_parent`), so a
``kill -9`` of ``frl run`` leaves no stage training, and a rerun resumes each from its checkpoint as it
would one after another. A stage's numbers depend on its thread count (float sums in another order):
every metrics line records it (``threads``); a stage that runs alone (nothing else running or ready)
gets every thread, two side by side half each. With the same threads a stage trained side by side is
the stage trained alone, bit for bit (tests/test_side_by_side.py).
"""

from __future__ import annotations

import functools
import multiprocessing
import multiprocessing.connection
import os
import pickle
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from .errors import ConfigError, UsageError
from .worker_processes import die_with_parent

__all__ = ["Task", "check_jobs", "run_tasks"]


@dataclass
class Task:
    """One call ``fn(*args, log=...)`` of :func:`run_tasks`: ``key`` names it, ``after`` is the key of the
    task it must wait for (None: none), ``prepare`` runs in this process just before it starts."""
    key: Any
    label: str
    args: tuple
    after: Any = None
    prepare: Callable[[], None] | None = field(default=None, repr=False)


def check_jobs(jobs: int, threads: int | None = None) -> int:
    """The threads ``jobs`` workers share (``threads``, default: this process's torch threads); ConfigError
    where ``jobs`` is not a whole number in [1, threads]."""
    threads = threads or torch.get_num_threads()
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"--jobs {jobs}: a whole number >= 1 is required")
    if jobs > threads:
        raise ConfigError(f"--jobs {jobs} with {threads} of torch's threads: every job needs a thread of its own "
                          f"(at most --jobs {threads})")
    return threads


def _labelled(label: str, msg) -> None:
    print(f"{label}: {msg}", file=sys.stderr, flush=True)


def _in_worker(conn, parent: int, threads, fn, args, label) -> None:
    """A worker process: death with its parent, its threads, one call, its result or error sent back."""
    die_with_parent()
    if os.getppid() != parent:  # the parent died before the signal was set (while this process started)
        os._exit(1)
    torch.set_num_threads(threads)
    try:
        out = ("result", fn(*args, log=functools.partial(_labelled, label)))
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent, which raises it
        if not isinstance(exc, UsageError):  # a bug: its traceback, which the parent's re-raise loses
            _labelled(label, traceback.format_exc().rstrip())
        out = ("error", exc)
    try:
        conn.send(out)
    except Exception:  # noqa: BLE001 - a result or error that does not pickle: its text
        conn.send(("error", RuntimeError(f"{label}: {type(out[1]).__name__}: {out[1]}"[:2000])))
    conn.close()


def _start(ctx, task: Task, fn, threads: int):
    receive, send = ctx.Pipe(duplex=False)
    # not a daemon, so that it may start processes of its own (torch.compile's workers on older torch)
    proc = ctx.Process(target=_in_worker, args=(send, os.getpid(), threads, fn, task.args, task.label))
    proc.start()
    send.close()
    return proc, receive


def _outcome(task: Task, proc, receive):
    """The result of a finished worker; its error raised; a worker that died without a word named."""
    try:
        kind, value = receive.recv()
    except (EOFError, OSError, TypeError, pickle.UnpicklingError, AttributeError):  # died mid-message, or unreadable
        proc.join()
        raise RuntimeError(f"{task.label}: its worker process ended without a readable result (exit code "
                           f"{proc.exitcode})") from None
    proc.join()
    if kind == "error":
        raise value
    return value


def run_tasks(tasks: list[Task], fn, jobs: int, threads: int, on_done, log=print) -> None:
    """Run ``fn(*task.args, log=...)`` for every task, each in a fresh worker process, at most ``jobs`` at
    once and each after the task it waits for; ``on_done(task, result)`` runs here as each finishes.
    ``threads`` are shared out as a task starts: threads // min(jobs, tasks running or ready to run), so
    a task that runs alone (a pipeline's start) gets them all and two side by side get half each.
    ``fn`` must be importable (a module's function). The first failure (an error, or a worker that
    died) ends every other worker and is raised here."""
    ctx = multiprocessing.get_context("spawn")
    waiting, running, finished = list(tasks), {}, set()
    try:
        while waiting or running:
            ready = [t for t in waiting if t.after is None or t.after in finished]
            if not ready and not running:
                raise RuntimeError(f"tasks wait for tasks that never run: {[t.key for t in waiting]}")
            share = max(1, threads // min(jobs, len(running) + len(ready))) if ready else threads
            for task in ready[:jobs - len(running)]:
                waiting.remove(task)
                if task.prepare is not None:
                    task.prepare()
                log(f"{task.label}: started ({share} thread{'s' if share > 1 else ''})")
                running[task.key] = (task, *_start(ctx, task, fn, share))
            multiprocessing.connection.wait([r for _, _, r in running.values()])
            for key in [k for k, (_, _, r) in running.items() if r.poll()]:
                task, proc, receive = running.pop(key)
                on_done(task, _outcome(task, proc, receive))
                finished.add(key)
    finally:
        for _, proc, _ in running.values():  # after a failure: the others end (each resumes when run again)
            proc.kill()
            proc.join()
