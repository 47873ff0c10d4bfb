"""The weight Hessian against closed forms, and the negative-definite fraction."""

import numpy as np
from scipy.special import expit

from bayesstack.geometry.hessian import (
    WeightHessian,
    hessian_check,
    hessian_cost,
    is_negdef,
    select_draws,
)
from bayesstack.model.builder import build_model
from bayesstack.model.network import flatten, param_shapes
from bayesstack.spec import Layer, Prior, Spec, normal

N, D = 60, 3


def glm(family, prior=None):
    kw = {} if prior is None else {"weights": prior, "bias": prior}
    return Spec(name=f"glm-{family}", family=family, **kw)


def design(rng):
    X = rng.normal(size=(N, D))
    return X, np.column_stack([X, np.ones(N)])  # θ = (W1, b1): intercept column last


def random_theta(rng, spec, shape, sd=1.0):
    p = {k: sd * rng.normal(size=(*shape, *s)) for k, s in param_shapes(spec, D).items()}
    return flatten(p, spec, len(shape))


def test_logistic_glm_hessian_is_the_closed_form_and_negdef_everywhere(rng):
    spec = glm("bernoulli", normal(2.5))
    X, Xt = design(rng)
    y = rng.integers(0, 2, size=N)
    hess = WeightHessian(build_model(spec, X, y), spec)
    assert hess.nuisance == [] and hess.n_weights == D + 1
    theta = random_theta(rng, spec, (4, 50), sd=3.0)
    p = expit(Xt @ theta[1, 7])
    expected = -(Xt.T * (p * (1 - p))) @ Xt - np.eye(D + 1) / 2.5**2
    np.testing.assert_allclose(hess(theta[1, 7]), expected, rtol=1e-10, atol=1e-10)
    res = hessian_check(hess, theta, n_obs=N)
    assert res.negdef_fraction == 1.0
    assert res.n_evaluated == res.n_total == 200
    assert np.all(res.max_eigenvalue < 0)


def test_poisson_glm_with_laplace_prior_is_negdef_from_the_likelihood_alone(rng):
    spec = glm("poisson", Prior("laplace", (("b", 0.5),)))
    X, Xt = design(rng)
    y = rng.poisson(2.0, size=N)
    hess = WeightHessian(build_model(spec, X, y), spec)
    theta = random_theta(rng, spec, (4, 50), sd=0.3)
    mu = np.exp(Xt @ theta[2, 3])
    expected = -(Xt.T * mu) @ Xt  # the Laplace prior's Hessian is 0 away from 0
    np.testing.assert_allclose(hess(theta[2, 3]), expected, rtol=1e-10)
    assert hessian_check(hess, theta, n_obs=N).negdef_fraction == 1.0


def test_gaussian_glm_holds_sigma_at_each_draw(rng):
    spec = glm("gaussian")
    X, Xt = design(rng)
    y = rng.normal(size=N)
    hess = WeightHessian(build_model(spec, X, y), spec)
    assert hess.nuisance == ["sigma"]
    theta = random_theta(rng, spec, (2, 20))
    sigma = np.exp(rng.normal(size=(2, 20)))
    expected = -Xt.T @ Xt / sigma[1, 4] ** 2 - np.eye(D + 1)
    np.testing.assert_allclose(hess(theta[1, 4], {"sigma": sigma[1, 4]}), expected, rtol=1e-10)
    assert hessian_check(hess, theta, {"sigma": sigma}, n_obs=N).negdef_fraction == 1.0


def test_tanh_stack_is_not_log_concave(rng):
    spec = Spec(name="tanh", family="gaussian", layers=(Layer(3, "tanh"),))
    X, _ = design(rng)
    y = np.tanh(X[:, 0]) + 0.1 * rng.normal(size=N)
    hess = WeightHessian(build_model(spec, X, y), spec)
    # at θ = 0 the cross terms between incoming and outgoing weights make a saddle
    ev = np.linalg.eigvalsh(hess(np.zeros(hess.n_weights), {"sigma": 0.3}))
    assert ev.max() > 1.0
    theta = random_theta(rng, spec, (4, 25), sd=0.5)
    res = hessian_check(hess, theta, {"sigma": np.full((4, 25), 0.3)}, n_obs=N)
    assert res.negdef_fraction < 0.5


def test_select_draws_thins_evenly_within_budget():
    c, d = select_draws(4, 100, n_obs=10, n_weights=3)
    assert c.size == d.size == 400
    c, d = select_draws(8, 1000, n_obs=1000, n_weights=561)
    assert np.array_equal(np.bincount(c), np.ones(8, dtype=int))  # one draw per chain
    budget = 100 * hessian_cost(200, 25)  # room for exactly 100 Hessians
    c, d = select_draws(2, 1000, n_obs=200, n_weights=25, budget=budget)
    assert c.size == 100 and np.array_equal(np.bincount(c), [50, 50])
    assert d[:50].tolist() == sorted(set(d[:50].tolist()))


def test_is_negdef_tolerates_rounding_only():
    assert is_negdef(np.array([-2.0, -1e-3])).item()
    assert not is_negdef(np.array([-2.0, 0.0])).item()
    assert not is_negdef(np.array([-2.0, 1e-3])).item()


def test_check_reports_what_it_did(rng):
    spec = glm("bernoulli")
    X, _ = design(rng)
    hess = WeightHessian(build_model(spec, X, rng.integers(0, 2, size=N)), spec)
    res = hessian_check(hess, random_theta(rng, spec, (2, 5)), n_obs=N)
    d = res.to_dict()
    assert d["negdef_fraction"] == 1.0 and d["n_evaluated"] == 10
    assert d["max_eigenvalue_max"] < 0
    assert res.chain.tolist() == [0] * 5 + [1] * 5


def test_full_hessian_in_the_unconstrained_space_is_the_closed_form(rng):
    """For a Gaussian GLM with u = log σ (HalfNormal(1) noise, N(0, 1) weights, no Jacobian):
    ∂²/∂u² = -2 RSS e^{-2u} - 2 e^{2u} and ∂²/∂θ∂u = -2 e^{-2u} X̃ᵀ r."""
    spec = glm("gaussian")
    X, Xt = design(rng)
    y = rng.normal(size=N)
    hess = WeightHessian(build_model(spec, X, y), spec)
    theta, sigma = rng.normal(size=D + 1), 0.8
    x = hess.flat(theta, {"sigma": sigma})
    np.testing.assert_allclose(x, [*theta, np.log(sigma)])
    H = hess.full(x)
    r = y - Xt @ theta
    expected = np.zeros((D + 2, D + 2))
    expected[:-1, :-1] = -Xt.T @ Xt / sigma**2 - np.eye(D + 1)
    expected[:-1, -1] = expected[-1, :-1] = -2 * Xt.T @ r / sigma**2
    expected[-1, -1] = -2 * np.sum(r**2) / sigma**2 - 2 * sigma**2
    np.testing.assert_allclose(H, expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(hess(theta, {"sigma": sigma}), expected[:-1, :-1], rtol=1e-12)
