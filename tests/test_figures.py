"""The figures layer and ``frl figures``: drawing from results only, caching, the id list, bad input."""

import json
import time

import numpy as np
import pytest
from matplotlib.image import imread

from figures.registry import FIGURES
from frl.cli import main


def _png_has_content(path):
    img = imread(path)
    assert img.shape[0] > 200 and img.shape[1] > 600
    assert np.std(img[..., :3]) > 0.05  # not a blank canvas


def test_list_names_every_figure(capsys):
    assert main(["figures", "--list"]) == 0
    out = capsys.readouterr().out
    for fid in ("fig2", "theory_errors_vs_eps", "theory_claims_map"):
        assert fid in out
    assert set(FIGURES) == {line.split()[0] for line in out.strip().splitlines()}


def test_fig2_cli_reuses_cached_results_and_writes_the_contract_files(fig2_results, tmp_path, capsys):
    (tmp_path / "fig2.json").write_text(json.dumps(fig2_results))
    t0 = time.perf_counter()
    assert main(["figures", "fig2", "--out", str(tmp_path)]) == 0
    assert time.perf_counter() - t0 < 10  # no simulation: the cache was used
    for ext in ("png", "pdf", "json"):
        assert (tmp_path / f"fig2.{ext}").stat().st_size > 1000
    _png_has_content(tmp_path / "fig2.png")
    res = json.loads((tmp_path / "fig2.json").read_text())
    assert res["models"]["lr_natural"]["w"] == fig2_results["models"]["lr_natural"]["w"]


def test_all_draws_what_has_results_and_names_what_is_missing(tmp_path, capsys):
    assert main(["figures", "all", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "fig2: skipped, no results" in out and "frl figures fig2 --out" in out
    for fid in ("theory_errors_vs_eps", "theory_claims_map"):
        _png_has_content(tmp_path / f"{fid}.png")
        assert (tmp_path / f"{fid}.pdf").exists()
    res = json.loads((tmp_path / "theory_errors_vs_eps.json").read_text())
    std = np.asarray(res["f_rob"]["std_error"])
    assert np.all(np.diff(std[:, 1]) > 0) and np.all(np.diff(std[:, 0]) < 0)  # Corollary 1 along eps
    claims = json.loads((tmp_path / "theory_claims_map.json").read_text())
    holds = np.asarray(claims["b_rob_positive"]["holds"])
    assert 0 < holds.mean() < 1  # both regimes appear on the map


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["figures", "fig9"], "unknown figure id 'fig9'"),
        (["figures"], "name a figure id"),
        (["figures", "fig2", "--seed", "x"], "not a whole number"),
        (["figures", "theory_claims_map", "--out", "/proc/forbidden/x"], "cannot create --out"),
    ],
)
def test_bad_input_one_line_exit_2(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1


def test_figure_functions_only_draw(fig2_results, monkeypatch):
    """Drawing must not train: with the simulation made unusable, fig2 still draws from results."""
    import gaussian_theory.simulation as sim
    from figures.fig2 import draw_fig2

    monkeypatch.setattr(sim, "run_fig2", lambda *a, **k: pytest.fail("a figure function simulated"))
    monkeypatch.setattr(sim, "train_mlp", lambda *a, **k: pytest.fail("a figure function trained"))
    fig = draw_fig2(fig2_results)
    assert len(fig.axes) >= 3


def test_saved_pngs_have_the_styles_dpi_and_a_tight_box(tmp_path):
    """Outside any style context (as the CLI calls it), save() writes PNG at 200 dpi and vector PDF."""
    import matplotlib.pyplot as plt
    from PIL import Image

    from figures import style

    fig, ax = plt.subplots(figsize=(style.SINGLE, 2.0))
    ax.plot([0, 1], [0, 1])
    png, pdf = style.save(fig, tmp_path, "x")
    with Image.open(png) as im:
        dpi = im.info["dpi"]
        width, height = im.size
    assert round(dpi[0]) == style.DPI >= 200
    assert width < style.SINGLE * style.DPI  # cropped to the drawing (tight box), not the full canvas
    assert width > 0.8 * style.SINGLE * style.DPI and height > 0.8 * 2.0 * style.DPI
    assert pdf.read_bytes()[:5] == b"%PDF-" and b"/Subtype /Image" not in pdf.read_bytes()  # lines stay vectors
