"""The fast sampling paths compute the PyMC model exactly and return the same DataTree layout.

The JAX route (default sampler "numpyro") converts the PyMC model's log density, its posterior
variables and its pointwise log-likelihood to JAX: all must equal PyMC's own to ~1e-10 at random
points. Chains are defined by seeds: chain c's draws do not depend on the number of chains or
cores. Many chains run on every core at once.
"""

import threading

import numpy as np
import pymc as pm
import pytest
import xarray as xr

import bayesstack as bs
from bayesstack.inference import backends, jaxnuts
from bayesstack.model.builder import build_model
from bayesstack.spec import Layer, Prior, Spec

pytest.importorskip("numpyro")

TUNE, DRAWS = 40, 30  # one compiled JAX program serves every fit below
GROUPS = {"posterior", "sample_stats", "log_likelihood", "observed_data", "constant_data"}


def _data(family, n=60, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    eta = np.tanh(X @ rng.normal(size=d))
    y = {
        "gaussian": eta + 0.3 * rng.normal(size=n),
        "student_t": eta + 0.3 * rng.standard_t(4, size=n),
        "bernoulli": rng.binomial(1, 1 / (1 + np.exp(-eta))),
        "binomial": rng.binomial(5, 1 / (1 + np.exp(-eta))),
        "poisson": rng.poisson(np.exp(eta)),
        "negative_binomial": rng.poisson(np.exp(eta)),
    }[family]
    return X, y


SPECS = [
    Spec("stack-tanh", "gaussian", layers=(Layer(4, "tanh"),)),
    Spec("stack2", "gaussian", layers=(Layer(3, "tanh"), Layer(2, "sigmoid"))),
    Spec(
        "relu-laplace",
        "gaussian",
        layers=(Layer(3, "relu"),),
        weights=Prior("laplace", (("b", 1.0),)),
    ),
    Spec(
        "hier-softplus",
        "poisson",
        layers=(Layer(2, "softplus"),),
        weights=Prior("hierarchical", (("scale", 1.0),)),
    ),
    Spec("glm-logit", "bernoulli"),
    Spec("glm-probit", "bernoulli", link="probit"),
    Spec("glm-binomial", "binomial", trials=5),
    Spec("glm-t", "student_t"),
    Spec("glm-nb", "negative_binomial"),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_jax_graph_equals_pymc(spec, rng):
    X, y = _data(spec.family)
    model = build_model(spec, X, y)
    logp_fn, out_fn, names, dnames, onames = jaxnuts.jaxify_model(model)
    data = jaxnuts.data_arrays(model, dnames)
    fast = {"mode": "FAST_COMPILE"}  # the reference: PyTensor's Python implementations
    logp = model.compile_logp(**fast)
    pointwise = model.compile_logp(vars=model.observed_RVs, sum=False, **fast)
    rvs = [*model.free_RVs, *model.deterministics]
    values = model.compile_fn(model.replace_rvs_by_values(rvs), point_fn=True, **fast)
    ip = model.initial_point()
    for _ in range(5):
        point = {k: rng.uniform(-2, 2, np.shape(v)) for k, v in ip.items()}
        vals = [point[n] for n in names]
        ref = logp(point)
        assert float(logp_fn(*vals, *data)[0]) == pytest.approx(ref, rel=1e-10, abs=1e-10)
        outs = dict(zip(onames, out_fn(*vals, *data), strict=True))
        for var, want in zip(rvs, values(point), strict=True):  # constrained values
            np.testing.assert_allclose(outs[var.name], want, rtol=1e-10, atol=1e-12)
        for obs, want in zip(model.observed_RVs, pointwise(point), strict=True):
            ll = outs[f"log_likelihood.{obs.name}"]
            np.testing.assert_allclose(ll, want, rtol=1e-10, atol=1e-12)


@pytest.fixture(scope="module")
def data():
    return _data("gaussian", n=80, d=2, seed=3)


@pytest.fixture(scope="module")
def spec():
    return Spec("speed", "gaussian", layers=(Layer(3, "tanh"),))


@pytest.fixture(scope="module")
def runs(spec, data):
    X, y = data
    kw = {"tune": TUNE, "draws": DRAWS, "seed": 7}
    return {s: bs.fit(spec, X, y, chains=3, sampler=s, **kw) for s in ("numpyro", "nutpie")}


def test_same_layout_as_nutpie(runs):
    a, b = runs["numpyro"], runs["nutpie"]
    assert GROUPS <= set(a.children) and GROUPS <= set(b.children)
    for group in ("posterior", "log_likelihood", "observed_data", "constant_data"):
        da, db = a[group].to_dataset(), b[group].to_dataset()
        assert set(da.data_vars) == set(db.data_vars)
        for k in da.data_vars:
            assert da[k].dims == db[k].dims and da[k].shape == db[k].shape
            for dim in da[k].dims:
                np.testing.assert_array_equal(da[dim].values, db[dim].values)
    for run in (a, b):
        assert {"diverging", "n_steps"} <= set(run.sample_stats.data_vars)
        assert run.sample_stats.attrs["warmup_n_steps"] > 0
        assert run.posterior.attrs["sampling_time"] > 0
    assert a.attrs.keys() == b.attrs.keys()
    xr.testing.assert_equal(a.observed_data.to_dataset(), b.observed_data.to_dataset())


def test_log_likelihood_and_lp_equal_pymc(runs, spec, data):
    run = runs["numpyro"]
    model = build_model(spec, *data)
    ref = xr.DataTree()
    ref["posterior"] = xr.DataTree(run.posterior.to_dataset())
    pm.compute_log_likelihood(ref, model=model, progressbar=False)
    np.testing.assert_allclose(
        run.log_likelihood["y"].values, ref.log_likelihood["y"].values, rtol=1e-10
    )
    logp = model.compile_logp()
    post = run.posterior
    for c, d in [(0, 0), (2, DRAWS - 1)]:
        point = {
            "W1": post["W1"].values[c, d],
            "b1": post["b1"].values[c, d],
            "W2": post["W2"].values[c, d],
            "b2": post["b2"].values[c, d],
            "sigma_log__": np.log(post["sigma"].values[c, d]),
        }
        assert run.sample_stats["lp"].values[c, d] == pytest.approx(logp(point), rel=1e-10)


@pytest.mark.parametrize("sampler", ["numpyro", "nutpie"])
def test_chain_draws_do_not_depend_on_chains_or_cores(runs, spec, data, sampler):
    X, y = data
    two = bs.fit(spec, X, y, chains=2, cores=1, tune=TUNE, draws=DRAWS, seed=7, sampler=sampler)
    three = runs[sampler]
    for k in two.posterior.data_vars:
        np.testing.assert_array_equal(two.posterior[k].values, three.posterior[k].values[:2])
    assert two.posterior.attrs["compile_time"] == 0.0  # the compiled model was reused


def test_chains_start_at_their_own_dispersed_points(spec, data, monkeypatch):
    """Every chain's sampler starts at its own U(-2, 2) draw on the unconstrained scale."""
    seen, real = {}, jaxnuts.run_chain

    def spy(prog, seed, start, *args, **kw):
        seen[seed] = {k: np.array(v) for k, v in start.items()}
        return real(prog, seed, start, *args, **kw)

    monkeypatch.setattr(jaxnuts, "run_chain", spy)
    bs.fit(spec, *data, chains=4, tune=TUNE, draws=DRAWS, seed=5)
    seeds = backends.chain_seeds(5, 4)
    expected = backends.chain_starts(build_model(spec, *data), [a for a, _ in seeds], "uniform")
    assert sorted(seen) == sorted(b for _, b in seeds)
    for (_, b), start in zip(seeds, expected, strict=True):
        assert seen[b].keys() == start.keys()
        for k in start:
            np.testing.assert_array_equal(seen[b][k], start[k])
    flat = np.array([np.concatenate([np.ravel(s[k]) for k in sorted(s)]) for s in expected])
    assert np.all(np.abs(flat) < backends.INIT_RADIUS)
    assert flat.std(axis=0).mean() > 0.8  # spread like U(-2, 2) (sd 1.15), not one point


# more chains than draws is this test's point; ArviZ warns that the dims may be swapped
@pytest.mark.filterwarnings("ignore:Found chain dimension to be longer:UserWarning")
def test_many_chains_use_every_core(spec, data, monkeypatch):
    """64 chains: all run, at most `cores` at a time and at some point exactly `cores`."""
    active, peak, lock = [0], [0], threading.Lock()
    real = jaxnuts.run_chain

    def counting(*args, **kw):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            return real(*args, **kw)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(jaxnuts, "run_chain", counting)
    X, y = data
    run = bs.fit(spec, X, y, chains=64, cores=2, tune=TUNE, draws=DRAWS, seed=1)
    assert run.posterior.sizes["chain"] == 64
    np.testing.assert_array_equal(run.posterior["chain"].values, np.arange(64))
    assert peak[0] == 2
    assert run.log_likelihood["y"].shape == (64, DRAWS, len(y))


def test_seeds_are_per_chain():
    s8, s3 = backends.chain_seeds(11, 8), backends.chain_seeds(11, 3)
    assert s8[:3] == s3
    assert len({a for a, _ in s8} | {b for _, b in s8}) == 16


def test_starts_match_pm_sample_initvals(spec, data):
    model = build_model(spec, *data)
    for init in ("uniform", "prior"):
        z = backends.chain_starts(model, [s for s, _ in backends.chain_seeds(3, 2)], init)
        c = backends.chain_initial_points(model, 3, 2, init)
        np.testing.assert_allclose(np.exp(z[1]["sigma_log__"]), c[1]["sigma"])
        np.testing.assert_array_equal(z[0]["W1"], c[0]["W1"])
    u = backends.chain_starts(model, [1], "uniform")[0]
    assert all(np.all(np.abs(v) <= backends.INIT_RADIUS) for v in u.values())


def test_dask_needs_a_per_chain_sampler(spec, data):
    with pytest.raises(bs.BayesstackError, match="Dask runs the samplers") as e:
        bs.fit(spec, *data, sampler="pymc", dask_scheduler="tcp://127.0.0.1:1")
    assert "\n" not in str(e.value)


def test_jax_route_is_numpyros_nuts():
    """Same key, same start: the compiled chain program draws what numpyro's ``MCMC`` draws.

    A Gaussian GLM keeps trajectories short, so XLA's different fusion of the one-loop program
    leaves only rounding; on a stack the two drift apart after a dozen warmup iterations.
    """
    import jax
    from numpyro.infer import MCMC, NUTS

    X, y = _data("gaussian", n=40, d=2, seed=5)
    model = build_model(Spec("glm", "gaussian"), X, y)
    logp_fn, _, names, dnames, _ = jaxnuts.jaxify_model(model)
    data = jaxnuts.data_arrays(model, dnames)
    prog, _ = jaxnuts.chain_program(model, ("equiv-test",), tune=25, draws=10, target_accept=0.8)
    start = backends.chain_starts(model, [7], "uniform")[0]
    draws, _, _ = jaxnuts.run_chain(prog, 11, start, data)

    mcmc = MCMC(
        NUTS(potential_fn=lambda z: -logp_fn(*z, *data)[0]),
        num_warmup=25,
        num_samples=10,
        progress_bar=False,
    )
    mcmc.run(jax.random.key(11), init_params=tuple(np.asarray(start[n]) for n in names))
    theirs = mcmc.get_samples()
    np.testing.assert_allclose(draws["W1"], np.asarray(theirs[names.index("W1")]), rtol=1e-9)
    np.testing.assert_allclose(
        draws["sigma"], np.exp(np.asarray(theirs[names.index("sigma_log__")])), rtol=1e-9
    )
    assert np.ptp(draws["W1"]) > 0  # it moved
