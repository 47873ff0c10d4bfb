"""The report's posterior predictive checks: the run's stored draws, a plot that fits the
outcome's support, a caption that says what is drawn, and no warning on the terminal."""

import subprocess
import sys
import warnings

import matplotlib.collections
import numpy as np
import pytest
import xarray as xr

import bayesstack as bs
from bayesstack.report import compare_runs
from bayesstack.report.plots import _ppc_pava, _ppc_rootogram, ppc_figure, predictive_draws

TINY = {"chains": 2, "draws": 60, "tune": 60, "seed": 5}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Tiny GLM fits of a binary and a count outcome, saved."""
    d = tmp_path_factory.mktemp("ppc")
    out = {}
    for name, spec, data in (
        ("bernoulli", "glm-logistic", "teacher-bernoulli"),
        ("negbin", None, "teacher-negative_binomial"),
    ):
        if spec is None:
            spec = bs.Spec.from_dict({"name": "glm-negbin", "family": "negative_binomial"})
        else:
            spec = bs.load_spec(spec)
        run = bs.fit(spec, bs.load_dataset(data), **TINY)
        out[name] = bs.save(run, d / f"{name}.nc")
    return out


def _without_ppc(run):
    old = run.copy()
    del old["posterior_predictive"]
    return old


def test_the_stored_draws_are_used_and_old_runs_get_the_same(runs):
    run = bs.load(runs["bernoulli"])
    stored, was_stored = predictive_draws(run)
    assert was_stored
    np.testing.assert_array_equal(stored["y"].values, run["posterior_predictive"]["y"].values)
    # a run without the group gets its draws as fit draws them: the same, for fit's seed
    again, was_stored = predictive_draws(_without_ppc(run), seed=TINY["seed"])
    assert not was_stored
    np.testing.assert_array_equal(again["y"].values, stored["y"].values)


def test_each_support_gets_its_plot_and_a_caption_that_says_where_the_draws_came_from(runs):
    bern = bs.load(runs["bernoulli"])
    fig = ppc_figure(bern, "b")
    assert fig.caption.startswith("PAV-adjusted calibration plot")
    assert "stored posterior predictive draws" in fig.caption and "120 of them" in fig.caption
    old = ppc_figure(_without_ppc(bern), "b", seed=3)
    assert "stores no posterior predictive draws" in old.caption and "(seed 3)" in old.caption
    assert ppc_figure(bs.load(runs["negbin"]), "n").caption.startswith("Rootogram")


def _tree(run):
    pp, _ = predictive_draws(run)
    obs = run["observed_data"].to_dataset()[["y"]]
    return xr.DataTree.from_dict(
        {"posterior_predictive": pp.astype(np.int64), "observed_data": obs.astype(np.int64)}
    )


def test_the_calibration_plot_draws_what_its_caption_says(runs):
    pc, caption = _ppc_pava(_tree(bs.load(runs["bernoulli"])), 120)
    ax = pc.viz["figure"].item().axes[0]
    # a band, a step line (the CEP) and a dashed diagonal; no density curves
    assert any(isinstance(c, matplotlib.collections.PolyCollection) for c in ax.collections)
    styles = [line.get_linestyle() for line in ax.get_lines()]
    assert "--" in styles and "-" in styles
    assert "shaded band" in caption and "dashed diagonal" in caption and "90%" in caption
    assert ax.get_xlabel() == "predicted P(y = 1)"
    assert "density" not in caption.lower()


def test_the_rootogram_draws_what_its_caption_says(runs):
    run = bs.load(runs["negbin"])
    pc, caption = _ppc_rootogram(_tree(run), 120)
    ax = pc.viz["figure"].item().axes[0]
    assert ax.get_yscale() != "linear"  # the square-root scale
    assert len(ax.collections) >= 2  # observed dots, predicted diamonds (and their bars)
    assert "square-root scale" in caption and "90%" in caption


def test_a_report_on_binary_data_emits_no_warning(runs, tmp_path, capfd):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rep = compare_runs([runs["bernoulli"]], tmp_path / "r.html", progress=False)
    assert [str(w.message)[:120] for w in caught] == []
    err = capfd.readouterr().err
    assert "Warning" not in err and "warn(" not in err
    assert "PAV-adjusted calibration plot" in rep.markdown.read_text()


def test_compare_on_counts_prints_nothing_but_its_result(runs, tmp_path):
    """``bayesstack compare`` in a fresh process: stderr holds one line, no warning."""
    out = subprocess.run(
        [sys.executable, "-m", "bayesstack.cli", "compare", str(runs["negbin"]), "--out", "r.html"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stderr.strip().splitlines() == ["wrote r.html and r.md"], out.stderr[-3000:]
    assert "Rootogram" in (tmp_path / "r.md").read_text()


def test_the_demo_emits_no_warning(quick_demo_run):
    _, caught = quick_demo_run
    assert [f"{w.category.__name__}: {str(w.message)[:120]}" for w in caught] == []
