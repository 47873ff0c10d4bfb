"""Bates & Watts relative curvature: known answers, invariances and stacked GLMs."""

import json

import numpy as np
import pytest
from scipy import optimize

from bayesstack.errors import BayesstackError
from bayesstack.geometry import curvature as cv
from bayesstack.geometry.curvature import (
    Curvature,
    input_curvature,
    rms_curvature,
    stack_curvature,
    stack_derivatives,
)
from bayesstack.spec import Layer, Spec

# --- Puromycin (treated), Michaelis-Menten: MASS::rms.curv's known answer ---------------------

CONC = np.array([0.02, 0.02, 0.06, 0.06, 0.11, 0.11, 0.22, 0.22, 0.56, 0.56, 1.10, 1.10])
RATE = np.array([76, 47, 97, 107, 123, 139, 159, 152, 191, 201, 207, 200], dtype=float)


def mm_derivatives(vm: float, k: float, c: np.ndarray = CONC) -> tuple[np.ndarray, np.ndarray]:
    """J and A of η = Vm c / (K + c) in θ = (Vm, K), by closed form."""
    J = np.stack([c / (k + c), -vm * c / (k + c) ** 2], axis=1)
    A = np.zeros((c.size, 2, 2))
    A[:, 0, 1] = A[:, 1, 0] = -c / (k + c) ** 2
    A[:, 1, 1] = 2 * vm * c / (k + c) ** 3
    return J, A


@pytest.fixture(scope="module")
def puromycin():
    res = optimize.least_squares(
        lambda th: th[0] * CONC / (th[1] + CONC) - RATE,
        x0=[200.0, 0.1], xtol=1e-15, ftol=1e-15, gtol=1e-15,
    )  # fmt: skip
    n, p = CONC.size, 2
    s = float(np.sqrt(np.sum(res.fun**2) / (n - p)))
    return res.x, s


def test_puromycin_matches_mass_rms_curv(puromycin):
    (vm, k), s = puromycin
    assert vm == pytest.approx(212.68, abs=0.01) and k == pytest.approx(0.06412, abs=1e-5)
    J, A = mm_derivatives(vm, k)
    c = rms_curvature(J, A, scale=s * np.sqrt(2))
    assert c.method == "exact" and (c.n, c.p, c.rank) == (12, 2, 2)
    pe, ic = c.times_sqrt_f(0.95)
    # MASS: "Parameter effects: c^theta x sqrt(F) = 0.2121; Intrinsic: c^iota x sqrt(F) = 0.092"
    assert pe == pytest.approx(0.2121, abs=5e-5)
    assert ic == pytest.approx(0.0920, abs=5e-5)
    # IPEC (Ratkowsky's curvature tables): the RMS curvatures themselves, 0.10471 / 0.04542
    assert c.parameter_effects == pytest.approx(0.10471, abs=5e-6)
    assert c.intrinsic == pytest.approx(0.04542, abs=5e-6)
    assert c.jacobian_condition == pytest.approx(np.linalg.cond(J), rel=1e-10)
    # the default scale is sigma * sqrt(rank), i.e. the same s * sqrt(p)
    d = rms_curvature(J, A, sigma=s)
    assert d.scale == pytest.approx(c.scale)
    assert d.parameter_effects == pytest.approx(c.parameter_effects, rel=1e-12)


def test_puromycin_random_directions_agree(puromycin):
    (vm, k), s = puromycin
    J, A = mm_derivatives(vm, k)
    exact = rms_curvature(J, A, sigma=s, method="exact")
    rand = rms_curvature(J, A, sigma=s, method="random", n_directions=4000, rng=1)
    assert rand.method == "random" and rand.n_directions == 4000
    assert 0 < rand.parameter_effects_se < 0.05 * rand.parameter_effects
    assert abs(rand.parameter_effects - exact.parameter_effects) < 4 * rand.parameter_effects_se
    assert abs(rand.intrinsic - exact.intrinsic) < 4 * rand.intrinsic_se


def test_to_dict_is_json_ready(puromycin):
    (vm, k), s = puromycin
    c = rms_curvature(*mm_derivatives(vm, k), sigma=s)
    d = json.loads(json.dumps(c.to_dict()))
    assert d["method"] == "exact" and d["p"] == 2 and d["n"] == 12
    assert Curvature(**d) == c


# --- affine η: exactly zero ------------------------------------------------------------------


@pytest.mark.parametrize("poly", [False, True])
@pytest.mark.parametrize("method", ["exact", "random"])
def test_affine_eta_has_zero_curvature(poly, method):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(25, 2))
    X = np.c_[np.ones(25), x, x**2] if poly else np.c_[np.ones(25), x]
    c = rms_curvature(X, np.zeros((25, X.shape[1], X.shape[1])), method=method, rng=0)
    assert c.parameter_effects < 1e-8 and c.intrinsic < 1e-8


# --- the generic core: invariances and the random estimator ----------------------------------


def random_problem(seed: int, n: int = 30, p: int = 5):
    rng = np.random.default_rng(seed)
    J = rng.normal(size=(n, p))
    A = rng.normal(size=(n, p, p))
    return J, A + A.transpose(0, 2, 1)


def test_exact_and_random_agree_on_generic_problem():
    J, A = random_problem(4)
    exact = rms_curvature(J, A, method="exact")
    rand = rms_curvature(J, A, method="random", n_directions=3000, rng=7)
    for name in ("parameter_effects", "intrinsic"):
        se = getattr(rand, f"{name}_se")
        assert abs(getattr(rand, name) - getattr(exact, name)) < 4 * se
        assert se < 0.03 * getattr(exact, name)


def test_random_method_accepts_directional_callable():
    J, A = random_problem(5)
    fn = lambda H: np.einsum("npq,kp,kq->kn", A, H, H)  # noqa: E731
    a = rms_curvature(J, fn, method="random", n_directions=200, rng=2)
    b = rms_curvature(J, A, method="random", n_directions=200, rng=2)
    assert a.parameter_effects == pytest.approx(b.parameter_effects, rel=1e-12)
    assert rms_curvature(J, fn, rng=2).method == "random"  # auto with a callable
    with pytest.raises(BayesstackError, match="exact"):
        rms_curvature(J, fn, method="exact")


def test_auto_switches_to_random_above_threshold(monkeypatch):
    J, A = random_problem(6)
    assert rms_curvature(J, A).method == "exact"
    monkeypatch.setattr(cv, "EXACT_MAX_PARAMS", 4)
    c = rms_curvature(J, A, rng=0, n_directions=50)
    assert c.method == "random" and c.n_directions == 50


def test_invariant_under_linear_reparameterisation():
    # θ = L φ: J -> J L, A_n -> Lᵀ A_n L; both curvatures are unchanged (p is unchanged)
    J, A = random_problem(8)
    L = np.random.default_rng(9).normal(size=(5, 5)) + 3 * np.eye(5)
    a = rms_curvature(J, A)
    b = rms_curvature(J @ L, np.einsum("pa,npq,qb->nab", L, A, L))
    assert b.parameter_effects == pytest.approx(a.parameter_effects, rel=1e-9)
    assert b.intrinsic == pytest.approx(a.intrinsic, rel=1e-9)


def test_rank_deficient_jacobian_uses_identifiable_directions():
    # θ_0 and θ_5 enter only through θ_0 + θ_5: the same model as the reduced one
    J, A = random_problem(10)
    Jd = np.c_[J, J[:, 0]]
    Ad = np.zeros((30, 6, 6))
    Ad[:, :5, :5] = A
    Ad[:, 5, :5] = Ad[:, :5, 5] = A[:, 0]
    Ad[:, 5, 5] = A[:, 0, 0]
    a = rms_curvature(J, A)
    b = rms_curvature(Jd, Ad)
    assert (b.p, b.rank) == (6, 5)
    assert b.parameter_effects == pytest.approx(a.parameter_effects, rel=1e-8)
    assert b.intrinsic == pytest.approx(a.intrinsic, rel=1e-8)
    assert b.times_sqrt_f() == pytest.approx(a.times_sqrt_f(), rel=1e-8)


def test_core_input_errors():
    J, A = random_problem(11)
    with pytest.raises(BayesstackError, match="shape"):
        rms_curvature(J, A[:, :4])
    with pytest.raises(BayesstackError, match="method"):
        rms_curvature(J, A, method="bogus")
    with pytest.raises(BayesstackError, match="zero"):
        rms_curvature(np.zeros_like(J), A)
    with pytest.raises(BayesstackError, match="scale"):
        rms_curvature(J, A, scale=-1.0)


# --- stacked GLMs ----------------------------------------------------------------------------


def make_spec(layers, family="gaussian"):
    from bayesstack.spec import Spec

    return Spec.from_dict(
        {
            "name": "t",
            "family": family,
            "layers": layers,
            "priors": {"weights": {"dist": "normal", "sigma": 1.0}},
        }
    )


def random_params(spec, n_features, seed):
    from bayesstack.model.network import param_shapes

    rng = np.random.default_rng(seed)
    return {k: rng.normal(size=s) for k, s in param_shapes(spec, n_features).items()}


GLM: list = []
LINEAR = [{"units": 2, "activation": "identity"}]
TANH = [{"units": 3, "activation": "tanh"}]


def test_glm_is_exactly_linear_also_with_polynomial_columns():
    rng = np.random.default_rng(12)
    x = rng.normal(size=(30, 2))
    for X in (x, np.c_[x, x**2]):
        spec = make_spec(GLM)
        c = stack_curvature(spec, random_params(spec, X.shape[1], 13), X)
        assert c.method == "exact" and c.rank == X.shape[1] + 1
        assert c.parameter_effects < 1e-8 and c.intrinsic < 1e-8


def test_deep_linear_stack_has_parameter_effects_curvature_only():
    X = np.random.default_rng(14).normal(size=(30, 2))
    spec = make_spec(LINEAR)  # 2-2-1: 9 weights, but η = X β + c spans only 3 dims
    c = stack_curvature(spec, random_params(spec, 2, 15), X)
    assert (c.p, c.rank) == (9, 3)
    assert c.parameter_effects > 1e-2
    assert c.intrinsic < 1e-8 * c.parameter_effects


def test_tanh_stack_is_curved_and_random_agrees():
    X = np.random.default_rng(16).normal(size=(40, 2))
    spec = make_spec(TANH)
    params = random_params(spec, 2, 17)
    exact = stack_curvature(spec, params, X)
    assert exact.rank == exact.p == 13
    assert exact.parameter_effects > 0.1 and exact.intrinsic > 0.1
    rand = stack_curvature(spec, params, X, method="random", n_directions=1500, rng=3)
    for name in ("parameter_effects", "intrinsic"):
        se = getattr(rand, f"{name}_se")
        assert 0 < se and abs(getattr(rand, name) - getattr(exact, name)) < 4 * se


def test_stack_derivatives_match_finite_differences_of_numpy_forward():
    from bayesstack.model.network import flatten, forward, param_shapes, weight_names

    X = np.random.default_rng(18).normal(size=(15, 2))
    spec = make_spec([{"units": 2, "activation": "tanh"}, {"units": 2, "activation": "sigmoid"}])
    params = random_params(spec, 2, 19)
    theta = flatten(params, spec)
    shapes = param_shapes(spec, 2)

    def eta(th):
        p, start = {}, 0
        for name in weight_names(spec):
            size = int(np.prod(shapes[name], dtype=int))
            p[name] = th[start : start + size].reshape(shapes[name])
            start += size
        return forward(spec, p, X)

    P, h = theta.size, 1e-4
    E = np.eye(P) * h
    J = np.stack([(eta(theta + e) - eta(theta - e)) / (2 * h) for e in E], axis=1)
    A = np.empty((15, P, P))
    for a in range(P):
        for b in range(P):
            A[:, a, b] = (
                eta(theta + E[a] + E[b]) - eta(theta + E[a] - E[b])
                - eta(theta - E[a] + E[b]) + eta(theta - E[a] - E[b])
            ) / (4 * h * h)  # fmt: skip
    J_exact, A_exact = stack_derivatives(spec, params, X)
    np.testing.assert_allclose(J_exact, J, atol=1e-8)
    np.testing.assert_allclose(A_exact, A, atol=1e-6)
    assert np.abs(A_exact).max() > 0.1


@pytest.mark.parametrize("activation", ["identity", "tanh", "sigmoid", "relu", "softplus"])
def test_jax_eta_equals_numpy_forward_in_float64(activation):
    """The JAX η the curvature differentiates is the numpy forward pass, to rounding."""
    from bayesstack.geometry.derivatives import eta_of_theta
    from bayesstack.model.network import flatten, forward

    X = np.random.default_rng(20).normal(size=(40, 3))
    spec = make_spec([{"units": 4, "activation": activation}, {"units": 3, "activation": "tanh"}])
    params = random_params(spec, 3, 21)
    got = np.asarray(eta_of_theta(spec, 3)(flatten(params, spec), X))
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, forward(spec, params, X), rtol=1e-13, atol=1e-13)


def test_stack_scale_defaults():
    X = np.random.default_rng(20).normal(size=(20, 2))
    spec = make_spec(TANH)
    params = random_params(spec, 2, 21)
    base = stack_curvature(spec, params, X)
    assert base.scale == pytest.approx(np.sqrt(13))  # s = 1: units of the linear predictor
    with_sigma = stack_curvature(spec, {**params, "sigma": np.array(0.5)}, X)
    assert with_sigma.scale == pytest.approx(0.5 * np.sqrt(13))
    assert with_sigma.parameter_effects == pytest.approx(0.5 * base.parameter_effects)
    assert stack_curvature(spec, params, X, sigma=2.0).scale == pytest.approx(2 * np.sqrt(13))
    assert stack_curvature(spec, params, X, scale=3.0).scale == 3.0
    bern = make_spec(TANH, family="bernoulli")  # no noise scale: params["sigma"] is not used
    assert stack_curvature(bern, {**params, "sigma": 0.5}, X).scale == pytest.approx(np.sqrt(13))


def test_stack_rejects_sample_dims_and_missing_weights():
    X = np.zeros((5, 2))
    spec = make_spec(GLM)
    params = random_params(spec, 2, 22)
    with pytest.raises(BayesstackError, match="one parameter point"):
        stack_curvature(spec, {**params, "W1": np.zeros((4, 2))}, X)
    with pytest.raises(BayesstackError, match="b1"):
        stack_curvature(spec, {"W1": params["W1"]}, X)


# --- curvature in the inputs -----------------------------------------------------------------


def test_input_curvature_two_by_two_table():
    import pytensor.tensor as pt

    rng = np.random.default_rng(23)
    x = rng.normal(size=(30, 1))
    glm = make_spec(GLM)
    # GLM on x: linear in θ and x
    assert input_curvature(glm, random_params(glm, 1, 24), x).rms == 0.0
    # GLM on φ(x) = [x, x²]: linear in θ, curved in x; closed form with h = 2 β2 s²
    params = {"W1": np.array([1.0, 0.5]), "b1": np.array(0.3)}
    c = input_curvature(glm, params, x, feature_map=lambda z: pt.concatenate([z, z**2], axis=1))
    s = x.std()
    g = (1.0 + 2 * 0.5 * x[:, 0]) * s
    assert c.d == 1 and c.input_scale == pytest.approx((s,))
    assert c.rms == pytest.approx(np.sqrt(30 * (2 * 0.5 * s**2) ** 2 / np.sum(g**2)), rel=1e-10)
    # deep linear stack: curved in θ, linear in x
    X = rng.normal(size=(30, 2))
    lin = make_spec(LINEAR)
    assert input_curvature(lin, random_params(lin, 2, 25), X).rms == 0.0
    # tanh stack: curved in both
    tanh = make_spec(TANH)
    c = input_curvature(tanh, random_params(tanh, 2, 26), X)
    assert c.rms > 0.1 and c.per_observation.shape == (30,)
    assert json.loads(json.dumps(c.to_dict()))["n"] == 30


def test_input_curvature_does_not_depend_on_input_units():
    rng = np.random.default_rng(27)
    X = rng.normal(size=(25, 2))
    spec = make_spec(TANH)
    params = random_params(spec, 2, 28)
    a = input_curvature(spec, params, X)
    scaled = {**params, "W1": params["W1"] / 10.0}  # the same function of 10 X
    b = input_curvature(spec, scaled, 10.0 * X)
    assert b.rms == pytest.approx(a.rms, rel=1e-10)
    np.testing.assert_allclose(b.per_observation, a.per_observation, rtol=1e-10)
    with pytest.raises(BayesstackError, match="input_scale"):
        input_curvature(spec, params, X, input_scale=0.0)


def test_input_curvature_cached_path_equals_the_feature_map_path():
    """Without a feature map the cached JAX η is differentiated in x; an identity φ takes the
    PyTensor route. Both must give the same numbers, and the cached one a closed form."""
    rng = np.random.default_rng(29)
    X = rng.normal(size=(40, 3))
    spec = make_spec(TANH)
    params = random_params(spec, 3, 30)
    a = input_curvature(spec, params, X)
    b = input_curvature(spec, params, X, feature_map=lambda z: z)
    assert a.rms == pytest.approx(b.rms, rel=1e-12)
    np.testing.assert_allclose(a.per_observation, b.per_observation, rtol=1e-10)
    # one tanh unit, η = v tanh(wᵀx + c) + b: ∇²η = v tanh''(z) w wᵀ, known in closed form
    one = Spec(name="one", family="gaussian", layers=(Layer(1, "tanh"),))
    w, v = np.array([[0.7], [-1.3], [0.4]]), np.array([2.0])
    p = {"W1": w, "b1": np.array([0.2]), "W2": v, "b2": np.array(0.1)}
    c = input_curvature(one, p, X, input_scale=1.0)
    z = X @ w[:, 0] + 0.2
    t = np.tanh(z)
    g2 = (2.0 * (1 - t**2)) ** 2 * np.sum(w**2)  # ||∇η||²
    h = 2.0 * (-2 * t * (1 - t**2))  # ∇²η = h w wᵀ: tr = h|w|², tr(H²) = h²|w|⁴
    q = (2 * h**2 * np.sum(w**2) ** 2 + (h * np.sum(w**2)) ** 2) / (3 * 5)
    assert c.rms == pytest.approx(np.sqrt(q.sum() / (g2 / 3).sum()), rel=1e-10)


def test_mean_scale_curvature_of_a_log_link_glm_is_the_exponential_models():
    """A Gaussian GLM with a log link is affine in θ on η, but μ = exp(a + b x) is the
    classic exponential regression: its curvature by closed-form derivatives."""
    from bayesstack.geometry.curvature import mean_curvature

    x = np.linspace(0.0, 2.0, 15)
    a, b, s = 0.3, 0.8, 0.2
    spec = Spec(name="glm-log", family="gaussian", link="log")
    params = {"W1": np.array([b]), "b1": np.array(a)}
    eta_c = stack_curvature(spec, params, x[:, None], sigma=s)
    assert eta_c.parameter_effects < 1e-10 and eta_c.intrinsic < 1e-10 and eta_c.scale_of == "eta"
    mu = np.exp(a + b * x)
    J = np.stack([mu * x, mu], axis=1)  # θ = (W1, b1)
    A = mu[:, None, None] * np.stack([[x * x, x], [x, np.ones_like(x)]]).transpose(2, 0, 1)
    ref = rms_curvature(J, A, sigma=s)
    got = mean_curvature(spec, params, x[:, None], sigma=s)
    assert got.scale_of == "mu" and got.parameter_effects > 0.01
    assert got.parameter_effects == pytest.approx(ref.parameter_effects, rel=1e-8)
    assert got.intrinsic == pytest.approx(ref.intrinsic, rel=1e-8)
    ident = mean_curvature(Spec(name="g", family="gaussian"), params, x[:, None], sigma=s)
    assert ident.parameter_effects < 1e-10
