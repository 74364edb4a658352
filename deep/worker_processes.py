"""Worker processes that end with their parent: a ``kill -9`` of a command leaves none of its workers running."""

from __future__ import annotations

import signal
import sys

__all__ = ["die_with_parent"]


def die_with_parent() -> None:
    """Worker initializer: on Linux, ask the kernel to SIGKILL this process when its parent dies (prctl
    PR_SET_PDEATHSIG); elsewhere nothing. A worker killed so is harmless where its work resumes (training
    from its checkpoint) or is done again (decoding)."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass
