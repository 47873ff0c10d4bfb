"""The microcanonical samplers against known posteriors and the NUTS route."""

import arviz as az
import numpy as np
import pytest
import xarray as xr

import bayesstack as bs
from bayesstack.data.builtin import load_dataset
from bayesstack.spec import Spec

SAMPLERS = ["adjusted_mclmc", "mclmc"]


def _conjugate():
    rng = np.random.default_rng(7)
    n, d, noise, tau_w, tau_b = 60, 3, 0.5, 1.0, 2.0
    X = rng.normal(size=(n, d))
    y = X @ np.array([0.8, -0.5, 0.3]) + 0.4 + noise * rng.normal(size=n)
    spec = Spec.from_dict(
        {
            "name": "conj",
            "family": "gaussian",
            "priors": {
                "weights": {"dist": "normal", "sigma": tau_w},
                "bias": {"dist": "normal", "sigma": tau_b},
                "noise": {"dist": "fixed", "value": noise},
            },
        }
    )
    Xa = np.column_stack([X, np.ones(n)])
    prec = Xa.T @ Xa / noise**2 + np.diag([1 / tau_w**2] * d + [1 / tau_b**2])
    S = np.linalg.inv(prec)
    return spec, X, y, S @ Xa.T @ y / noise**2, S


def _columns(run):
    post = run.posterior
    W, b = post["W1"].values, post["b1"].values
    return [W[..., i] for i in range(W.shape[-1])] + [b]


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_gaussian_glm_matches_conjugate_posterior(sampler):
    """Means within 4 MCSE, variances within 15 % (this also bounds mclmc's bias)."""
    spec, X, y, m, S = _conjugate()
    run = bs.fit(spec, X, y, chains=4, draws=2000, tune=1000, seed=3, sampler=sampler)
    cols = _columns(run)
    mean = np.array([c.mean() for c in cols])
    mcse = np.array([float(az.mcse(c)) for c in cols])
    np.testing.assert_array_less(np.abs(mean - m), 4 * mcse)
    var = np.array([c.var() for c in cols])
    np.testing.assert_allclose(var, np.diag(S), rtol=0.15)
    assert int(run.sample_stats["diverging"].sum()) == 0


@pytest.fixture(scope="module")
def logistic_nuts():
    spec = bs.load_spec("models/glm-logistic.toml")
    ds = load_dataset("teacher-bernoulli")
    return spec, ds, bs.fit(spec, ds, chains=4, draws=1000, tune=1000, seed=2)


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_logistic_glm_matches_nuts(sampler, logistic_nuts):
    spec, ds, nuts = logistic_nuts
    run = bs.fit(spec, ds, chains=4, draws=1000, tune=1000, seed=4, sampler=sampler)
    for a, b in zip(_columns(run), _columns(nuts), strict=True):
        se = np.hypot(float(az.mcse(a)), float(az.mcse(b)))
        assert abs(a.mean() - b.mean()) < 4 * se, (sampler, a.mean(), b.mean(), se)


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_same_seed_same_draws(sampler):
    spec = bs.load_spec("models/stack1-tanh.toml")
    ds = load_dataset("teacher-gaussian")

    def fit(seed):
        return bs.fit(spec, ds, chains=2, draws=50, tune=100, seed=seed, sampler=sampler)

    a, b, c = fit(5), fit(5), fit(6)
    xr.testing.assert_equal(a.posterior.to_dataset(), b.posterior.to_dataset())
    xr.testing.assert_equal(a.sample_stats.to_dataset(), b.sample_stats.to_dataset())
    assert not np.array_equal(a.posterior["W1"].values, c.posterior["W1"].values)
    stats = set(a.sample_stats.data_vars)
    assert {"lp", "diverging", "step_size", "L", "n_steps"} <= stats
    assert a.sample_stats.attrs["warmup_n_steps"] > 0


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_failed_tuning_flags_every_draw(sampler, monkeypatch):
    """A tuner that returns a NaN step size leaves the chain where it is: every draw divergent."""
    import blackjax
    import jax.numpy as jnp

    name = ("adjusted_" if sampler == "adjusted_mclmc" else "") + "mclmc_find_L_and_step_size"
    tuner = getattr(blackjax, name)

    def broken(*args, **kwargs):
        state, params, n = tuner(*args, **kwargs)
        return state, params._replace(step_size=jnp.nan), n

    monkeypatch.setattr(blackjax, name, broken)
    spec, X, y, _, _ = _conjugate()
    # draws and tune that no other test compiles, so the patched tuner is traced
    run = bs.fit(spec, X, y, chains=2, draws=17, tune=23, seed=3, sampler=sampler)
    assert run.sample_stats["diverging"].values.all()
    assert np.isnan(run.sample_stats["step_size"].values).all()


def test_adjusted_trajectory_length_is_recorded():
    """L = AVG_INTEGRATION_STEPS step sizes, and a draw costs about that many steps' gradients."""
    from bayesstack.inference.mclmc import AVG_INTEGRATION_STEPS, GRADS_PER_STEP

    spec, X, y, _, _ = _conjugate()
    run = bs.fit(spec, X, y, chains=2, draws=400, tune=400, seed=3, sampler="adjusted_mclmc")
    st = run.sample_stats
    np.testing.assert_allclose(st["L"] / st["step_size"], AVG_INTEGRATION_STEPS, rtol=1e-9)
    steps = float(st["n_steps"].mean()) / GRADS_PER_STEP
    assert abs(steps - AVG_INTEGRATION_STEPS) < 0.25 * AVG_INTEGRATION_STEPS
