"""When a GLM's posterior is claimed log-concave: the registry's concave links against scipy."""

import numpy as np
import pytest
from scipy import stats

import bayesstack as bs
from bayesstack.geometry.summary import CONCAVE_LIKELIHOODS, glm_log_concavity
from bayesstack.registry import LINKS

ETA = np.linspace(-3.0, 3.0, 61)
H = 1e-3
#: scipy's log density of y given the mean, noise parameters held fixed, and the y values tried
LOGLIK = {
    "gaussian": (lambda y, mu: stats.norm.logpdf(y, mu, 1.3), [-5.0, 0.0, 0.4, 5.0]),
    "student_t": (lambda y, mu: stats.t.logpdf(y, 3.0, mu, 1.0), [-4.0, 0.0, 3.0]),
    "bernoulli": (lambda y, mu: stats.bernoulli.logpmf(y, mu), [0, 1]),
    "binomial": (lambda y, mu: stats.binom.logpmf(y, 7, mu), [0, 3, 7]),
    "poisson": (lambda y, mu: stats.poisson.logpmf(y, mu), [0, 1, 4, 12]),
    # PyMC's (mu, alpha): scipy's n = alpha, p = alpha / (alpha + mu)
    "negative_binomial": (
        lambda y, mu: stats.nbinom.logpmf(y, 2.5, 2.5 / (2.5 + mu)),
        [0, 1, 4, 30],
    ),
}


def second_difference(family: str, link: str, y) -> np.ndarray:
    """d²/dη² of log p(y | μ = g⁻¹(η)) on ETA, by central differences."""
    logp, _ = LOGLIK[family]
    inv = LINKS[link].numpy
    f = [logp(y, inv(ETA + s)) for s in (-H, 0.0, H)]
    return (f[0] - 2 * f[1] + f[2]) / H**2


@pytest.mark.parametrize("family, link", sorted(CONCAVE_LIKELIHOODS))
def test_claimed_concave_likelihoods_are_concave_in_eta(family, link):
    for y in LOGLIK[family][1]:
        d2 = second_difference(family, link, y)
        assert np.all(np.isfinite(d2)) and d2.max() < 1e-5, (family, link, y, d2.max())


@pytest.mark.parametrize(
    "family, link, y", [("gaussian", "log", 5.0), ("student_t", "identity", 3.0)]
)
def test_the_named_exceptions_are_not_concave(family, link, y):
    """README and report name these as not log-concave: each has a convex stretch in η."""
    assert (family, link) not in CONCAVE_LIKELIHOODS
    assert second_difference(family, link, y).max() > 0.1


def test_the_claim_names_the_noise_parameters_it_holds_fixed():
    ok, why = glm_log_concavity(bs.load_spec("glm-gaussian"))
    assert ok and why.endswith("; for fixed sigma")
    ok, why = glm_log_concavity(bs.load_spec("glm-logistic"))
    assert ok and "for fixed" not in why  # Bernoulli: no noise parameter
    ok, why = glm_log_concavity(bs.load_spec("stack1-tanh"))
    assert ok is None
