"""Regenerate the measured blocks of the README and docs/ from result folders, so that they show what a run printed.

    python benchmarks/update_readme.py --demo results/demo
    python benchmarks/update_readme.py --ablation digits=results/ablation/digits
    python benchmarks/update_readme.py --summary cpu-frl-start18=results/cpu/cifar10_frl_start18

A block is the text between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``: ``demo-table``
(from DIR/summary.md and DIR/demo.json of ``frl demo``), ``ablation-NAME`` (from
DIR/frl_loss.md of ``frl ablation frl-loss``) and NAME of ``--summary`` (DIR/summary.md of a pipeline
over seeds, ``frl run --seeds``, its headings one level down). Each block is replaced in whichever of
README.md and docs/*.md holds its markers (``--readme FILE``: in that file only).
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
from pathlib import Path

from deep.atomic_files import write_text


def replace_block(text: str, name: str, body: str) -> str:
    """``text`` with the block ``name`` replaced by ``body``; ValueError if the markers are missing."""
    pattern = re.compile(rf"(<!-- {re.escape(name)}:start -->\n).*?(<!-- {re.escape(name)}:end -->)", re.S)
    if not pattern.search(text):
        raise ValueError(f"no block {name!r} (<!-- {name}:start --> ... <!-- {name}:end -->)")
    return pattern.sub(lambda m: m.group(1) + body.rstrip("\n") + "\n" + m.group(2), text, count=1)


def demo_block(folder: Path) -> str:
    info = json.loads((folder / "demo.json").read_text())
    table = (folder / "summary.md").read_text()
    return (f"Printed by `frl demo` (seed {info['seed']}, {info['pretrain_epochs']} + {info['frl_epochs']} epochs, "
            f"torch {info['torch']}, {info['threads']} threads, {platform.machine()}, {info['seconds']:.0f} s), "
            f"test split, PGD-20, in %:\n\n{table}")


def pages(readme) -> list[Path]:
    """The files whose blocks may be replaced: ``readme`` alone, or README.md and docs/*.md."""
    if readme is not None:
        return [Path(readme)]
    root = Path(__file__).resolve().parents[1]
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def replace_anywhere(texts: dict, name: str, body: str) -> None:
    """Replace block ``name`` in the one text of ``texts`` ({path: text}) that holds it; ValueError if none."""
    for path, text in texts.items():
        if f"<!-- {name}:start -->" in text:
            texts[path] = replace_block(text, name, body)
            return
    raise ValueError(f"no block {name!r} (<!-- {name}:start --> ... <!-- {name}:end -->) in "
                     f"{', '.join(str(p) for p in texts)}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--readme", default=None, help="the one file to update (default: README.md and docs/*.md)")
    p.add_argument("--demo", default=None, help="folder of `frl demo`")
    p.add_argument("--ablation", action="append", default=[], metavar="NAME=DIR",
                   help="folder of `frl ablation frl-loss` for the block ablation-NAME")
    p.add_argument("--summary", action="append", default=[], metavar="NAME=DIR",
                   help="folder of a pipeline over seeds (its summary.md) for the block NAME")
    args = p.parse_args(argv)
    texts = {path: path.read_text() for path in pages(args.readme) if path.exists()}
    before = dict(texts)
    try:
        if args.demo:
            replace_anywhere(texts, "demo-table", demo_block(Path(args.demo)))
        for item in args.ablation:
            name, _, folder = item.partition("=")
            replace_anywhere(texts, f"ablation-{name}", (Path(folder) / "frl_loss.md").read_text())
        for item in args.summary:
            name, _, folder = item.partition("=")
            md = (Path(folder) / "summary.md").read_text()
            replace_anywhere(texts, name, re.sub(r"^(#+) ", r"#\1 ", md, flags=re.M))
    except (ValueError, OSError) as exc:
        print(f"update_readme: error: {exc}", file=sys.stderr)
        return 2
    for path, text in texts.items():
        if text != before[path]:
            write_text(path, text)
            print(f"{path} updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
