"""One writer per run directory: the ``.lock`` protocol.

:func:`hold` takes ``DIR/.lock`` (the holder's pid, host and command, as JSON) for the duration of a
write. The file appears with its content in one step (written aside, then hard-linked into place),
so a reader never sees it empty; a second writer gets one line naming the holder; the lock of a
process that died on this host is taken over (moved aside, checked, removed).

    >>> with hold(Path("runs/x"), "frl train"):
    ...     ...  # write the run's files
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from pathlib import Path

from .atomic_files import writing
from .errors import RunDirError

__all__ = ["LOCK", "hold"]

LOCK = ".lock"


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


def _holder(path: Path):
    """(pid, host, command) of a lock file; None if it is unreadable; FileNotFoundError if it is gone."""
    try:
        holder = json.loads(path.read_text())
        return int(holder["pid"]), str(holder["host"]), str(holder.get("command", "frl"))
    except FileNotFoundError:
        raise
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _take_over_stale(folder: Path, path: Path) -> None:
    """Remove the lock of a process that is gone (same host, pid not alive); else RunDirError naming it."""
    try:
        holder = _holder(path)
    except FileNotFoundError:
        return  # released meanwhile: try again
    if holder is not None and (holder[1] != socket.gethostname() or _pid_alive(holder[0])):
        pid, host, command = holder
        raise RunDirError(f"{folder} is in use by {command} (pid {pid} on {host}); wait for it to end, or "
                          f"delete {path} if that process is gone")
    # move the dead lock aside, then check that it is the one judged dead (not a new holder's)
    grave = path.with_name(f"{LOCK}.stale.{os.getpid()}")
    try:
        os.rename(path, grave)
    except FileNotFoundError:
        return
    try:
        if _holder(grave) != holder:  # a live holder took it meanwhile: put its lock back
            with contextlib.suppress(OSError):
                os.link(grave, path)
    finally:
        grave.unlink()


@contextlib.contextmanager
def hold(folder: Path, command: str = "frl"):
    """Hold ``folder/.lock`` (``folder`` exists and is writable); RunDirError naming the holder if another
    live process has it."""
    path = folder / LOCK
    me = {"pid": os.getpid(), "host": socket.gethostname(), "command": command}
    aside = folder / f"{LOCK}.{me['pid']}"
    with writing(aside, aside):
        aside.write_text(json.dumps(me))
    try:
        for _ in range(3):
            try:
                os.link(aside, path)
                break
            except FileExistsError:
                _take_over_stale(folder, path)
        else:
            raise RunDirError(f"{folder} is locked ({path}) and the lock could not be taken over")
    finally:
        aside.unlink()
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text()).get("pid") == me["pid"]:
                path.unlink()
