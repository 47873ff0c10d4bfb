"""Build the PyMC model of a stacked GLM: the only place that creates random variables."""

from __future__ import annotations

import numpy as np
import pymc as pm

from bayesstack.model.network import forward, hidden_dim, layer_sizes, param_dims
from bayesstack.registry import FAMILIES, LINKS, PRIORS
from bayesstack.spec import Spec


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
    from bayesstack.data.dataset import validate

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
    family = FAMILIES[spec.family]
    with pm.Model(coords=coords) as model:
        Xd = pm.Data("X", X, dims=("obs", "feature"))
        yd = pm.Data("y_data", y, dims="obs")
        td = None
        if family.support.needs_trials:
            td = pm.Data(
                "trials", np.broadcast_to(np.asarray(trials, dtype="int64"), (n,)), dims="obs"
            )
        params = {}
        for name, dims in param_dims(spec).items():
            l = int(name[1:])
            prior = spec.weight_prior(l) if name[0] == "W" else spec.bias_prior(l)
            make = PRIORS[prior.dist].make
            params[name] = make(name, dict(prior.params), fan_in=sizes[l - 1], dims=dims)
        eta = forward(spec, params, Xd, xp="pytensor")
        if store_eta:
            eta = pm.Deterministic("eta", eta, dims="obs")
        noise = {}
        for name, field in family.noise:
            prior = getattr(spec, field)
            noise[name] = PRIORS[prior.dist].make(name, dict(prior.params))
        family.likelihood(eta, yd, link=LINKS[spec.link], noise=noise, trials=td)
    model.bayesstack_spec = spec  # read by fit() and the geometry code
    return model
