"""The location–scale Gaussian family (issue 17 item 3): y ~ N(η_μ, exp(η_σ)).

Known answers: the PyMC log density and the JAX log density the samplers use both equal an
independent scipy implementation; the spec refuses a noise prior; the output layer carries an
``output`` dim; the depth-0 posterior is not claimed log-concave (the likelihood is not jointly
concave in (μ, log σ)); canonicalisation keeps the log density.
"""

import json

import numpy as np
import pytest
from scipy import stats

from bayesstack import build_model
from bayesstack.errors import SpecError
from bayesstack.geometry.canonical import canonicalize
from bayesstack.geometry.summary import glm_log_concavity
from bayesstack.geometry.symmetry import apply, random_element, symmetry_group
from bayesstack.inference import jaxnuts
from bayesstack.model.network import forward, param_dims, param_shapes
from bayesstack.spec import Prior, Spec

LS = "gaussian_location_scale"
N, D = 30, 3


def ls_spec(units=(), activation="tanh", priors=None, **extra):
    d = {
        "name": "ls",
        "family": LS,
        "layers": [{"units": u, "activation": activation} for u in units],
    }
    if priors is not None:
        d["priors"] = priors
    return Spec.from_dict({**d, **extra})


def data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, D))
    y = X @ [0.5, -1.0, 0.3] + np.exp(0.3 * X[:, 0]) * rng.normal(size=N)
    return X, y


# --- spec -----------------------------------------------------------------------------------
def test_spec_accepts_the_family_and_round_trips_without_a_noise_prior():
    spec = ls_spec([3])
    assert spec.outputs == ("mu", "log_sigma") and spec.link == "identity"
    d = spec.to_dict()
    assert "noise" not in d["priors"]
    assert Spec.from_dict(json.loads(json.dumps(d))) == spec
    # one-output families keep their noise key (JSON unchanged)
    assert "noise" in Spec.from_dict({"name": "g", "family": "gaussian"}).to_dict()["priors"]


def test_spec_refuses_a_noise_prior_in_one_line():
    with pytest.raises(SpecError, match="takes no noise prior") as e:
        ls_spec(priors={"noise": {"dist": "halfnormal", "sigma": 2.0}})
    assert "\n" not in str(e.value) and "priors.noise" in str(e.value)
    with pytest.raises(SpecError, match="takes no noise prior"):  # the constructor too
        Spec("ls", LS, noise=Prior("halfnormal", (("sigma", 2.0),)))


def test_spec_refuses_other_links():
    with pytest.raises(SpecError, match="not allowed for family"):
        ls_spec(link="log")


# --- builder and network --------------------------------------------------------------------
@pytest.mark.parametrize("units", [(), (3,), (4, 2)])
def test_output_layer_has_an_output_dim_and_no_sigma_variable(units):
    spec = ls_spec(units)
    X, y = data()
    model = build_model(spec, X, y, store_eta=True)
    L = len(units) + 1
    assert param_dims(spec)[f"W{L}"][-1] == "output" and param_dims(spec)[f"b{L}"] == ("output",)
    assert list(model.coords["output"]) == ["mu", "log_sigma"]
    assert model.named_vars_to_dims["eta"] == ("obs", "output")
    assert {rv.name for rv in model.free_RVs} == set(param_shapes(spec, D))  # no sigma
    for name, shape in param_shapes(spec, D).items():
        assert model[name].type.shape == shape or model[name].eval().shape == shape


def _numpy_eta(units, p, X):
    """An independent forward pass (tanh hidden layers, two output columns)."""
    h = X
    for l in range(1, len(units) + 1):
        h = np.tanh(h @ p[f"W{l}"] + p[f"b{l}"])
    L = len(units) + 1
    return h @ p[f"W{L}"] + p[f"b{L}"]  # (N, 2)


PRIORS = {"weights": {"dist": "normal", "sigma": 1.3}, "bias": {"dist": "normal", "sigma": 2.0}}
OUTPUT = {"priors": {"weights": {"dist": "normal", "sigma": 0.7}}}  # both heads' weights


@pytest.mark.parametrize("units", [(), (3,)])
def test_log_density_matches_scipy_pymc_and_jax(units):
    """PyMC's logp (unconstrained scale; Normal priors need no transform) and the samplers'
    JAX log density against scipy: priors + sum norm.logpdf(y, η_μ, exp(η_σ))."""
    spec = ls_spec(units, priors=PRIORS, output=OUTPUT)
    X, y = data(1)
    model = build_model(spec, X, y)
    logp = model.compile_logp(mode="FAST_COMPILE")
    logp_fn, _, names, dnames, _ = jaxnuts.jaxify_model(model)
    jdata = jaxnuts.data_arrays(model, dnames)
    assert set(names) == set(param_shapes(spec, D))  # every value var is a weight, untransformed
    L = len(units) + 1
    rng = np.random.default_rng(2)
    for _ in range(5):
        p = {k: rng.uniform(-1.5, 1.5, s) for k, s in param_shapes(spec, D).items()}
        eta = _numpy_eta(units, p, X)
        ref = stats.norm.logpdf(y, loc=eta[:, 0], scale=np.exp(eta[:, 1])).sum()
        for k, v in p.items():
            layer = int(k[1:])
            sd = 2.0 if k[0] == "b" else (0.7 if layer == L else 1.3)
            ref += stats.norm.logpdf(v, 0.0, sd).sum()
        assert logp(p) == pytest.approx(ref, rel=1e-10)
        jax_lp = float(logp_fn(*[p[n] for n in names], *jdata)[0])
        assert jax_lp == pytest.approx(ref, rel=1e-10)
        np.testing.assert_allclose(forward(spec, p, X), eta, rtol=1e-12)


def test_a_zero_sigma_head_is_a_homoscedastic_gaussian():
    """With the σ column's weights 0 and bias log 0.8 the likelihood is the gaussian family's
    with sigma = 0.8 (the μ column is the one-output stack's output weight)."""
    units = (3,)
    layers = [{"units": 3, "activation": "tanh"}]
    ls, gauss = (
        ls_spec(units),
        Spec.from_dict({"name": "g", "family": "gaussian", "layers": layers}),
    )
    X, y = data(3)
    rng = np.random.default_rng(4)
    p = {k: rng.normal(size=s) for k, s in param_shapes(gauss, D).items()}
    q = {**p, "W2": np.stack([p["W2"], np.zeros(3)], -1), "b2": np.array([p["b2"], np.log(0.8)])}
    m_ls, m_g = build_model(ls, X, y), build_model(gauss, X, y)
    lik_ls = m_ls.compile_logp(vars=m_ls.observed_RVs, mode="FAST_COMPILE")(q)
    lik_g = m_g.compile_logp(vars=m_g.observed_RVs, mode="FAST_COMPILE")(
        {**p, "sigma_log__": np.log(0.8)}
    )
    assert lik_ls == pytest.approx(lik_g, rel=1e-12)


# --- log-concavity is not claimed ------------------------------------------------------------
def test_depth0_is_not_claimed_log_concave_and_the_reason_holds():
    ok, why = glm_log_concavity(ls_spec())
    assert ok is False and "not jointly concave" in why
    # the reason, checked numerically: the Hessian of -log N(y; mu, e^s) in (mu, s) at y != mu
    # has determinant -2 (y - mu)^2 e^(-4 s) < 0 (an indefinite Hessian)
    y, mu, s, h = 1.3, 0.2, -0.4, 1e-4

    def f(a, b):
        return -stats.norm.logpdf(y, loc=a, scale=np.exp(b))

    fmm = (f(mu + h, s) - 2 * f(mu, s) + f(mu - h, s)) / h**2
    fss = (f(mu, s + h) - 2 * f(mu, s) + f(mu, s - h)) / h**2
    fms = (f(mu + h, s + h) - f(mu + h, s - h) - f(mu - h, s + h) + f(mu - h, s - h)) / (4 * h * h)
    det = fmm * fss - fms**2
    assert det == pytest.approx(-2 * (y - mu) ** 2 * np.exp(-4 * s), rel=1e-4) and det < 0


# --- symmetry and canonicalisation ----------------------------------------------------------
def test_canonicalisation_keeps_the_log_density():
    spec = ls_spec((3, 2))
    assert symmetry_group(spec).posterior_order == 3 * 2 * 1 * 2**3 * 2 * 2**2
    X, y = data(5)
    model = build_model(spec, X, y)
    logp = model.compile_logp(mode="FAST_COMPILE")
    rng = np.random.default_rng(6)
    theta = {k: rng.normal(size=(2, 4, *s)) for k, s in param_shapes(spec, D).items()}
    theta = apply(spec, theta, random_element(spec, None, rng, size=(2, 4)))
    res = canonicalize(spec, theta)
    moved = 0.0
    for c in range(2):
        for d in range(4):
            a = logp({k: v[c, d] for k, v in theta.items()})
            b = logp({k: v[c, d] for k, v in res.params.items()})
            assert b == pytest.approx(a, rel=1e-10)
            moved += sum(np.abs(res.params[k][c, d] - theta[k][c, d]).sum() for k in theta)
    assert moved > 1.0  # canonicalisation did act


# --- curvature: of μ's η ---------------------------------------------------------------------
def test_curvature_is_the_mean_heads():
    """The σ head's weights leave η_μ unchanged: they drop out of the tangent basis, and the
    curvature equals the one-output stack's with the μ column as its output weight."""
    from bayesstack.geometry.curvature import stack_curvature

    layers = [{"units": 3, "activation": "tanh"}]
    ls = ls_spec((3,))
    gauss = Spec.from_dict({"name": "g", "family": "gaussian", "layers": layers})
    rng = np.random.default_rng(9)
    X = rng.normal(size=(25, 2))
    p = {k: rng.normal(size=s) for k, s in param_shapes(ls, 2).items()}
    a = stack_curvature(ls, p, X, method="exact")
    b = stack_curvature(gauss, {**p, "W2": p["W2"][:, 0], "b2": p["b2"][0]}, X, method="exact")
    assert (a.p, a.rank, b.p, b.rank) == (17, 13, 13, 13)
    assert a.parameter_effects == pytest.approx(b.parameter_effects, rel=1e-9)
    assert a.intrinsic == pytest.approx(b.intrinsic, rel=1e-9)
    assert a.jacobian_condition == np.inf and np.isfinite(b.jacobian_condition)
