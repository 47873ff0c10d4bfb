"""The ArviZ summary of a run, with divergences, R-hat and ESS flagged.

When the run carries a ``chain_weights`` group (written by the geometry analysis:
``bayesstack geometry RUN --save-canonical OUT``, or the demo's runs), the default view is
over the chains that carry stacking weight (at least :data:`WEIGHT_MIN`): chains trapped in
local modes, which did not sample the posterior, are left out and named. ``weights="equal"``
keeps every chain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from bayesstack.errors import BayesstackError

#: Chains with a stacking weight below this are left out of the weighted view.
WEIGHT_MIN = 1e-3


@dataclass(frozen=True)
class RunSummary:
    """A run's summary table and the convergence flags that go with it.

    Attributes
    ----------
    table : pandas.DataFrame
        ``az.summary`` columns plus ``flag`` ("non-finite", "R-hat", "ESS", comma-separated;
        empty when fine). "non-finite": a NaN or infinite value in some draw.
    divergences : int or None
        Divergent transitions over the chains summarised; None when the run records none
        (no ``sample_stats.diverging``, e.g. a run of another sampler).
    chains, draws : int
        Shape of the posterior.
    rhat_max, ess_min : float
        The thresholds used.
    weights : str
        ``"stacking"`` (chains with stacking weight at least ``WEIGHT_MIN``) or ``"equal"``.
    excluded_chains : tuple of int
        Chains left out of the table (no stacking weight).
    chain_weights : tuple of float or None
        The run's stacking weights, when it has them.
    divergences_all : int or None
        Divergent transitions over every chain, excluded ones included (None as above).
    scale : str
        ``"fitted"`` (the parameters as sampled) or ``"raw"`` (a GLM's coefficients on the raw
        scale of its features, :func:`bayesstack.raw_coefficients`).
    """

    table: pd.DataFrame
    divergences: int | None
    chains: int
    draws: int
    rhat_max: float
    ess_min: float
    weights: str = "equal"
    excluded_chains: tuple[int, ...] = ()
    chain_weights: tuple[float, ...] | None = None
    divergences_all: int | None = 0
    scale: str = "fitted"

    @property
    def n_flagged(self) -> int:
        """Number of flagged parameters."""
        return int((self.table["flag"] != "").sum())

    @property
    def n_nonfinite(self) -> int:
        """Number of parameters with a NaN or infinite value in some draw."""
        return int(self.table["flag"].str.contains("non-finite").sum())

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "divergences": self.divergences,
            "divergences_all": self.divergences_all,
            "weights": self.weights,
            "excluded_chains": list(self.excluded_chains),
            "chain_weights": None if self.chain_weights is None else list(self.chain_weights),
            "chains": self.chains,
            "draws": self.draws,
            "n_flagged": self.n_flagged,
            "n_nonfinite": self.n_nonfinite,
            "scale": self.scale,
            "table": self.table.reset_index(names="parameter").to_dict(orient="records"),
        }


def summarize(
    run: xr.DataTree,
    *,
    var_names: list[str] | None = None,
    group: str = "posterior",
    rhat_max: float = 1.01,
    ess_per_chain: float = 100.0,
    weights: str = "stacking",
    scale: str = "fitted",
) -> RunSummary:
    """Summarise a run with ArviZ and flag what fails the usual thresholds.

    Parameters
    ----------
    run : xarray.DataTree
        A fitted run.
    var_names : list of str, optional
        Variables to show (default: all in ``group``).
    group : str
        ``"posterior"`` or ``"canonical_posterior"``.
    rhat_max : float
        Flag rank-normalised R-hat above this (Vehtari et al. 2021 recommend 1.01).
    ess_per_chain : float
        Flag bulk or tail ESS below this many per chain (100 per chain, i.e. 400 for 4 chains).
    weights : {"stacking", "equal"}
        ``"stacking"``: when the run has a ``chain_weights`` group, summarise only the chains
        with stacking weight at least ``WEIGHT_MIN`` (the others are named in
        ``excluded_chains``); without the group every chain is used. ``"equal"``: every chain.
    scale : {"fitted", "raw"}
        ``"raw"``: a GLM's coefficients on the raw scale of its features
        (:func:`bayesstack.raw_coefficients`; ``group`` must be ``"posterior"``). A stack has
        no raw scale (its weights act on hidden units): an error.

    Returns
    -------
    RunSummary
    """
    if not (math.isfinite(rhat_max) and rhat_max >= 1):
        raise BayesstackError(f"rhat_max: must be a number >= 1, got {rhat_max!r}")
    if not (math.isfinite(ess_per_chain) and ess_per_chain >= 0):
        raise BayesstackError(f"ess_per_chain: must be a number >= 0, got {ess_per_chain!r}")
    if weights not in ("stacking", "equal"):
        raise BayesstackError(f"weights: use stacking or equal, got {weights!r}")
    if scale not in ("fitted", "raw"):
        raise BayesstackError(f"--scale: use fitted or raw, got {scale!r}")
    if group not in run.children:
        raise BayesstackError(
            f"--group: the run has no group {group!r}; it has {', '.join(run.children)}"
        )
    if scale == "raw":
        run = _raw_scale(run, group)
    var_names = _check_var_names(run[group], var_names)
    cw = None
    if "chain_weights" in run.children and "stacking" in run["chain_weights"]:
        cw = tuple(float(w) for w in run["chain_weights"]["stacking"].values)
    excluded: tuple[int, ...] = ()
    div_all = _divergences(run)
    if weights == "stacking" and cw is not None:
        keep = [c for c, w in enumerate(cw) if w >= WEIGHT_MIN]
        excluded = tuple(c for c in range(len(cw)) if c not in keep)
        if excluded:
            run = run.isel(chain=keep)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):  # flagged below
        table = az.summary(run, var_names=var_names, group=group, round_to="none")
    chains, draws = run[group].sizes["chain"], run[group].sizes["draw"]
    ess_min = ess_per_chain * chains
    nonfinite = _nonfinite_rows(run[group].to_dataset(), var_names, table)
    bad_rhat = table["r_hat"] > rhat_max
    bad_ess = (table["ess_bulk"] < ess_min) | (table["ess_tail"] < ess_min)
    flag = [
        ", ".join(f for f, bad in (("non-finite", n), ("R-hat", r), ("ESS", e)) if bad)
        for n, r, e in zip(nonfinite, bad_rhat, bad_ess, strict=True)
    ]
    table = table.assign(flag=flag)
    div = _divergences(run)
    used = "stacking" if weights == "stacking" and cw is not None else "equal"
    return RunSummary(
        table, div, chains, draws, rhat_max, ess_min, used, excluded, cw, div_all, scale
    )


def _raw_scale(run: xr.DataTree, group: str) -> xr.DataTree:
    """``run`` with its posterior on the raw scale of the features (GLMs only)."""
    from bayesstack.inference.io import spec_of
    from bayesstack.inference.runs import raw_coefficients

    spec = spec_of(run)
    if spec.depth != 0:
        raise BayesstackError(
            f"--scale raw: {spec.name!r} is a stack ({spec.depth} hidden layer(s)); its weights "
            "act on hidden units and have no raw scale; only a GLM's coefficients do"
        )
    if group != "posterior":
        raise BayesstackError("--scale raw: only with --group posterior")
    groups = {k: run[k].to_dataset() for k in run.children}
    groups["posterior"] = raw_coefficients(run)["posterior"].to_dataset()
    return xr.DataTree.from_dict(groups)


def _check_var_names(ds: xr.DataTree, var_names) -> list[str] | None:
    """``var_names`` (a list, or a comma-separated string), checked against the group."""
    if var_names is None:
        return None
    if isinstance(var_names, str):
        var_names = [v.strip() for v in var_names.split(",") if v.strip()]
    valid = list(ds.data_vars)
    unknown = [v for v in var_names if v not in valid]
    if unknown or not var_names:
        raise BayesstackError(
            f"--var-names: unknown {', '.join(map(repr, unknown)) or 'empty list'}; "
            f"the run has {', '.join(valid)}"
        )
    return list(var_names)


def _nonfinite_rows(ds: xr.Dataset, var_names, table: pd.DataFrame) -> np.ndarray:
    """For each row of ``table``, whether that parameter has a NaN or infinite draw.

    ``az.summary`` lists each variable's elements in C order, the variables in order.
    """
    names = var_names or list(ds.data_vars)
    flat = [
        ~np.isfinite(ds[v].transpose("chain", "draw", ...).values)
        .reshape(ds.sizes["chain"], ds.sizes["draw"], -1)
        .all(axis=(0, 1))
        for v in names
    ]
    bad = np.concatenate(flat) if flat else np.zeros(0, bool)
    if bad.size != len(table):  # pragma: no cover - another row layout: judge by the moments
        return ~(np.isfinite(table["mean"].values) & np.isfinite(table["sd"].values))
    return bad


def _divergences(run: xr.DataTree) -> int | None:
    """Divergent transitions; None when the run has no ``sample_stats.diverging``."""
    if "sample_stats" not in run.children or "diverging" not in run["sample_stats"]:
        return None
    return int(run["sample_stats"]["diverging"].sum())
