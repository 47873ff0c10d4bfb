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


def test_var_names_and_unknown_names_in_one_line(rng):
    run = _run(rng)
    run["posterior"]["b"] = run["posterior"]["a"] * 2
    s = summarize(run, var_names="b")
    assert list(s.table.index) == ["b"]
    with pytest.raises(BayesstackError, match=r"--var-names: unknown 'W9'; the run has a, b$"):
        summarize(run, var_names="a,W9")


def test_no_diverging_stat_is_na_not_zero(rng):
    run = _run(rng)
    del run["sample_stats"]
    s = summarize(run)
    assert s.divergences is None and s.divergences_all is None
    assert s.to_dict()["divergences"] is None


def test_nan_and_inf_are_flagged(rng):
    run = _run(rng)
    post = run["posterior"].to_dataset()
    post["c"] = (("chain", "draw", "k"), rng.normal(size=(4, 400, 3)))
    post["c"][1, 5, 2] = np.inf
    post["a"][0, 0] = np.nan
    run["posterior"] = post
    s = summarize(run, weights="equal")
    assert s.n_nonfinite == 2
    assert "non-finite" in s.table.loc["a", "flag"]
    assert [("non-finite" in f) for f in s.table["flag"].iloc[1:]] == [False, False, True]


def test_raw_scale_for_glms_and_one_line_for_stacks(tmp_path):
    import bayesstack as bs

    ds = bs.load_dataset("engel")  # standardised income: raw and fitted scales differ
    glm = bs.fit(bs.load_spec("glm-gaussian"), ds, chains=1, draws=20, tune=20, seed=0)
    s = summarize(glm, scale="raw")
    raw = bs.raw_coefficients(glm)["posterior"]
    assert s.scale == "raw"
    w1 = s.table[s.table.index.str.startswith("W1")]["mean"].to_numpy()
    np.testing.assert_allclose(w1, raw["W1"].mean(("chain", "draw")).values.ravel(), rtol=1e-9)
    fitted = summarize(glm).table
    assert not np.allclose(w1, fitted[fitted.index.str.startswith("W1")]["mean"].to_numpy())
    stack = bs.Spec.from_dict(
        {"name": "s", "family": "gaussian", "layers": [{"units": 2, "activation": "tanh"}]}
    )
    run = bs.fit(stack, ds, chains=1, draws=5, tune=5, seed=0)
    with pytest.raises(BayesstackError, match=r"--scale raw: 's' is a stack .* no raw scale"):
        summarize(run, scale="raw")
