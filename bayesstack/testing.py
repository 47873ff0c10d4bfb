"""Runs built from arrays of draws, without MCMC: for tests, benchmarks and worked examples.

:func:`run_from_draws` packs draws into a ``DataTree`` laid out as :func:`bayesstack.fit`
writes it, so that every geometry function runs on it unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import xarray as xr

from bayesstack.inference.io import SPEC_ATTR
from bayesstack.model.network import hidden_dim, param_dims, weight_names
from bayesstack.spec import Spec


def run_from_draws(
    spec: Spec,
    X: np.ndarray,
    y: np.ndarray,
    draws: Mapping[str, np.ndarray],
    *,
    logp: np.ndarray | Literal["model"] | None = None,
    log_likelihood: bool = True,
    feature_names: Sequence[str] | None = None,
) -> xr.DataTree:
    """A run (``DataTree``) holding the given posterior draws.

    Parameters
    ----------
    spec : Spec
        The model spec.
    X : array (N, D)
        Inputs.
    y : array (N,)
        Response.
    draws : mapping
        ``W*``/``b*`` and nuisance draws (``sigma``, ...), each with leading ``(chain, draw)``.
    logp : array (chain, draw) or "model", optional
        Log density of every draw, stored as ``sample_stats["logp"]``; ``"model"`` computes
        it with the model (unconstrained density with the Jacobian, as the samplers report).
    log_likelihood : bool
        Compute the ``log_likelihood`` group with PyMC (as ``fit`` does).
    feature_names : sequence of str, optional
        Names of the columns of ``X`` (default ``x1, x2, ...``).

    Returns
    -------
    xarray.DataTree
        Groups ``posterior``, ``constant_data``, ``observed_data``, optionally
        ``log_likelihood`` and ``sample_stats``; attrs ``bayesstack_spec`` and
        ``feature_names``.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    n, d = X.shape
    names = list(feature_names or [f"x{i + 1}" for i in range(d)])
    coords = {"feature": names}
    coords.update({hidden_dim(i): np.arange(h.units) for i, h in enumerate(spec.layers, 1)})
    dims = param_dims(spec)
    first = np.asarray(draws[weight_names(spec)[0]])
    n_chains, n_draws = first.shape[:2]
    base = {"chain": np.arange(n_chains), "draw": np.arange(n_draws)}
    post = xr.Dataset(
        {
            k: (("chain", "draw", *dims.get(k, ())), np.asarray(v, dtype=float))
            for k, v in draws.items()
        },
        coords={**base, **coords},
    )
    tree = {
        "posterior": post,
        "constant_data": xr.Dataset(
            {"X": (("obs", "feature"), X)}, coords={"obs": np.arange(n), "feature": names}
        ),
        "observed_data": xr.Dataset({"y": ("obs", y)}, coords={"obs": np.arange(n)}),
    }
    model = None
    if log_likelihood or isinstance(logp, str):
        from bayesstack.model.builder import build_model

        model = build_model(spec, X, y, feature_names=names)
    if isinstance(logp, str):
        logp = model_logp(model, draws)
    if logp is not None:
        tree["sample_stats"] = xr.Dataset({"logp": (("chain", "draw"), np.asarray(logp))}, base)
    run = xr.DataTree.from_dict(tree)
    run.attrs.update({SPEC_ATTR: spec.to_json(), "feature_names": json.dumps(names)})
    if log_likelihood:
        import pymc as pm

        pm.compute_log_likelihood(run, model=model, progressbar=False)
    return run


def model_logp(model, draws: Mapping[str, np.ndarray]) -> np.ndarray:
    """The model's log density (with the Jacobian) at every draw: ``(chain, draw)``.

    Parameters
    ----------
    model : pymc.Model
        The model.
    draws : mapping
        Constrained draws of every free random variable, with leading ``(chain, draw)``.
    """
    import pytensor.tensor as pt

    fn = model.compile_logp()
    values = {}
    for rv in model.free_RVs:
        v = np.asarray(draws[rv.name], dtype=float)
        tr = model.rvs_to_transforms.get(rv)
        name = model.rvs_to_values[rv].name
        values[name] = v if tr is None else tr.forward(pt.as_tensor(v), *rv.owner.inputs).eval()
    lead = np.shape(next(iter(values.values())))[:2]
    out = np.empty(lead)
    for idx in np.ndindex(*lead):
        out[idx] = fn({k: v[idx] for k, v in values.items()})
    return out


def ar1(rng: np.random.Generator, shape: Sequence[int], rho: float = 0.5) -> np.ndarray:
    """AR(1) noise along axis 1 (draws) with unit marginal sd, like autocorrelated MCMC draws."""
    e = rng.normal(size=shape)
    x = np.empty(shape)
    x[:, 0] = e[:, 0]
    for t in range(1, shape[1]):
        x[:, t] = rho * x[:, t - 1] + np.sqrt(1 - rho**2) * e[:, t]
    return x


def draws_around(
    rng: np.random.Generator,
    point: Mapping[str, np.ndarray],
    chains: int,
    draws: int,
    sd: float = 0.05,
) -> dict[str, np.ndarray]:
    """``(chains, draws, ...)`` draws of one mode: ``point`` plus AR(1) noise of sd ``sd``."""
    return {k: v + sd * ar1(rng, (chains, draws, *np.shape(v))) for k, v in point.items()}


def mode_run(
    spec: Spec,
    X: np.ndarray,
    y: np.ndarray,
    starts: Sequence[np.ndarray],
    chain_start: Sequence[int],
    draws: int,
    *,
    tune: int = 200,
    seed: int = 0,
    images: bool = True,
) -> tuple[xr.DataTree, np.ndarray]:
    """A run whose chains are NUTS chains started at chosen optima of the real posterior.

    Each start (a flat unconstrained vector in the layout of
    :class:`bayesstack.geometry.density.Density`) is maximised on the model's density; chain
    ``c`` then runs NUTS (``bayesstack.inference.jaxnuts``: ``tune`` + ``draws`` iterations, target
    acceptance 0.9) from the optimum of ``starts[chain_start[c]]``. With ``images`` each
    chain's draws are moved by a random posterior group element (chains sit in different
    images, as dispersed chains do). For tests: chains planted in known modes.

    Returns
    -------
    run : xarray.DataTree
        As :func:`run_from_draws`, with the model's log density of every draw.
    logp_optima : array (len(starts),)
        The log density at each start's optimum.
    """
    from bayesstack.geometry.density import Density
    from bayesstack.geometry.optimize import _maximize
    from bayesstack.geometry.symmetry import apply, random_element
    from bayesstack.inference.jaxnuts import chain_program, data_arrays, run_chain
    from bayesstack.model.builder import build_model

    model = build_model(spec, X, y)
    dens = Density(model, spec)
    optima, lps = [], []
    for x0 in starts:
        x, _ = _maximize(dens, dens.hessian, np.asarray(x0, dtype=float), 500, 100, 1e-6)
        optima.append(x)
        lps.append(dens(x)[0])
    key = ("mode_run", spec.hash, X.shape, "float64")
    prog, _ = chain_program(model, key, tune=tune, draws=draws, target_accept=0.9)
    data = data_arrays(model, prog.data_names)
    rng = np.random.default_rng(seed)
    rv_names = [rv.name for rv in model.free_RVs]
    out: dict[str, list] = {}
    for c, k in enumerate(chain_start):
        res, _, _ = run_chain(prog, int(seed) * 1000 + c, dens.split(optima[k]), data)
        params = {n: res[n] for n in rv_names}
        if images and spec.depth:
            params = apply(spec, params, random_element(spec, rng=rng))
        for n in rv_names:
            out.setdefault(n, []).append(np.asarray(params[n]))
    arrays = {n: np.stack(v) for n, v in out.items()}
    run = run_from_draws(spec, X, y, arrays, logp="model")
    return run, np.asarray(lps)
