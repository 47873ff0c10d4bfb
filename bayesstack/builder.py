"""Build the PyMC model of a stacked GLM: the only place that creates random variables."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from bayesstack.network import forward, hidden_dim, layer_sizes, param_dims
from bayesstack.spec import Prior, Spec


def _inverse_link(link: str, eta):
    return {
        "identity": lambda e: e,
        "log": pt.exp,
        "logit": pt.sigmoid,
        "probit": lambda e: 0.5 * pt.erfc(-e / np.sqrt(2.0)),
        "cloglog": lambda e: -pt.expm1(-pt.exp(e)),
    }[link](eta)


def _weight_rv(name: str, prior: Prior, fan_in: int, dims: tuple[str, ...]):
    """A weight or bias with a zero-centred prior; hierarchical scales are ``tau_{name}``."""
    if prior.dist == "normal":
        return pm.Normal(name, 0.0, prior["sigma"], dims=dims)
    if prior.dist == "normal_fanin":
        return pm.Normal(name, 0.0, prior["sigma"] / np.sqrt(fan_in), dims=dims)
    if prior.dist == "hierarchical":
        tau = pm.HalfNormal(f"tau_{name}", prior["scale"])
        return pm.Normal(name, 0.0, tau, dims=dims)
    if prior.dist == "laplace":
        return pm.Laplace(name, 0.0, prior["b"], dims=dims)
    if prior.dist == "student_t":
        return pm.StudentT(name, nu=prior["nu"], mu=0.0, sigma=prior["sigma"], dims=dims)
    raise AssertionError(prior.dist)  # spec validation rules this out


def _positive_rv(name: str, prior: Prior):
    if prior.dist == "fixed":
        return pt.constant(prior["value"])
    if prior.dist == "halfnormal":
        return pm.HalfNormal(name, prior["sigma"])
    if prior.dist == "exponential":
        return pm.Exponential(name, prior["lam"])
    if prior.dist == "gamma":
        return pm.Gamma(name, alpha=prior["alpha"], beta=prior["beta"])
    if prior.dist == "halfstudent_t":
        return pm.HalfStudentT(name, nu=prior["nu"], sigma=prior["sigma"])
    raise AssertionError(prior.dist)


def _likelihood(spec: Spec, eta, y, trials) -> None:
    fam, link = spec.family, spec.link
    if fam == "gaussian":
        sigma = _positive_rv("sigma", spec.noise)
        pm.Normal("y", _inverse_link(link, eta), sigma, observed=y, dims="obs")
    elif fam == "student_t":
        sigma = _positive_rv("sigma", spec.noise)
        nu = _positive_rv("nu", spec.nu)
        pm.StudentT("y", nu=nu, mu=_inverse_link(link, eta), sigma=sigma, observed=y, dims="obs")
    elif fam == "bernoulli" and link == "logit":
        pm.Bernoulli("y", logit_p=eta, observed=y, dims="obs")
    elif fam == "bernoulli":
        pm.Bernoulli("y", p=_inverse_link(link, eta), observed=y, dims="obs")
    elif fam == "binomial" and link == "logit":
        pm.Binomial("y", n=trials, logit_p=eta, observed=y, dims="obs")
    elif fam == "binomial":
        pm.Binomial("y", n=trials, p=_inverse_link(link, eta), observed=y, dims="obs")
    elif fam == "poisson":
        pm.Poisson("y", mu=_inverse_link(link, eta), observed=y, dims="obs")
    elif fam == "negative_binomial":
        alpha = _positive_rv("alpha", spec.dispersion)
        pm.NegativeBinomial("y", mu=_inverse_link(link, eta), alpha=alpha, observed=y, dims="obs")
    else:  # pragma: no cover - FAMILIES and this function change together
        raise AssertionError(fam)


def build_model(
    spec: Spec,
    X,
    y,
    *,
    trials=None,
    feature_names=None,
    store_eta: bool = False,
) -> pm.Model:
    """Build the PyMC model of ``spec`` on data ``(X, y)``.

    Parameters
    ----------
    spec : Spec
        The architecture, family, link and priors.
    X : array-like (N, D) or DataFrame
        Features; held in ``pm.Data("X")`` so that predictions on new X work.
    y : array-like (N,)
        Response, checked against the family's support.
    trials : int or array-like, optional
        Binomial trials (default: ``spec.trials`` when it is an integer).
    feature_names : sequence of str, optional
        Coords of the ``feature`` dim (default: DataFrame columns or ``x0, x1, ...``).
    store_eta : bool
        Add the output layer's linear predictor as ``pm.Deterministic("eta")``.

    Returns
    -------
    pm.Model
        Named dims ``obs``, ``feature``, ``hidden1``..; weights ``W{l}``, ``b{l}``.
    """
    from bayesstack.data import validate

    if feature_names is None:
        feature_names = [str(c) for c in getattr(X, "columns", [])] or None
    if trials is None and isinstance(spec.trials, int):
        trials = spec.trials
    X, y = validate(X, y, spec.family, trials=trials)
    n, d = X.shape
    if feature_names is None:
        feature_names = [f"x{i}" for i in range(d)]
    coords = {"obs": np.arange(n), "feature": list(feature_names)}
    coords.update({hidden_dim(i): np.arange(lay.units) for i, lay in enumerate(spec.layers, 1)})
    sizes = layer_sizes(spec, d)
    with pm.Model(coords=coords) as model:
        Xd = pm.Data("X", X, dims=("obs", "feature"))
        yd = pm.Data("y_data", y, dims="obs")
        td = None
        if spec.family == "binomial":
            td = pm.Data(
                "trials", np.broadcast_to(np.asarray(trials, dtype="int64"), (n,)), dims="obs"
            )
        params = {}
        for name, dims in param_dims(spec).items():
            l = int(name[1:])
            prior = spec.weight_prior(l) if name[0] == "W" else spec.bias_prior(l)
            params[name] = _weight_rv(name, prior, sizes[l - 1], dims)
        eta = forward(spec, params, Xd, xp="pytensor")
        if store_eta:
            eta = pm.Deterministic("eta", eta, dims="obs")
        _likelihood(spec, eta, yd, td)
    model.bayesstack_spec = spec  # read by fit() and the geometry code
    return model
