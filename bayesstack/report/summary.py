"""The ArviZ summary of a run, with divergences, R-hat and ESS flagged."""

from __future__ import annotations

import math
from dataclasses import dataclass

import arviz as az
import pandas as pd
import xarray as xr

from bayesstack.errors import BayesstackError


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
    """

    table: pd.DataFrame
    divergences: int
    chains: int
    draws: int
    rhat_max: float
    ess_min: float

    @property
    def n_flagged(self) -> int:
        """Number of flagged parameters."""
        return int((self.table["flag"] != "").sum())

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "divergences": self.divergences,
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

    Returns
    -------
    RunSummary
    """
    if not (math.isfinite(rhat_max) and rhat_max >= 1):
        raise BayesstackError(f"rhat_max: must be a number >= 1, got {rhat_max!r}")
    if not (math.isfinite(ess_per_chain) and ess_per_chain >= 0):
        raise BayesstackError(f"ess_per_chain: must be a number >= 0, got {ess_per_chain!r}")
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
    div = int(run["sample_stats"]["diverging"].sum()) if "sample_stats" in run else 0
    return RunSummary(table, div, chains, draws, rhat_max, ess_min)
