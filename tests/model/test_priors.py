"""Known answers for the priors the builder makes from registry rows.

The hierarchical weight prior (W ~ N(0, tau), tau ~ HalfNormal(scale)) and the halfstudent_t
and exponential noise priors: their log densities against scipy at random points, and the
builder's prior draws against the closed-form distributions (Kolmogorov-Smirnov, seeded).
"""

import numpy as np
import pymc as pm
import pytest
from scipy import stats

from bayesstack.model.builder import build_model
from bayesstack.spec import Spec

DATA = np.random.default_rng(3)
X, Y = DATA.normal(size=(12, 2)), DATA.normal(size=12)


def spec(noise: dict, weights: dict | None = None) -> Spec:
    priors = {"noise": noise, "weights": weights or {"dist": "normal", "sigma": 1.0}}
    return Spec.from_dict({"name": "p", "family": "gaussian", "priors": priors})


def halft_logpdf(x, nu, sigma):
    """|T| with T ~ t(nu, 0, sigma): density 2 t.pdf on x >= 0."""
    return np.log(2.0) + stats.t(nu, 0.0, sigma).logpdf(x)


def halft_cdf(x, nu, sigma):
    return 2.0 * stats.t(nu, 0.0, sigma).cdf(x) - 1.0


@pytest.mark.parametrize(
    ("noise", "ref"),
    [
        ({"dist": "halfstudent_t", "nu": 4.0, "sigma": 0.7}, lambda s: halft_logpdf(s, 4.0, 0.7)),
        ({"dist": "exponential", "lam": 2.5}, lambda s: stats.expon(scale=1 / 2.5).logpdf(s)),
    ],
    ids=["halfstudent_t", "exponential"],
)
def test_noise_prior_log_density_is_scipys(noise, ref):
    model = build_model(spec(noise), X, Y)
    logp = model.compile_logp(vars=[model["sigma"]], jacobian=False)
    for s in (0.05, 0.4, 1.3, 6.0):
        point = {**model.initial_point(), "sigma_log__": np.log(s)}
        # PyMC's compiled graph agrees with scipy to ~4e-8 here; a wrong parameter is O(1) off
        assert logp(point) == pytest.approx(ref(s), rel=1e-6)


@pytest.mark.parametrize(
    ("noise", "cdf"),
    [
        ({"dist": "halfstudent_t", "nu": 3.0, "sigma": 1.5}, lambda x: halft_cdf(x, 3.0, 1.5)),
        ({"dist": "exponential", "lam": 0.4}, stats.expon(scale=1 / 0.4).cdf),
    ],
    ids=["halfstudent_t", "exponential"],
)
def test_noise_prior_draws_follow_the_closed_form(noise, cdf):
    model = build_model(spec(noise), X, Y)
    draws = pm.draw(model["sigma"], draws=4000, random_seed=11)
    assert stats.kstest(draws, cdf).pvalue > 0.01
    # a mis-parametrised prior (lam read as a scale, sigma as a variance) fails the same test
    wrong = pm.draw(model["sigma"], draws=4000, random_seed=11) * 2.0
    assert stats.kstest(wrong, cdf).pvalue < 1e-6


def test_hierarchical_prior_log_density_is_scipys(rng):
    s = spec({"dist": "halfnormal", "sigma": 1.0}, {"dist": "hierarchical", "scale": 0.8})
    model = build_model(s, X, Y)
    names = ["W1", "tau_W1"]
    logp = model.compile_logp(vars=[model[n] for n in names], jacobian=False)
    for _ in range(3):
        w, tau = rng.normal(size=2), float(np.exp(rng.normal()))
        point = {**model.initial_point(), "W1": w, "tau_W1_log__": np.log(tau)}
        ref = stats.halfnorm(0, 0.8).logpdf(tau) + stats.norm(0, tau).logpdf(w).sum()
        assert logp(point) == pytest.approx(ref, rel=1e-10)


def test_hierarchical_prior_marginal_is_the_scale_mixture():
    """W | tau ~ N(0, tau), tau ~ HalfNormal(s): Var W = s^2, kurtosis 9 (excess 6)."""
    scale = 0.8
    s = spec({"dist": "halfnormal", "sigma": 1.0}, {"dist": "hierarchical", "scale": scale})
    model = build_model(s, X, Y)
    w = pm.draw(model["W1"], draws=20000, random_seed=5)[:, 0]
    rng = np.random.default_rng(6)
    ref = rng.normal(0.0, np.abs(rng.normal(0.0, scale, 20000)))
    assert stats.ks_2samp(w, ref).pvalue > 0.01
    assert np.var(w) == pytest.approx(scale**2, rel=0.05)
    # a Normal(0, scale) prior has the same variance but kurtosis 3: the test tells them apart
    assert stats.kurtosis(w, fisher=False) == pytest.approx(9.0, rel=0.25)
    assert stats.ks_2samp(rng.normal(0.0, scale, 20000), ref).pvalue < 1e-6
