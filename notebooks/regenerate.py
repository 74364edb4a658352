"""Execute every notebook here in place, so that the committed files carry their outputs and figures.

    python notebooks/regenerate.py            # all notebooks (about a minute on 2 CPU cores)
    python notebooks/regenerate.py theory     # one of them

The figures render inline (matplotlib's inline backend of the kernel); a ``MPLBACKEND`` set in
the environment (the ``frl`` command line sets Agg for itself) is removed for the kernel.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent


def execute(path: Path, timeout: int = 300) -> nbformat.NotebookNode:
    """The notebook at ``path``, executed in a fresh kernel with inline figures (not written)."""
    nb = nbformat.read(path, as_version=4)
    saved = os.environ.pop("MPLBACKEND", None)
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        if saved is not None:
            os.environ["MPLBACKEND"] = saved
    return nb


def main(names) -> int:
    paths = [HERE / f"{n.removesuffix('.ipynb')}.ipynb" for n in names] or sorted(HERE.glob("*.ipynb"))
    for path in paths:
        nb = execute(path)
        nbformat.write(nb, path)
        images = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
                     for o in c.get("outputs", []))
        print(f"{path.name}: executed, {images} figure(s) embedded")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
