"""The summary: chains without stacking weight are left out and named; --weights equal keeps
them."""

import numpy as np
import pytest
import xarray as xr

from bayesstack.errors import BayesstackError
from bayesstack.report.summary import summarize


def _run(rng, weights=None):
    mu = np.array([0.0, 0.0, 0.0, 5.0])[:, None]  # chain 3 elsewhere
    post = xr.Dataset(
        {"a": (("chain", "draw"), mu + rng.normal(size=(4, 400)))},
        coords={"chain": np.arange(4), "draw": np.arange(400)},
    )
    stats = xr.Dataset(
        {"diverging": (("chain", "draw"), np.zeros((4, 400), bool))}, coords=post.coords
    )
    stats["diverging"][3, :7] = True
    tree = {"posterior": post, "sample_stats": stats}
    if weights is not None:
        tree["chain_weights"] = xr.Dataset({"stacking": ("chain", np.asarray(weights))})
    return xr.DataTree.from_dict(tree)


def test_stacking_view_leaves_out_chains_without_weight(rng):
    run = _run(rng, [1 / 3, 1 / 3, 1 / 3, 0.0])
    s = summarize(run)
    assert s.weights == "stacking" and s.excluded_chains == (3,) and s.chains == 3
    assert s.table.loc["a", "r_hat"] < 1.02 and s.n_flagged == 0
    assert s.divergences == 0 and s.divergences_all == 7
    e = summarize(run, weights="equal")
    assert e.excluded_chains == () and e.chains == 4 and e.table.loc["a", "r_hat"] > 1.5
    assert e.divergences == 7 and e.to_dict()["chain_weights"] == pytest.approx([1 / 3] * 3 + [0])


def test_without_weights_every_chain_is_used(rng):
    s = summarize(_run(rng))
    assert s.weights == "equal" and s.chains == 4 and s.chain_weights is None
    with pytest.raises(BayesstackError, match="weights: use stacking or equal"):
        summarize(_run(rng), weights="mass")
