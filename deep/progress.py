"""The per-epoch progress bar (tqdm where installed and wanted, else a silent stand-in)."""

from __future__ import annotations

import sys

__all__ = ["progress_bar"]


class _NoBar:
    """Stands in for tqdm where it is missing (e.g. a bare GPU image) or the bar is off."""

    disable = True

    def set_postfix(self, **_):
        pass

    def update(self, n=1):
        pass

    def close(self):
        pass


def progress_bar(total: int, desc: str, enabled: bool | None = None):
    """A bar over ``total`` batches; ``enabled=None`` shows it only on a terminal."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, desc=desc, unit="batch", disable=not enabled, leave=False, dynamic_ncols=True)
