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
        ``az.summary`` columns plus ``flag`` ("R-hat", "ESS" or both, empty when fine).
    divergences : int
        Divergent transitions over all chains.
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
    divergences_all : int
        Divergent transitions over every chain, excluded ones included.
    """

    table: pd.DataFrame
    divergences: int
    chains: int
    draws: int
    rhat_max: float
    ess_min: float
    weights: str = "equal"
    excluded_chains: tuple[int, ...] = ()
    chain_weights: tuple[float, ...] | None = None
    divergences_all: int = 0

    @property
    def n_flagged(self) -> int:
        """Number of flagged parameters."""
        return int((self.table["flag"] != "").sum())

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
    table = az.summary(run, var_names=var_names, group=group, round_to="none")
    chains, draws = run[group].sizes["chain"], run[group].sizes["draw"]
    ess_min = ess_per_chain * chains
    bad_rhat = table["r_hat"] > rhat_max
    bad_ess = (table["ess_bulk"] < ess_min) | (table["ess_tail"] < ess_min)
    flag = [
        ", ".join(f for f, bad in (("R-hat", r), ("ESS", e)) if bad)
        for r, e in zip(bad_rhat, bad_ess, strict=True)
    ]
    table = table.assign(flag=flag)
    div = _divergences(run)
    used = "stacking" if weights == "stacking" and cw is not None else "equal"
    return RunSummary(table, div, chains, draws, rhat_max, ess_min, used, excluded, cw, div_all)


def _divergences(run: xr.DataTree) -> int:
    """Divergent transitions (0 when the run has no ``sample_stats.diverging``)."""
    if "sample_stats" not in run.children or "diverging" not in run["sample_stats"]:
        return 0
    return int(run["sample_stats"]["diverging"].sum())
