"""The notebooks tell the story; executing them here keeps them from rotting, and every drawing cell
must show its figure inline (the committed notebooks carry their outputs: notebooks/regenerate.py)."""

import importlib.util
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
_spec = importlib.util.spec_from_file_location("regenerate", ROOT / "notebooks" / "regenerate.py")
regenerate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(regenerate)


def _drawing_cells(nb):
    """The code cells that end by drawing a figure (``draw_...(...)``)."""
    return [c for c in nb.cells if c.cell_type == "code" and c.source.strip()
            and c.source.strip().splitlines()[-1].lstrip().startswith("draw_")]


def _has_image(cell) -> bool:
    return any("image/png" in o.get("data", {}) for o in cell.get("outputs", []))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes_and_every_drawing_cell_shows_a_figure(path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")  # as after an in-process `frl` call: the kernel must not inherit it
    nb = regenerate.execute(path, timeout=180)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    drawing = _drawing_cells(nb)
    assert drawing and all(_has_image(c) for c in drawing)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_the_committed_notebook_carries_its_figures(path):
    nb = nbformat.read(path, as_version=4)
    assert all(_has_image(c) for c in _drawing_cells(nb)), f"run `python notebooks/regenerate.py` and commit {path}"


def test_both_notebooks_exist():
    assert {p.name for p in NOTEBOOKS} >= {"theory.ipynb", "figure2.ipynb"}
