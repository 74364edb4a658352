"""Argument types shared by the subcommands: numbers written as users write them.

The parsing itself is :func:`deep.config.parse_number` / :func:`deep.config.parse_whole`, the one
place that reads '8/255' or 'sqrt(2)' for flags and TOML files alike; here they are argparse types.
"""

from __future__ import annotations

from deep.config import argparse_type, parse_number, parse_path, parse_whole

number = argparse_type(parse_number)  # '0.5', '8/255', '2e-3' or 'sqrt(2)' -> float
whole = argparse_type(parse_whole)  # '3' -> 3; '1.5' is an error
path = argparse_type(parse_path)  # a file or folder name: not empty, no NUL
