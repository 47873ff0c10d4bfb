"""Predictions on new data from a fitted run, for every family.

The new data go through the run's recorded preprocessing (formula, standardisation); η comes
from :func:`bayesstack.model.network.forward` on the stored draws, μ from the link's row of
the registry and response draws from the family's ``simulate`` row: the same rows the builder
and the teacher data use. Results are DataTrees laid out as PyMC's
``sample_posterior_predictive(predictions=True)``.

When a run has a ``chain_weights`` group (a variable ``stacking`` over ``chain`` summing to 1),
predictions weight each chain by it unless ``weights="equal"``; each draw then carries its
chain's weight divided by the number of draws.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from bayesstack.errors import BayesstackError
from bayesstack.inference.io import spec_of
from bayesstack.inference.runs import preprocessing_of
from bayesstack.model.network import forward, weight_names
from bayesstack.registry import FAMILIES, LINKS
from bayesstack.spec import Spec

__all__ = ["SUMMARY_COLUMNS", "chain_weights", "predict", "predict_summary", "write_summary"]

KINDS = ("mean", "response")
WEIGHTS = ("stacking", "equal")
#: Columns of :func:`predict_summary` (the CLI writes them after ``obs``).
SUMMARY_COLUMNS = ("mean", "sd", "lower", "upper")


def _noise_draws(spec: Spec, post: xr.Dataset) -> dict[str, np.ndarray]:
    """Each noise parameter as ``(chain, draw, 1)`` draws (a fixed prior's value broadcast)."""
    out = {}
    for name, field in FAMILIES[spec.family].noise:
        if name in post:
            out[name] = post[name].values[..., None]
        else:  # dist = "fixed": a known constant, not sampled
            out[name] = np.asarray(getattr(spec, field)["value"], dtype=float)
    return out


#: Elements of one layer's activations held at once (draws × N × units): draws are computed in
#: blocks of this size, so that memory does not grow with draws × N (2 × 1000 draws of a [20]
#: stack at N = 5000 would hold 1.6 GB per activation array at once).
BLOCK_ELEMENTS = 2**22


def draw_outcomes(
    spec: Spec,
    post: xr.Dataset,
    X: np.ndarray,
    *,
    kind: str,
    trials: np.ndarray | None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """``(chain, draw, N)`` draws of E[y | x] (``kind="mean"``) or of y (``"response"``).

    For a family whose noise is an output of the stack (``gaussian_location_scale``) each
    observation's response draws use its own σ = exp(η_σ) at that draw. Draws are computed
    chain by chain in blocks of draws (:data:`BLOCK_ELEMENTS`), in order, so a family that
    draws y with one generator call gets the same values as one call over all draws.
    """
    params = {k: post[k].values for k in weight_names(spec)}
    noise = _noise_draws(spec, post)
    n_chain, n_draw, n_obs = post.sizes["chain"], post.sizes["draw"], np.shape(X)[0]
    widest = max([layer.units for layer in spec.layers] + [len(spec.outputs)])
    step = max(1, BLOCK_ELEMENTS // max(1, n_obs * widest))
    out = np.empty((n_chain, n_draw, n_obs))
    for c in range(n_chain):
        for start in range(0, n_draw, step):
            block = (slice(c, c + 1), slice(start, start + step))
            out[block] = _draw_block(
                spec,
                {k: v[block] for k, v in params.items()},
                {k: v[block] if np.ndim(v) == 3 else v for k, v in noise.items()},
                X,
                kind=kind,
                trials=trials,
                rng=rng,
            )
    return out


def _draw_block(spec: Spec, params, noise, X, *, kind, trials, rng) -> np.ndarray:
    eta = forward(spec, params, X)
    family = FAMILIES[spec.family]
    mu, heads = family.mean_and_noise(eta, LINKS[spec.link])
    if kind == "mean":
        return mu * trials if family.support.needs_trials else mu
    return np.asarray(family.simulate(rng, mu, trials, **noise, **heads), dtype=np.float64)


def chain_weights(run: xr.DataTree, weights: str = "stacking") -> tuple[np.ndarray, str]:
    """Per-chain weights (summing to 1) and which they are: ``"stacking"`` or ``"equal"``."""
    if weights not in WEIGHTS:
        raise BayesstackError(f"weights: use one of {', '.join(WEIGHTS)}, not {weights!r}")
    n_chains = run["posterior"].sizes["chain"]
    group = run.children.get("chain_weights")
    if weights == "equal" or group is None or "stacking" not in group:
        return np.full(n_chains, 1.0 / n_chains), "equal"
    w = np.asarray(group["stacking"].values, dtype=float)
    if w.shape != (n_chains,) or not np.isfinite(w).all() or (w < 0).any():
        raise BayesstackError(
            f"run: chain_weights/stacking must be {n_chains} non-negative numbers, got {w!r}"
        )
    if abs(w.sum() - 1.0) > 1e-6:
        raise BayesstackError(f"run: chain_weights/stacking sums to {w.sum():.6g}, not 1")
    return w, "stacking"


def predict(
    run: xr.DataTree,
    X_new: Any,
    *,
    kind: Literal["mean", "response"] = "mean",
    interval: float = 0.9,
    weights: Literal["stacking", "equal"] = "stacking",
    seed: int | None = None,
    trials: Any = None,
) -> xr.DataTree:
    """Predict at new data from a fitted run.

    Parameters
    ----------
    run : xarray.DataTree
        A run written by :func:`bayesstack.fit` (it records its preprocessing).
    X_new : pandas.DataFrame or array-like (M, D)
        Raw new data, as the training data were before preprocessing. A DataFrame is matched
        by column name (in any order; the target and trials columns may be present); missing
        or unknown columns, missing values and non-numeric features are one-line errors. An
        array must hold the features in the training order.
    kind : {"mean", "response"}
        ``"mean"``: draws of E[y | x] (probabilities for Bernoulli, expected counts for
        Poisson and negative binomial, expected successes ``trials * p`` for binomial) as
        ``mu``; ``"response"``: posterior predictive draws of y as ``y``.
    interval : float
        Probability of the equal-tailed interval that :func:`predict_summary` reports.
    weights : {"stacking", "equal"}
        Chain weights: the run's ``chain_weights/stacking`` when it has them (otherwise equal
        weights), or equal weights.
    seed : int, optional
        Seed of the response draws.
    trials : int or array-like, optional
        Binomial trials of the new rows (default: the run's trials column in ``X_new``, or its
        constant count).

    Returns
    -------
    xarray.DataTree
        ``predictions`` (``mu`` or ``y``, dims ``chain, draw, obs``),
        ``predictions_constant_data`` (``X``: the new rows on the model's scale, and
        ``trials``) and ``chain_weights`` (``weight`` over ``chain``). Root attrs: ``kind``,
        ``interval``, ``weights`` (``"stacking"`` or ``"equal"``), ``weights_note``.
    """
    if kind not in KINDS:
        raise BayesstackError(f"kind: use one of {', '.join(KINDS)}, not {kind!r}")
    if not (isinstance(interval, float | int) and 0 < interval < 1):
        raise BayesstackError(f"interval: must be a probability in (0, 1), got {interval!r}")
    if seed is not None and (not isinstance(seed, int | np.integer) or seed < 0):
        raise BayesstackError(f"seed: must be a non-negative integer, got {seed!r}")
    from bayesstack.data.dataset import validate_trials

    prep = preprocessing_of(run)
    spec = spec_of(run)
    X = prep.design(X_new)
    family = FAMILIES[spec.family]
    tr = None
    if family.support.needs_trials:
        tr = validate_trials(prep.trials_of(X_new, trials), X.shape[0])
    elif trials is not None:
        raise BayesstackError(f"trials: only binomial runs take trials, not {spec.family!r}")
    w, used = chain_weights(run, weights)
    post = run["posterior"].to_dataset()
    vals = draw_outcomes(spec, post, X, kind=kind, trials=tr, rng=np.random.default_rng(seed))
    name = "mu" if kind == "mean" else "y"
    obs = np.arange(X.shape[0])
    coords = {"chain": post["chain"].values, "draw": post["draw"].values, "obs": obs}
    pred = xr.Dataset({name: (("chain", "draw", "obs"), vals)}, coords=coords)
    const = {"X": (("obs", "feature"), X)}
    if tr is not None:
        const["trials"] = ("obs", tr)
    note = (
        "chains weighted by the run's stacking weights"
        if used == "stacking"
        else "chains weighted equally"
    )
    tree = xr.DataTree.from_dict(
        {
            "predictions": pred,
            "predictions_constant_data": xr.Dataset(
                const, coords={"obs": obs, "feature": list(prep.features)}
            ),
            "chain_weights": xr.Dataset(
                {"weight": ("chain", w)}, coords={"chain": post["chain"].values}
            ),
        }
    )
    tree.attrs.update(
        {"kind": kind, "interval": float(interval), "weights": used, "weights_note": note}
    )
    return tree


def _weighted_quantiles(v: np.ndarray, w: np.ndarray, qs: tuple[float, ...]) -> np.ndarray:
    """Quantiles of each column of ``v`` ``(S, M)`` under draw weights ``w`` ``(S,)``.

    NumPy's default (linear) definition, generalised to weights: the ``i``-th smallest draw
    sits at probability ``(weight below it) / (total weight below the largest)``, so equal
    weights give exactly ``np.quantile``, and draws of weight 0 are left out.
    """
    keep = w > 0
    v, w = v[keep], w[keep] / w[keep].sum()
    if np.allclose(w, w[0], rtol=1e-12, atol=0):
        return np.quantile(v, qs, axis=0)
    order = np.argsort(v, axis=0)
    vs = np.take_along_axis(v, order, axis=0)
    ws = w[order]
    below = np.cumsum(ws, axis=0) - ws
    pos = below / below[-1]
    return np.array([[np.interp(q, pos[:, j], vs[:, j]) for j in range(v.shape[1])] for q in qs])


def predict_summary(pred: xr.DataTree, interval: float | None = None) -> pd.DataFrame:
    """One row per new observation: ``mean``, ``sd``, ``lower``, ``upper`` (equal-tailed).

    Parameters
    ----------
    pred : xarray.DataTree
        The result of :func:`predict`.
    interval : float, optional
        Interval probability; default: the one given to :func:`predict`.

    Returns
    -------
    pandas.DataFrame
        Index ``obs`` (the row of the new data, 0-based). Every draw is weighted by its
        chain's weight divided by the number of draws.
    """
    interval = float(pred.attrs.get("interval", 0.9)) if interval is None else interval
    if not 0 < interval < 1:
        raise BayesstackError(f"interval: must be a probability in (0, 1), got {interval!r}")
    ds = pred["predictions"].to_dataset()
    (name,) = list(ds.data_vars)
    da = ds[name]
    n_chains, n_draws = da.sizes["chain"], da.sizes["draw"]
    v = da.transpose("chain", "draw", "obs").values.reshape(n_chains * n_draws, -1)
    wc = pred["chain_weights"]["weight"].values
    w = np.repeat(wc / n_draws, n_draws)
    mean = w @ v
    sd = np.sqrt(np.maximum(w @ (v - mean) ** 2, 0.0))
    a = (1 - interval) / 2
    lower, upper = _weighted_quantiles(v, w, (a, 1 - a))
    out = pd.DataFrame({"mean": mean, "sd": sd, "lower": lower, "upper": upper})
    out.index = pd.Index(da["obs"].values, name="obs")
    return out


def _is_prediction_file(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8") as f:
            first = f.readline().strip()
    except (OSError, UnicodeDecodeError):
        return False
    return first == ",".join(("obs", *SUMMARY_COLUMNS))


def check_summary_path(path: str | Path, field: str = "--out") -> Path:
    """Fail early unless ``path`` can take a prediction CSV: absent, or a previous prediction."""
    from bayesstack.inference.io import check_output_path

    return check_output_path(path, field, ours=_is_prediction_file)


def write_summary(summary: pd.DataFrame, path: str | Path, field: str = "--out") -> Path:
    """Write :func:`predict_summary` as CSV (``obs`` first), atomically; never over other files."""
    from bayesstack.inference.io import write_output

    path = check_summary_path(path, field)
    text = summary.loc[:, list(SUMMARY_COLUMNS)].to_csv(index=True, index_label="obs")
    return write_output(path, text.encode(), field, ours=_is_prediction_file)
