"""Build the PyMC model of a stacked GLM: the only place that creates random variables."""

from __future__ import annotations

import numpy as np
import pymc as pm

from bayesstack.errors import BayesstackError
from bayesstack.model.network import (
    OUTPUT_DIM,
    forward,
    hidden_dim,
    layer_sizes,
    param_dims,
    vector_output,
)
from bayesstack.registry import FAMILIES, LINKS, PRIORS
from bayesstack.spec import Spec


def build_model(
    spec: Spec,
    X,
    y=None,
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
    X : array-like (N, D), DataFrame or :class:`bayesstack.data.Dataset`
        Features, used as they are; held in ``pm.Data("X")``. A ``Dataset`` brings its
        ``y``, trials and feature names (then ``y`` is omitted).
    y : array-like (N,)
        Response, checked against the family's support.
    trials : int or array-like, optional
        Binomial trials (default: ``spec.trials``: a count, or the name of a column of a
        DataFrame ``X``, which is then not a feature).
    feature_names : sequence of str, optional
        Coords of the ``feature`` dim (default: the dataset's or DataFrame's column names, or
        ``x1, x2, ...`` as in the built-in datasets).
    store_eta : bool
        Add the output layer's linear predictor as ``pm.Deterministic("eta")`` (dims ``obs``,
        or ``obs, output`` for a family with more than one output).

    Returns
    -------
    pm.Model
        Named dims ``obs``, ``feature``, ``hidden1``.. and, for a family with more than one
        output (``gaussian_location_scale``), ``output`` (coords ``mu, log_sigma``); weights
        ``W{l}``, ``b{l}``; the output layer's priors apply to every output's weights.
    """
    from bayesstack.data.dataset import Dataset, validate

    if isinstance(X, Dataset):
        if y is not None:
            raise BayesstackError("build_model: y comes with the Dataset; omit it")
        trials = X.trials if trials is None else trials
        feature_names = feature_names or list(X.feature_names)
        X, y = X.X, X.y
    if feature_names is None:
        feature_names = [str(c) for c in getattr(X, "columns", [])] or None
    needs = FAMILIES[spec.family].support.needs_trials if spec.family in FAMILIES else False
    if needs and trials is None and isinstance(spec.trials, int):
        trials = spec.trials
    if needs and trials is None and isinstance(spec.trials, str) and hasattr(X, "columns"):
        if spec.trials in X.columns:  # the spec's trials column is not a feature
            trials, X = X[spec.trials], X.drop(columns=[spec.trials])
            feature_names = [c for c in feature_names or [] if c != spec.trials] or None
    X, y = validate(X, y, spec.family, trials=trials)
    n, d = X.shape
    if feature_names is None:
        feature_names = [f"x{i + 1}" for i in range(d)]
    coords = {"obs": np.arange(n), "feature": list(feature_names)}
    coords.update({hidden_dim(i): np.arange(lay.units) for i, lay in enumerate(spec.layers, 1)})
    if not vector_output(spec):
        coords[OUTPUT_DIM] = list(spec.outputs)
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
            dims = "obs" if vector_output(spec) else ("obs", OUTPUT_DIM)
            eta = pm.Deterministic("eta", eta, dims=dims)
        noise = {}
        for name, field in family.noise:
            prior = getattr(spec, field)
            noise[name] = PRIORS[prior.dist].make(name, dict(prior.params))
        family.likelihood(eta, yd, link=LINKS[spec.link], noise=noise, trials=td)
    model.bayesstack_spec = spec  # read by fit() and the geometry code
    return model
