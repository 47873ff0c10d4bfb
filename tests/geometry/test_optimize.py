"""Multi-start MAP: known optima of GLMs, and symmetric optima of a tanh stack."""

import numpy as np
import pytest

from bayesstack.data.builtin import load_dataset
from bayesstack.errors import BayesstackError
from bayesstack.geometry.optimize import MapObjective, multistart_map
from bayesstack.model.builder import build_model
from bayesstack.spec import Layer, Spec, normal


@pytest.fixture
def gaussian_data(rng):
    X = rng.normal(size=(50, 2))
    y = X @ np.array([1.0, -2.0]) + 0.5 + 0.7 * rng.normal(size=50)
    return X, y


def ridge_map(X, y):
    """Joint mode of (W1, b1, u = log sigma) for N(0, 1) priors and sigma ~ HalfNormal(1), in
    the unconstrained space the sampler sees (Jacobian term + u included).

    Given sigma the weights are the ridge solution with penalty sigma^2; given the weights,
    d/du [-N u - RSS e^(-2u) / 2 - e^(2u) / 2 + u] = 0 gives
    s^2 = (sqrt((N - 1)^2 + 4 RSS) - (N - 1)) / 2. Iterating the two maps converges to the
    joint optimum.
    """
    Xt = np.column_stack([X, np.ones(len(X))])
    n, s2 = len(X), 1.0
    for _ in range(500):
        beta = np.linalg.solve(Xt.T @ Xt + s2 * np.eye(Xt.shape[1]), Xt.T @ y)
        rss = np.sum((y - Xt @ beta) ** 2)
        s2 = (np.sqrt((n - 1) ** 2 + 4 * rss) - (n - 1)) / 2
    return beta, np.sqrt(s2)


def test_gaussian_glm_has_one_optimum_the_closed_form_map(gaussian_data):
    X, y = gaussian_data
    spec = Spec(name="glm", family="gaussian", weights=normal(1.0), bias=normal(1.0))
    res = multistart_map(build_model(spec, X, y), spec, n_starts=6, seed=1)
    assert res.n_raw == 1 and res.n_canonical == 1
    assert res.n_converged == 6 and res.hits.tolist() == [6]
    beta, sigma = ridge_map(X, y)
    np.testing.assert_allclose(res.theta[0], beta, atol=1e-6)
    assert float(res.nuisance["sigma"][0]) == pytest.approx(sigma, abs=1e-6)


def test_logistic_glm_has_one_optimum(rng):
    X = rng.normal(size=(80, 3))
    y = (X @ np.array([1.0, -1.0, 0.5]) + rng.logistic(size=80) > 0).astype(float)
    spec = Spec(name="glm", family="bernoulli", weights=normal(2.5), bias=normal(2.5))
    res = multistart_map(build_model(spec, X, y), spec, n_starts=8, seed=0, start_scale=3.0)
    assert res.n_raw == 1 and res.n_canonical == 1 and res.n_saddles == 0
    assert res.to_dict()["hits"] == [res.n_converged]


def test_tanh_stack_optima_are_images_of_one_optimum():
    ds = load_dataset("teacher-gaussian")
    spec = Spec(name="tanh3", family="gaussian", layers=(Layer(3, "tanh"),))
    res = multistart_map(build_model(spec, ds.X, ds.y), spec, n_starts=10, seed=0)
    assert res.n_raw >= 3
    assert res.n_canonical == 1
    assert np.ptp(res.logp) < 1e-6  # images share the log density
    assert res.orbit.tolist() == [0] * res.n_raw
    d = res.to_dict()
    assert d["optima_raw"] == res.n_raw and d["optima_canonical"] == 1


def test_objective_is_the_models_density_with_the_jacobian(gaussian_data, rng):
    X, y = gaussian_data
    spec = Spec(name="glm", family="gaussian")
    model = build_model(spec, X, y)
    obj = MapObjective(model)
    assert obj.names == ["W1", "b1", "sigma_log__"] and obj.size == 4
    x = rng.normal(size=4)
    lp, g = obj(x)
    point = obj.split(x)
    assert lp == pytest.approx(float(model.compile_logp()(point)), rel=1e-12)
    np.testing.assert_allclose(g, model.compile_dlogp()(point), rtol=1e-12)
    assert float(obj.constrained(x)["sigma"]) == pytest.approx(np.exp(x[3]))


def test_objective_of_a_stack_is_the_models_log_density(rng):
    """The objective is compiled by JAX: the same values and gradients as PyMC's default."""
    X = rng.normal(size=(40, 3))
    spec = Spec(name="s", family="gaussian", layers=(Layer(4, "tanh"), Layer(3, "tanh")))
    model = build_model(spec, X, rng.normal(size=40))
    obj = MapObjective(model)
    logp, dlogp = model.compile_logp(), model.compile_dlogp()
    for _ in range(5):
        x = rng.uniform(-2, 2, obj.size)
        lp, g = obj(x)
        assert lp == pytest.approx(float(logp(obj.split(x))), rel=1e-12)
        np.testing.assert_allclose(g, dlogp(obj.split(x)), rtol=1e-10, atol=1e-12)


def test_newton_polish_converges_where_lbfgs_alone_stops_short(gaussian_data, monkeypatch):
    """Five L-BFGS iterations leave the gradient large; the polish reaches the closed form.
    (The L-BFGS fallback is cut to one iteration, so only the polish can converge.)"""
    from bayesstack.geometry import optimize

    monkeypatch.setattr(optimize, "FALLBACK_MAXITER", 1)
    X, y = gaussian_data
    spec = Spec(name="glm", family="gaussian", weights=normal(1.0), bias=normal(1.0))
    model = build_model(spec, X, y)
    short = multistart_map(model, spec, n_starts=4, seed=2, maxiter=5, newton_maxiter=0)
    assert short.n_converged == 0 and short.n_raw == 0
    res = multistart_map(model, spec, n_starts=4, seed=2, maxiter=5)
    assert res.n_converged == 4 and res.n_raw == 1
    beta, sigma = ridge_map(X, y)
    np.testing.assert_allclose(res.theta[0], beta, atol=1e-8)
    assert float(res.nuisance["sigma"][0]) == pytest.approx(sigma, abs=1e-8)


def test_explicit_starts_are_constrained_values(gaussian_data):
    """Starts given as constrained draws (sigma > 0) are mapped to the unconstrained space."""
    X, y = gaussian_data
    spec = Spec(name="glm", family="gaussian", weights=normal(1.0), bias=normal(1.0))
    starts = {"W1": np.array([[1.0, -2.0], [0.0, 0.0]]), "b1": np.zeros(2)}
    starts["sigma"] = np.array([0.7, 3.0])
    res = multistart_map(build_model(spec, X, y), spec, n_starts=0, starts=starts)
    assert res.n_starts == 2 and res.n_converged == 2 and res.n_raw == 1
    np.testing.assert_allclose(res.theta[0], ridge_map(X, y)[0], atol=1e-8)


def test_kinked_posterior_still_converges(monkeypatch):
    """ReLU units and a Laplace prior put the optima on kinks, where the gradient jumps and
    never falls below gtol_check; L-BFGS's own convergence then counts."""
    from bayesstack.spec import load_spec

    spec = load_spec("models/stack1-relu-laplace.toml")
    ds = load_dataset("teacher-poisson")
    model = build_model(spec, ds.X, ds.y)
    # 20 L-BFGS iterations and the Newton polish leave the gradient above 1e-3 at every start
    from bayesstack.geometry import optimize

    calls = []
    real = optimize.minimize

    def spy(*args, **kw):
        calls.append((kw.get("method"), kw.get("options", {}).get("maxiter")))
        return real(*args, **kw)

    monkeypatch.setattr(optimize, "minimize", spy)
    res = multistart_map(model, spec, n_starts=4, seed=0, maxiter=20)
    assert res.n_converged == 4 and res.n_raw == 1 and res.n_canonical == 1
    # every start needed the L-BFGS fallback after the stalled Newton polish
    assert calls.count(("L-BFGS-B", optimize.FALLBACK_MAXITER)) == 4


def test_negative_start_count_is_a_user_error(gaussian_data):
    X, y = gaussian_data
    spec = Spec(name="glm", family="gaussian", weights=normal(1.0), bias=normal(1.0))
    with pytest.raises(BayesstackError, match="MAP starts: must be an integer >= 0, got -1"):
        multistart_map(build_model(spec, X, y), spec, n_starts=-1)
