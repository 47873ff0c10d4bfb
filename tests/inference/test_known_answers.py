"""Depth-0 GLMs against closed forms and independent maximum-likelihood fits."""

import arviz as az
import numpy as np
import pytest
import statsmodels.api as sm

import bayesstack as bs
from bayesstack.data.builtin import load_dataset
from bayesstack.spec import Spec


def _draws(run, names):
    post = run.posterior
    cols = [
        post[n]
        .values.reshape(-1, *post[n].shape[2:])
        .reshape(post.sizes["chain"] * post.sizes["draw"], -1)
        for n in names
    ]
    return np.concatenate(cols, axis=1)


def test_gaussian_glm_matches_conjugate_posterior():
    """Known noise, Normal prior: posterior N(m, S) with S = (X'X/s^2 + P)^-1, m = S X'y / s^2."""
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
    run = bs.fit(spec, X, y, chains=4, draws=1500, tune=500, seed=3)
    Xa = np.column_stack([X, np.ones(n)])
    prec = Xa.T @ Xa / noise**2 + np.diag([1 / tau_w**2] * d + [1 / tau_b**2])
    S = np.linalg.inv(prec)
    m = S @ Xa.T @ y / noise**2
    draws = _draws(run, ["W1", "b1"])
    mcse = np.array(
        [
            float(
                az.mcse(run.posterior[v].values[..., i] if v == "W1" else run.posterior[v].values)
            )
            for v, i in [("W1", 0), ("W1", 1), ("W1", 2), ("b1", None)]
        ]
    )
    np.testing.assert_array_less(np.abs(draws.mean(0) - m), 4 * mcse)
    # sample covariance: relative error of a variance ~ sqrt(2/ESS); ESS here > 2000
    C = np.cov(draws.T)
    np.testing.assert_allclose(np.diag(C), np.diag(S), rtol=0.15)
    corr = C / np.sqrt(np.outer(np.diag(C), np.diag(C)))
    corr_true = S / np.sqrt(np.outer(np.diag(S), np.diag(S)))
    np.testing.assert_allclose(corr, corr_true, atol=0.08)


def _compare_to_mle(run, mle, se_mle):
    post = run.posterior
    names = [("W1", i) for i in range(post.sizes["feature"])] + [("b1", None)]
    for (v, i), theta_hat, se in zip(names, mle, se_mle, strict=True):
        x = post[v].values[..., i] if i is not None else post[v].values
        mean, sd, mcse = x.mean(), x.std(), float(az.mcse(x))
        # Under a flat prior the posterior mean differs from the MLE by O(sd / sqrt(N)) through
        # the likelihood's skewness (0.18 sd for anes96's selfLR), plus Monte Carlo error. A wrong
        # link or likelihood moves the mean by many sd.
        assert abs(mean - theta_hat) < 4 * mcse + 0.25 * sd, (v, i, mean, theta_hat, mcse, sd)
        assert abs(sd - se) < 0.15 * se, (v, i, sd, se)


@pytest.mark.parametrize(
    "dataset,family,sm_family",
    [
        ("anes96", "bernoulli", sm.families.Binomial()),
        ("randhie", "poisson", sm.families.Poisson()),
    ],
)
def test_wide_prior_glm_matches_statsmodels_mle(dataset, family, sm_family):
    ds = load_dataset(dataset)
    spec = Spec.from_dict(
        {
            "name": f"glm-{family}",
            "family": family,
            "priors": {
                "weights": {"dist": "normal", "sigma": 100.0},
                "bias": {"dist": "normal", "sigma": 100.0},
            },
        }
    )
    run = bs.fit(spec, ds, chains=4, draws=1000, tune=1000, seed=5)
    res = sm.GLM(ds.y, np.column_stack([ds.X, np.ones(ds.n)]), family=sm_family).fit()
    _compare_to_mle(run, res.params, res.bse)
