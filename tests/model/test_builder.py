"""The built PyMC model against an independent numpy/scipy implementation of the stacked GLM."""

import numpy as np
import pytest
from scipy import special, stats

from bayesstack import build_model
from bayesstack.spec import Spec

ACTS = {
    "identity": lambda z: z,
    "tanh": np.tanh,
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "relu": lambda z: np.where(z > 0, z, 0.0),
    "softplus": lambda z: np.log1p(np.exp(z)),
}
INV_LINK = {
    "identity": lambda e: e,
    "log": np.exp,
    "logit": special.expit,
    "probit": stats.norm.cdf,
    "cloglog": lambda e: -np.expm1(-np.exp(e)),
}

# log p and log(1 - p) without cancellation, from the linear predictor
LOG_PQ = {
    "logit": lambda e: (-np.logaddexp(0, -e), -np.logaddexp(0, e)),
    "probit": lambda e: (stats.norm.logcdf(e), stats.norm.logcdf(-e)),
    "cloglog": lambda e: (np.log(-np.expm1(-np.exp(e))), -np.exp(e)),
}


def ref_prior_logpdf(prior, x, fan_in):
    p = dict(prior)
    if p["dist"] == "normal":
        return stats.norm(0, p["sigma"]).logpdf(x).sum()
    if p["dist"] == "normal_fanin":
        return stats.norm(0, p["sigma"] / np.sqrt(fan_in)).logpdf(x).sum()
    if p["dist"] == "laplace":
        return stats.laplace(0, p["b"]).logpdf(x).sum()
    if p["dist"] == "student_t":
        return stats.t(p["nu"], 0, p["sigma"]).logpdf(x).sum()
    raise AssertionError(p)


def ref_logp(spec_dict, params, X, y, trials=None):
    """Joint log density, written without bayesstack: loops over layers, scipy densities."""
    layers = spec_dict.get("layers", [])
    pri = spec_dict["priors"]
    h, lp = X, 0.0
    for i in range(len(layers) + 1):
        W, b = params[f"W{i + 1}"], params[f"b{i + 1}"]
        lp += ref_prior_logpdf(pri["weights"], W, h.shape[1])
        lp += ref_prior_logpdf(pri["bias"], b, h.shape[1])
        z = h @ W + b
        h = ACTS[layers[i]["activation"]](z) if i < len(layers) else z
    mu = INV_LINK[spec_dict["link"]](h)
    fam = spec_dict["family"]
    if fam == "gaussian":
        lp += (
            stats.halfnorm(0, 1).logpdf(params["sigma"])
            + stats.norm(mu, params["sigma"]).logpdf(y).sum()
        )
    elif fam == "student_t":
        lp += stats.halfnorm(0, 1).logpdf(params["sigma"])
        lp += stats.gamma(2.0, scale=1 / 0.1).logpdf(params["nu"])
        lp += stats.t(params["nu"], mu, params["sigma"]).logpdf(y).sum()
    elif fam in ("bernoulli", "binomial"):
        n = 1 if fam == "bernoulli" else trials
        log_p, log_q = LOG_PQ[spec_dict["link"]](h)
        log_choose = special.gammaln(n + 1) - special.gammaln(y + 1) - special.gammaln(n - y + 1)
        lp += (log_choose + y * log_p + (n - y) * log_q).sum()
    elif fam == "poisson":
        lp += stats.poisson(mu).logpmf(y).sum()
    elif fam == "negative_binomial":
        a = params["alpha"]
        lp += stats.expon(scale=1 / 0.1).logpdf(a) + stats.nbinom(a, a / (a + mu)).logpmf(y).sum()
    return lp


def fake_y(family, mu, rng, trials=None):
    if family in ("gaussian", "student_t"):
        return mu + rng.normal(size=mu.shape)
    if family == "bernoulli":
        return rng.binomial(1, 0.5, size=mu.shape).astype(float)
    if family == "binomial":
        return rng.binomial(trials, 0.5, size=mu.shape).astype(float)
    return rng.poisson(2.0, size=mu.shape).astype(float)


CASES = [
    ("gaussian", "identity"),
    ("gaussian", "log"),
    ("student_t", "identity"),
    ("bernoulli", "logit"),
    ("bernoulli", "probit"),
    ("bernoulli", "cloglog"),
    ("binomial", "logit"),
    ("binomial", "cloglog"),
    ("poisson", "log"),
    ("negative_binomial", "log"),
]
PRIORS = [
    {"dist": "normal", "sigma": 0.7},
    {"dist": "normal_fanin", "sigma": 1.5},
    {"dist": "laplace", "b": 0.5},
    {"dist": "student_t", "nu": 4.0, "sigma": 0.8},
]


def _check(spec_dict, rng, n=25, d=3):
    spec = Spec.from_dict(spec_dict)
    X = rng.normal(size=(n, d))
    trials = 7 if spec.family == "binomial" else None
    y = fake_y(spec.family, np.zeros(n), rng, trials)
    model = build_model(spec, X, y, trials=trials)
    logp = model.compile_logp(jacobian=False)
    for _ in range(3):
        point, params = {}, {}
        for v in model.value_vars:
            shape = model.initial_point()[v.name].shape
            val = 0.5 * rng.normal(size=shape)
            point[v.name] = val
            params[v.name.removesuffix("_log__")] = (
                np.exp(val) if v.name.endswith("_log__") else val
            )
        spec_dict = {**spec_dict, "link": spec.link}
        ref = ref_logp(spec_dict, params, X, y, trials)
        assert np.isclose(logp(point), ref, rtol=1e-9, atol=1e-9), (spec_dict, logp(point), ref)


@pytest.mark.parametrize("family,link", CASES)
@pytest.mark.parametrize("activation", [None, *ACTS])
def test_logp_matches_numpy(family, link, activation, rng):
    layers = [] if activation is None else [{"units": 3, "activation": activation}]
    prior = PRIORS[len(family) % len(PRIORS)]
    spec = {
        "name": "t",
        "family": family,
        "link": link,
        "layers": layers,
        "priors": {"weights": prior, "bias": {"dist": "normal", "sigma": 1.3}},
    }
    _check(spec, rng)


@pytest.mark.parametrize("prior", PRIORS)
def test_logp_two_layers_every_prior(prior, rng):
    spec = {
        "name": "t",
        "family": "gaussian",
        "layers": [{"units": 4, "activation": "tanh"}, {"units": 2, "activation": "softplus"}],
        "priors": {"weights": prior, "bias": prior},
    }
    _check(spec, rng)


def test_depth0_is_exactly_the_glm(rng):
    spec = Spec.from_dict({"name": "glm", "family": "bernoulli"})
    X = rng.normal(size=(30, 4))
    y = rng.binomial(1, 0.5, 30).astype(float)
    m = build_model(spec, X, y, feature_names=list("abcd"))
    assert [v.name for v in m.free_RVs] == ["W1", "b1"]
    assert m.named_vars_to_dims["W1"] == ("feature",)
    assert list(m.coords["feature"]) == list("abcd")
    # the same GLM written by hand
    import pymc as pm

    with pm.Model() as hand:
        beta = pm.Normal("W1", 0, 1, shape=4)
        a = pm.Normal("b1", 0, 1)
        pm.Bernoulli("y", logit_p=X @ beta + a, observed=y)
    pt = {"W1": rng.normal(size=4), "b1": np.array(0.3)}
    assert np.isclose(m.compile_logp()(pt), hand.compile_logp()(pt), rtol=1e-12)


def test_dims_and_coords(rng):
    spec = Spec.from_dict(
        {
            "name": "s",
            "family": "gaussian",
            "layers": [{"units": 3, "activation": "tanh"}, {"units": 2, "activation": "relu"}],
        }
    )
    m = build_model(spec, rng.normal(size=(10, 2)), rng.normal(size=10))
    dims = m.named_vars_to_dims
    assert dims["W1"] == ("feature", "hidden1")
    assert dims["W2"] == ("hidden1", "hidden2")
    assert dims["W3"] == ("hidden2",)
    assert dims["b2"] == ("hidden2",)
    assert len(m.coords["hidden1"]) == 3 and len(m.coords["hidden2"]) == 2


def test_no_bias_layer(rng):
    spec = Spec.from_dict(
        {
            "name": "s",
            "family": "gaussian",
            "layers": [{"units": 3, "activation": "tanh", "bias": False}],
            "output": {"bias": False},
        }
    )
    m = build_model(spec, rng.normal(size=(10, 2)), rng.normal(size=10))
    assert [v.name for v in m.free_RVs] == ["W1", "W2", "sigma"]


def test_hierarchical_prior_has_scale(rng):
    spec = Spec.from_dict(
        {
            "name": "s",
            "family": "gaussian",
            "layers": [{"units": 3, "activation": "tanh"}],
            "priors": {"weights": {"dist": "hierarchical", "scale": 0.5}},
        }
    )
    m = build_model(spec, rng.normal(size=(10, 2)), rng.normal(size=10))
    names = [v.name for v in m.free_RVs]
    assert "tau_W1" in names and "tau_W2" in names


def test_predict_on_new_x(rng):
    import pymc as pm

    spec = Spec.from_dict({"name": "glm", "family": "gaussian"})
    m = build_model(spec, rng.normal(size=(20, 2)), rng.normal(size=20), store_eta=True)
    Xnew = np.ones((5, 2))
    with m:
        pm.set_data({"X": Xnew, "y_data": np.zeros(5)}, coords={"obs": np.arange(5)})
    eta = m.compile_fn(m["eta"], inputs=[m["W1"], m["b1"]])
    out = eta({"W1": np.array([1.0, 2.0]), "b1": np.array(0.5)})
    np.testing.assert_allclose(out, np.full(5, 3.5))
