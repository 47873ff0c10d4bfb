"""R-hat in weight space and in function space.

Symmetric multimodality shows as a weight-space R-hat far above 1 (chains sit in different
images of one mode) while R-hat on what the model *says* stays near 1: the linear predictor
η at the observed points (:func:`bayesstack.model.network.forward`) and the pointwise
log-likelihood.
Canonicalising the weights removes the symmetric part, so canonical R-hat should then be
near 1 too.

All R-hats are ArviZ's rank-normalised split R-hat (``arviz.rhat`` on ``(chain, draw, K)``
arrays), maximised over the ``K`` scalars (weights, or observations).

Thinning
--------
ArviZ ranks every scalar separately, so the cost grows with the number of scalars and the
draws per chain. A block of ``chains * draws * K`` cells above ``max_cells`` (default
:data:`MAX_CELLS` = 1e6) uses every ``step``-th draw, with ``step`` the smallest that fits but
never fewer than ``min(draws, 100)`` draws per chain; R-hat on thinned draws is still R-hat.
The function-space maxima run over at most :data:`MAX_OBS` = 250 observations, evenly spaced
(all of them for smaller data sets). The draws and observations used are reported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import arviz as az
import numpy as np

from bayesstack.model.network import forward, mean_eta
from bayesstack.spec import Spec

#: Largest block (chains x draws x scalars) ranked without thinning.
MAX_CELLS = 1e6
#: Fewest draws per chain kept by thinning.
MIN_DRAWS = 100
#: Most observations in the function-space maxima.
MAX_OBS = 250
#: Hidden activations (draws x observations x units) computed at once by :func:`eta_draws`.
ETA_BLOCK = 250_000


@dataclass(frozen=True)
class RhatSummary:
    """Largest R-hats of the weights (raw, canonical) and of function-space quantities.

    Attributes
    ----------
    raw, canonical : float
        Max R-hat over the weights ``W*``/``b*`` of the posterior and the canonical posterior
        (NaN when there is no canonical posterior).
    eta, loglik : float
        Max R-hat over observations of η and of the pointwise log-likelihood (NaN if absent).
    nuisance : float or None
        Max R-hat over the other parameters (``sigma``, ``tau_*``, ...), None if there are none.
    per_weight_raw, per_weight_canonical : dict of str to float
        Max R-hat per weight array.
    draws_weights, draws_function : int
        Draws per chain that the weight and the function-space R-hats used.
    obs_function : int
        Observations that the function-space R-hats used.
    """

    raw: float
    canonical: float
    eta: float
    loglik: float
    nuisance: float | None
    per_weight_raw: dict[str, float]
    per_weight_canonical: dict[str, float]
    draws_weights: int
    draws_function: int
    obs_function: int

    @property
    def function(self) -> float:
        """Max over η and the log-likelihood (NaN-aware)."""
        vals = [v for v in (self.eta, self.loglik) if np.isfinite(v)]
        return max(vals) if vals else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-serialisable)."""
        return {
            "rhat_max_raw": self.raw,
            "rhat_max_canonical": self.canonical,
            "rhat_max_function": self.function,
            "rhat_max_eta": self.eta,
            "rhat_max_loglik": self.loglik,
            "rhat_max_nuisance": self.nuisance,
            "rhat_per_weight_raw": dict(self.per_weight_raw),
            "rhat_per_weight_canonical": dict(self.per_weight_canonical),
            "rhat_draws_weights": self.draws_weights,
            "rhat_draws_function": self.draws_function,
            "rhat_obs_function": self.obs_function,
        }


def thin_step(n_chains: int, n_draws: int, n_cols: int, *, max_cells: float = MAX_CELLS) -> int:
    """Smallest draw step that keeps ``chains x draws x cols`` within ``max_cells``."""
    step = int(np.ceil(n_chains * n_draws * max(1, n_cols) / max_cells))
    return max(1, min(step, n_draws // min(n_draws, MIN_DRAWS)))


def rhat_max(x: np.ndarray) -> float:
    """Max R-hat over the trailing scalars of ``x (chain, draw, ...)``; constant ones ignored."""
    x = np.asarray(x, dtype=float)
    x = x.reshape(*x.shape[:2], -1)
    if x.shape[-1] == 0:
        return float("nan")
    moving = np.ptp(x, axis=(0, 1)) > 0
    if not moving.any():
        return float("nan")
    r = np.asarray(az.rhat(x[..., moving]), dtype=float)
    return float(np.nanmax(r)) if np.isfinite(r).any() else float("nan")


def rhat_per_array(
    arrays: Mapping[str, np.ndarray], *, max_cells: float = MAX_CELLS
) -> tuple[dict[str, float], int]:
    """Max R-hat per array of ``(chain, draw, ...)`` draws, ranked in one block.

    Returns the per-array maxima and the draws per chain used.
    """
    names = list(arrays)
    flat = [np.asarray(arrays[n], dtype=float) for n in names]
    flat = [a.reshape(*a.shape[:2], -1) for a in flat]
    n_chains, n_draws = flat[0].shape[:2]
    sizes = [a.shape[-1] for a in flat]
    step = thin_step(n_chains, n_draws, sum(sizes), max_cells=max_cells)
    block = np.concatenate([a[:, ::step] for a in flat], axis=-1)
    moving = np.ptp(block, axis=(0, 1)) > 0
    r = np.full(block.shape[-1], np.nan)
    if moving.any():
        r[moving] = np.asarray(az.rhat(block[..., moving]), dtype=float)
    out, start = {}, 0
    for n, size in zip(names, sizes, strict=True):
        part = r[start : start + size]
        out[n] = float(np.nanmax(part)) if np.isfinite(part).any() else float("nan")
        start += size
    return out, int(block.shape[1])


def function_obs(n_obs: int, max_obs: int = MAX_OBS) -> np.ndarray:
    """Indices of the observations used in function space: all, or ``max_obs`` evenly spaced."""
    return np.unique(np.linspace(0, n_obs - 1, min(n_obs, max_obs)).round().astype(int))


def eta_draws(
    spec: Spec, params: Mapping[str, np.ndarray], X: np.ndarray, *, step: int = 1
) -> np.ndarray:
    """η at ``X`` for every ``step``-th draw: ``(chain, draw', N)``.

    For a family with several outputs this is μ's linear predictor (``network.mean_eta``).

    Computed a block of draws at a time: the hidden activations of all draws at once would be
    large fresh arrays, and touching their memory the first time costs more than the arithmetic.
    """
    thinned = {k: np.asarray(v)[:, ::step] for k, v in params.items()}
    X = np.asarray(X, dtype=float)
    n_chains, n_draws = next(iter(thinned.values())).shape[:2]
    out = np.empty((n_chains, n_draws, X.shape[0]))
    width = max((layer.units for layer in spec.layers), default=1)
    block = max(1, ETA_BLOCK // max(1, X.shape[0] * width))
    for c in range(n_chains):
        for s in range(0, n_draws, block):
            part = {k: v[c, s : s + block] for k, v in thinned.items()}
            out[c, s : s + block] = mean_eta(spec, forward(spec, part, X))
    return out


def _max_or_nan(values: Sequence[float]) -> float:
    vals = [v for v in values if np.isfinite(v)]
    return max(vals) if vals else float("nan")


def rhat_summary(
    spec: Spec,
    weights: Mapping[str, np.ndarray],
    X: np.ndarray,
    *,
    canonical: Mapping[str, np.ndarray] | None = None,
    loglik: np.ndarray | None = None,
    nuisance: Mapping[str, np.ndarray] | None = None,
    eta: np.ndarray | None = None,
    max_cells: float = MAX_CELLS,
) -> RhatSummary:
    """Weight-space and function-space R-hats of one run.

    Parameters
    ----------
    spec : Spec
        The architecture.
    weights : mapping
        Raw ``W*``/``b*`` draws with leading ``(chain, draw)``.
    X : array (N, D)
        Observed inputs.
    canonical : mapping, optional
        Canonical ``W*``/``b*`` draws.
    loglik : array (chain, draw, N), optional
        Pointwise log-likelihood.
    nuisance : mapping, optional
        Other parameters' draws (``sigma``, ``tau_*``, ...).
    eta : array (chain, draw', n), optional
        η draws when already computed: every ``thin_step(chains, draws, n)``-th draw at the
        observations :func:`function_obs` picks.
    max_cells : float
        Thinning budget (see the module docstring).

    Returns
    -------
    RhatSummary
    """
    raw, d_w = rhat_per_array(weights, max_cells=max_cells)
    can: dict[str, float] = {}
    if canonical is not None:
        can, _ = rhat_per_array(canonical, max_cells=max_cells)
    n_chains, n_draws = next(iter(weights.values())).shape[:2]
    obs = function_obs(np.asarray(X).shape[0])
    step = thin_step(n_chains, n_draws, obs.size, max_cells=max_cells)
    if eta is None:
        eta = eta_draws(spec, weights, np.asarray(X)[obs], step=step)
    r_eta = rhat_max(eta)
    r_ll = float("nan")
    if loglik is not None:
        r_ll = rhat_max(np.asarray(loglik)[:, ::step][..., obs])
    r_nuis = None
    if nuisance:
        r_nuis = _max_or_nan(list(rhat_per_array(nuisance, max_cells=max_cells)[0].values()))
    return RhatSummary(
        raw=_max_or_nan(list(raw.values())),
        canonical=_max_or_nan(list(can.values())),
        eta=r_eta,
        loglik=r_ll,
        nuisance=r_nuis,
        per_weight_raw=raw,
        per_weight_canonical=can,
        draws_weights=d_w,
        draws_function=int(eta.shape[1]),
        obs_function=int(obs.size),
    )
