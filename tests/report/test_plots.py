"""The report's figures on runs at the edges: one input feature, and a sign-flipped chain."""

import numpy as np
import pytest

import bayesstack.report.plots as plots
from bayesstack.geometry.canonical import add_canonical
from bayesstack.model.network import param_shapes
from bayesstack.spec import Spec
from bayesstack.testing import run_from_draws


@pytest.mark.parametrize("bias", [True, False])
def test_unit_pair_figure_with_one_input(bias, monkeypatch):
    """One feature (engel): the unit's weight against its bias (or the draw), both chains shown,
    the flipped chain's cloud mirrored through the origin."""
    layer = {"units": 3, "activation": "tanh", "bias": bias}
    spec = Spec.from_dict({"name": "one-input", "family": "gaussian", "layers": [layer]})
    rng = np.random.default_rng(2)
    X = rng.normal(size=(30, 1))
    centre = {k: rng.normal(size=s) + 1.5 for k, s in param_shapes(spec, 1).items()}
    draws = {k: v + 0.05 * rng.normal(size=(2, 40, *v.shape)) for k, v in centre.items()}
    for k in ("W1", "b1"):  # chain 1: every unit sign-flipped (W2 too, so η is unchanged)
        if k in draws:
            draws[k][1] *= -1
    draws["W2"][1] *= -1
    draws["sigma"] = np.full((2, 40), 0.5)
    run = add_canonical(run_from_draws(spec, X, X[:, 0], draws), method="sort")
    drawn = []
    monkeypatch.setattr(plots, "to_png", lambda fig: drawn.append(fig) or b"")
    plots.unit_pair_figure(run, "one-input")
    fig = drawn[0]
    raw = fig.axes[0].collections
    assert fig.axes[0].get_ylabel() == ("b1[·]" if bias else "draw")
    x0, x1 = (np.asarray(c.get_offsets())[:, 0] for c in raw)
    assert np.sign(x0.mean()) == -np.sign(x1.mean())  # the flipped chain mirrors the first
    if bias:
        y0, y1 = (np.asarray(c.get_offsets())[:, 1] for c in raw)
        assert np.sign(y0.mean()) == -np.sign(y1.mean())
