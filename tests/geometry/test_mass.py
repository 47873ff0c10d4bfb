"""Mass per mode on targets with known masses: Laplace, bridge sampling, shares, stacking.

The target is a two-component Gaussian mixture in 3 dimensions with unnormalised total mass
e^5, its components 12 sds apart (cross terms below e^-70): the mass of component k is
exactly ``5 + log w_k``. The core functions take arrays and a log-density callable (no PyMC).
"""

import math

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from bayesstack.geometry.mass import (
    bridge_log_mass,
    class_stacking_weights,
    laplace_log_mass,
    log_mean_exp,
    mass_shares,
)

LOG_Z = 5.0
MU = (np.array([-6.0, 0.0, 0.0]), np.array([6.0, 0.0, 0.0]))
COV = (np.diag([1.0, 0.5, 2.0]), np.array([[0.5, 0.2, 0.0], [0.2, 1.0, 0.1], [0.0, 0.1, 0.3]]))


def mixture(weights):
    """log p̃ and its Hessian for ``e^LOG_Z * sum_k w_k N(mu_k, cov_k)``."""
    comps = [multivariate_normal(m, c) for m, c in zip(MU, COV, strict=True)]
    prec = [np.linalg.inv(c) for c in COV]
    logw = np.log(weights)

    def logp(x):
        x = np.atleast_2d(x)
        terms = np.stack([lw + c.logpdf(x).reshape(-1) for lw, c in zip(logw, comps, strict=True)])
        return LOG_Z + np.logaddexp.reduce(terms, axis=0)

    def hessian(x):
        terms = np.array([lw + c.logpdf(x) for lw, c in zip(logw, comps, strict=True)])
        r = np.exp(terms - np.logaddexp.reduce(terms))
        g = [-p @ (x - m) for p, m in zip(prec, MU, strict=True)]
        gbar = sum(rk * gk for rk, gk in zip(r, g, strict=True))
        H = sum(rk * (-p + np.outer(gk, gk)) for rk, p, gk in zip(r, prec, g, strict=True))
        return H - np.outer(gbar, gbar)

    return logp, hessian


def chains_of(rng, counts, draws=1000):
    """``counts[k]`` chains of exact draws from component k: (chain, draw, 3), class per chain."""
    out, cls = [], []
    for k, n in enumerate(counts):
        for _ in range(n):
            out.append(rng.multivariate_normal(MU[k], COV[k], size=draws))
            cls.append(k)
    return np.stack(out), np.array(cls)


def masses(weights, rng):
    logp, hessian = mixture(weights)
    draws, cls = chains_of(rng, (2, 5))
    laplace, bridge = [], []
    for k in range(2):
        lap = laplace_log_mass(float(logp(MU[k])[0]), hessian(MU[k]), MU[k])
        laplace.append(lap.log_mass)
        per_chain = [
            bridge_log_mass(logp, draws[c], logp(draws[c]), lap.gaussian, rng=int(c)).log_mass
            for c in np.flatnonzero(cls == k)
        ]
        bridge.append(log_mean_exp(per_chain))
    return np.array(laplace), np.array(bridge)


def test_laplace_and_bridge_recover_known_mixture_weights(rng):
    laplace, bridge = masses((0.3, 0.7), rng)
    truth = LOG_Z + np.log([0.3, 0.7])
    np.testing.assert_allclose(laplace, truth, atol=1e-6)  # a Gaussian component: exact
    np.testing.assert_allclose(bridge, truth, atol=0.05)
    np.testing.assert_allclose(mass_shares(laplace), [0.3, 0.7], atol=1e-6)
    np.testing.assert_allclose(mass_shares(bridge), [0.3, 0.7], atol=0.015)


def test_a_mode_fifty_nats_down_has_no_share(rng):
    laplace, bridge = masses((1.0, math.exp(-50.0)), rng)
    assert laplace[0] - laplace[1] == pytest.approx(50.0, abs=1e-6)
    assert bridge[0] - bridge[1] == pytest.approx(50.0, abs=0.05)
    assert mass_shares(bridge)[1] < 1e-20


def test_bridge_is_not_the_laplace_number_when_the_mode_is_not_gaussian(rng):
    """A Student-t-like mode: Laplace is off by a known amount, bridge sampling is not."""
    nu, d = 5.0, 2

    def logp(x):
        return -0.5 * (nu + d) * np.log1p(np.sum(np.atleast_2d(x) ** 2, axis=-1) / nu)

    # exact mass: Gamma(nu/2) (nu pi)^(d/2) / Gamma((nu + d)/2)
    truth = math.lgamma(nu / 2) + d / 2 * math.log(nu * math.pi) - math.lgamma((nu + d) / 2)
    H = -(nu + d) / nu * np.eye(d)
    lap = laplace_log_mass(0.0, H, np.zeros(d))
    assert abs(lap.log_mass - truth) > 0.2
    z = rng.standard_normal((4000, d)) / np.sqrt(rng.chisquare(nu, size=(4000, 1)) / nu)
    b = bridge_log_mass(logp, z, logp(z), lap.gaussian, rng=1)
    assert b.converged
    assert b.log_mass == pytest.approx(truth, abs=0.05)


def test_no_laplace_number_without_a_negative_definite_hessian():
    flat = laplace_log_mass(0.0, np.diag([-1.0, 0.0]), np.zeros(2))
    assert flat.log_mass is None and "flat direction" in flat.reason and flat.n_flat == 1
    saddle = laplace_log_mass(0.0, np.diag([-1.0, 2.0]), np.zeros(2))
    assert saddle.log_mass is None and "saddle" in saddle.reason


def loglik_of_classes(rng, frac_a, n_obs=1000, counts=(2, 5), draws=200):
    """Pointwise log-likelihood of chains whose class predicts N(-3, 1) (class 0) or N(3, 1)
    (class 1), on data drawn from ``frac_a N(-3, 1) + (1 - frac_a) N(3, 1)``."""
    from_a = rng.random(n_obs) < frac_a
    y = np.where(from_a, rng.normal(-3, 1, n_obs), rng.normal(3, 1, n_obs))
    rows = []
    for mu, n in zip((-3.0, 3.0), counts, strict=True):
        for _ in range(n):
            m = mu + 0.05 * rng.normal(size=(draws, 1))
            rows.append(-0.5 * (y - m) ** 2 - 0.5 * math.log(2 * math.pi))
    classes = [list(range(counts[0])), list(range(counts[0], sum(counts)))]
    return np.stack(rows), classes, from_a.mean()


def test_stacking_weights_of_classes_recover_the_mixture(rng):
    ll, classes, frac = loglik_of_classes(rng, 0.3)
    w, cw = class_stacking_weights(ll, classes)
    assert w.sum() == pytest.approx(1.0)
    assert cw[0] == pytest.approx(frac, abs=0.02)  # the data's own fraction (0.3 +- 0.015)
    assert cw[0] == pytest.approx(0.3, abs=0.05)
    np.testing.assert_allclose(w[:2], cw[0] / 2)  # shared equally within a class
    np.testing.assert_allclose(w[2:], cw[1] / 5)


def test_a_class_that_predicts_nothing_gets_no_stacking_weight(rng):
    ll, classes, _ = loglik_of_classes(rng, 0.0)
    w, cw = class_stacking_weights(ll, classes)
    assert cw[0] < 0.05 and w[:2].max() < 0.05


def test_one_class_shares_equally_and_bad_classes_are_refused(rng):
    ll, _, _ = loglik_of_classes(rng, 0.5, n_obs=20, counts=(1, 3), draws=20)
    w, cw = class_stacking_weights(ll, [[0, 1, 2, 3]])
    np.testing.assert_allclose(w, 0.25)
    np.testing.assert_allclose(cw, [1.0])
    with pytest.raises(ValueError, match="exactly one class"):
        class_stacking_weights(ll, [[0, 1], [1, 2, 3]])
