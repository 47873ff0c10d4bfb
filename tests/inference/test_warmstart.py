"""init="map": every chain from its own optimum, light optima restarted, optima recorded."""

import numpy as np
import pytest
import xarray as xr

import bayesstack as bs
from bayesstack.data.builtin import load_dataset
from bayesstack.inference import backends, warmstart
from bayesstack.model.builder import build_model


@pytest.fixture(scope="module")
def setup():
    spec = bs.load_spec("models/stack1-tanh.toml")
    ds = load_dataset("teacher-gaussian")
    run = bs.fit(spec, ds, chains=4, draws=20, tune=100, seed=1, init="map")
    return spec, ds, run


def _unconstrained_first_draws(run, model):
    post = run.posterior.isel(draw=0)
    out = []
    for c in range(post.sizes["chain"]):
        z = {}
        for rv in model.free_RVs:
            v = post[rv.name].values[c]
            tr = model.rvs_to_transforms.get(rv)
            name = model.rvs_to_values[rv].name
            z[name] = v if tr is None else tr.forward(v, *rv.owner.inputs).eval()
        out.append(z)
    return out


def test_optima_are_recorded(setup):
    _, _, run = setup
    ws = run[warmstart.GROUP]
    assert {"lp", "restarts", "light", "n_iter", "grad_norm", "W1", "sigma_log__"} <= set(
        ws.data_vars
    )
    assert ws["W1"].dims == ("chain", "feature", "hidden1")
    assert (ws["grad_norm"].values < 1e-4).all()
    assert (ws["light"].values == 0).all()
    assert ws["lp"].values.min() >= ws["lp"].values.max() - warmstart.LIGHT_NATS
    assert ws.attrs["light_nats"] == warmstart.LIGHT_NATS


def test_first_draw_lies_in_the_basin_of_its_optimum(setup):
    """L-BFGS from each chain's first draw returns to that chain's recorded optimum."""
    spec, ds, run = setup
    model = build_model(spec, ds.X, ds.y)
    found = warmstart.optimize(
        model, backends.data_key(model, spec), _unconstrained_first_draws(run, model)
    )
    ws = run[warmstart.GROUP]
    for c, (pos, lp, _, _) in enumerate(found):
        assert lp == pytest.approx(float(ws["lp"][c]), abs=1e-6)
        for k, v in pos.items():
            np.testing.assert_allclose(v, ws[k].values[c], atol=1e-3, err_msg=f"{c} {k}")


def test_chains_start_from_distinct_optima(setup):
    """Dispersed starts reach different symmetric images of one optimum."""
    _, _, run = setup
    W1 = run[warmstart.GROUP]["W1"].values.reshape(4, -1)
    d = np.abs(W1[:, None] - W1[None]).max(-1)
    assert (d[~np.eye(4, dtype=bool)] > 0.1).all()
    lp = run[warmstart.GROUP]["lp"].values
    assert np.ptp(lp) < 1e-6  # images: the same log density


def test_same_seed_same_draws_and_saved(setup, tmp_path):
    spec, ds, run = setup
    again = bs.fit(spec, ds, chains=4, draws=20, tune=100, seed=1, init="map")
    xr.testing.assert_equal(again.posterior.to_dataset(), run.posterior.to_dataset())
    ws = run[warmstart.GROUP].to_dataset()
    xr.testing.assert_equal(again[warmstart.GROUP].to_dataset(), ws)
    back = bs.load(bs.save(run, tmp_path / "run.nc"))
    xr.testing.assert_identical(back[warmstart.GROUP].to_dataset(), ws)


def test_light_optima_restart_within_the_budget(monkeypatch):
    """A chain far below the best restarts from new dispersed points, at most MAX_RESTARTS."""
    spec = bs.load_spec("models/glm-gaussian.toml")
    ds = load_dataset("teacher-gaussian")
    model = build_model(spec, ds.X, ds.y)
    # scripted optima: chain 1 is light twice, then fine; chain 2 is light on every try
    script = {0: [0.0], 1: [-500.0, -300.0, -1.0], 2: [-600.0] * 10}
    calls = {c: 0 for c in script}
    starts_seen = []

    def fake_optimize(model, key, starts, cores=1):
        out = []
        for z in starts:
            starts_seen.append(z)
            c = round(z["marker"])
            lp = script[c][min(calls[c], len(script[c]) - 1)]
            calls[c] += 1
            out.append(({"W1": np.zeros(2)}, lp, 3, 0.0))
        return out

    def fake_starts(seeds):
        return [{"marker": float(s if np.isscalar(s) else s[0])} for s in seeds]

    monkeypatch.setattr(warmstart, "optimize", fake_optimize)
    optima, _ = warmstart.warm_starts(model, ("k",), [0, 1, 2], fake_starts)
    assert [o.restarts for o in optima] == [0, 2, warmstart.MAX_RESTARTS]
    assert [o.light for o in optima] == [False, False, True]
    assert [o.lp for o in optima] == [0.0, -1.0, -600.0]
    assert calls == {0: 1, 1: 3, 2: 1 + warmstart.MAX_RESTARTS}


def test_map_is_an_init():
    assert bs.FitSettings(init="map").init == "map"
    with pytest.raises(bs.BayesstackError, match=r"unknown init .mode.; use one of .*map"):
        bs.FitSettings(init="mode")
