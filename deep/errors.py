"""The mistakes a user can fix, as exception types of the library.

The command line (``frl``) prints any :class:`UsageError` as one line and exits with status 2;
every other exception is a bug or an accident and keeps its traceback. ``ConfigError`` and
``RunDirError`` are also ``ValueError``\\ s, so Python callers that catch ``ValueError`` keep working.
"""

from __future__ import annotations

__all__ = ["UsageError", "ConfigError", "DatasetError", "RunDirError"]


class UsageError(Exception):
    """A mistake the user can fix: the message names the setting, file or value and what is wrong."""


class ConfigError(UsageError, ValueError):
    """A setting outside its domain, an unknown setting, or settings that contradict each other."""


class DatasetError(UsageError):
    """A dataset that is missing, unreadable or not in the expected layout."""


class RunDirError(UsageError, ValueError):
    """A run directory that is missing, holds another run, lacks a file, or cannot be written."""


class NoAveragedModel(RunDirError):
    """The run keeps no weight average (its method averages none, or the averaging never started)."""
