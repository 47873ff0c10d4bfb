"""Log-concavity evidence: where is the log posterior's Hessian in the weights negative definite.

At a draw, the Hessian is taken of the geometry's compiled density
(:mod:`bayesstack.geometry.density`: ``model.logp()``, the density the sampler sees) with
respect to the weights θ only (``W*``/``b*``, flattened in ``network.weight_names`` order);
the other free parameters (noise ``sigma``, ``nu``, ``alpha``, hierarchical scales
``tau_*``) are held at the draw's values. It is negative definite when its largest
eigenvalue is below ``-tol * max|eigenvalue|`` (default ``tol = 1e-10``, i.e. negative up
to rounding).

For a canonical-link GLM the log-likelihood's Hessian is ``-X' W X`` with ``W > 0``, negative
definite for full-rank ``X`` (with the intercept column); a Normal prior adds ``-I / s^2`` and
a Laplace prior adds 0 away from 0, so the fraction is 1 at every draw.

Which draws
-----------
Every draw, unless that costs too much. One Hessian is ``P`` gradient passes (a scan), about
``cost = P * (N * (P + 30) + 3e4)`` units (``N`` observations; ``30`` stands for the
elementwise work per observation and ``3e4`` for the per-pass overhead; 1e9 units take
roughly half a second here). When ``n_draws * cost`` exceeds ``budget`` (default
:data:`BUDGET` = 5e9), only ``max(1, budget // cost // n_chains)`` draws
per chain are used, evenly spaced within each chain. The result says how many were evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from bayesstack.errors import BayesstackError
from bayesstack.model.network import weight_names
from bayesstack.spec import Spec

#: Default work budget (see the module docstring; a few seconds on one core).
BUDGET = 5e9
#: Per-gradient-pass overhead, and elementwise work per observation, in cost units.
_PASS_OVERHEAD = 3e4
_OBS_WORK = 30
#: Relative tolerance on the largest eigenvalue.
TOL = 1e-10


class WeightHessian:
    """The θ block of the Hessian of :class:`~bayesstack.geometry.density.Density`.

    A thin view of the geometry's one compiled density (``model.logp()``, Jacobian included,
    in the unconstrained space): the weight Hessian is the θ block of the full Hessian, which
    is the Hessian in θ with the other parameters held fixed however they are parametrised,
    and the same with or without the Jacobian term. :meth:`full` gives the whole matrix.

    Parameters
    ----------
    model : pymc.Model or Density
        A model built by :func:`bayesstack.build_model`, or its compiled density.
    spec : Spec
        Its spec (unused when ``model`` is a Density).

    Attributes
    ----------
    density : Density
        The compiled density.
    names : list of str
        The weights, in θ order.
    nuisance : list of str
        The other free random variables (held fixed), by name; values are passed constrained.
    n_weights : int
        ``P``, the length of θ.
    """

    def __init__(self, model, spec: Spec | None = None) -> None:
        from bayesstack.geometry.density import Density

        self.density = model if isinstance(model, Density) else Density(model, spec)
        self.names = weight_names(spec) if spec is not None else None
        self.nuisance = self.density.nuisance
        self.n_weights = self.density.n_weights
        self.size = self.density.size

    def full(self, x: np.ndarray) -> np.ndarray:
        """The ``(size, size)`` Hessian at the flat unconstrained vector ``x`` of all values."""
        return self.density.hessian(x)

    def flat(self, theta: np.ndarray, nuisance: dict[str, Any] | None = None) -> np.ndarray:
        """The flat unconstrained vector of weights ``theta`` and constrained ``nuisance``."""
        nuisance = nuisance or {}
        missing = [n for n in self.nuisance if n not in nuisance]
        if missing:
            raise BayesstackError(f"Hessian: no values given for {', '.join(missing)}")
        return self.density.flat(np.asarray(theta, dtype=float).ravel(), nuisance)

    def __call__(self, theta: np.ndarray, nuisance: dict[str, Any] | None = None) -> np.ndarray:
        """The ``(P, P)`` Hessian at flat weights ``theta`` and constrained ``nuisance`` values."""
        return self.density.weight_hessian(self.flat(theta, nuisance))


@dataclass(frozen=True, eq=False)
class HessianCheck:
    """Where the weight Hessian of the log posterior is negative definite.

    Attributes
    ----------
    negdef_fraction : float
        Fraction of the evaluated draws with a negative definite Hessian.
    n_evaluated, n_total : int
        Draws evaluated, and draws in the run.
    max_eigenvalue : array (n_evaluated,)
        Largest eigenvalue at each evaluated draw.
    chain, draw : int arrays (n_evaluated,)
        Which draws were evaluated.
    tol : float
        Relative tolerance on the largest eigenvalue.
    """

    negdef_fraction: float
    n_evaluated: int
    n_total: int
    max_eigenvalue: np.ndarray
    chain: np.ndarray
    draw: np.ndarray
    tol: float

    def to_dict(self) -> dict[str, Any]:
        """Summary (JSON-serialisable)."""
        ev = self.max_eigenvalue
        return {
            "negdef_fraction": self.negdef_fraction,
            "n_evaluated": self.n_evaluated,
            "n_total": self.n_total,
            "max_eigenvalue_max": float(ev.max()) if ev.size else None,
            "max_eigenvalue_median": float(np.median(ev)) if ev.size else None,
            "tol": self.tol,
        }


def hessian_cost(n_obs: int, n_weights: int) -> float:
    """The work of one weight Hessian, in the budget's units (see the module docstring)."""
    return n_weights * (float(n_obs) * (n_weights + _OBS_WORK) + _PASS_OVERHEAD)


def select_draws(
    n_chains: int, n_draws: int, n_obs: int, n_weights: int, budget: float = BUDGET
) -> tuple[np.ndarray, np.ndarray]:
    """Chain and draw indices to evaluate: all, or evenly spaced ones within ``budget``."""
    cost = hessian_cost(n_obs, n_weights)
    n = n_chains * n_draws
    if n * cost > budget:
        n = max(n_chains, int(budget // cost))
    per_chain = max(1, min(n_draws, n // n_chains))
    draws = np.unique(np.linspace(0, n_draws - 1, per_chain).round().astype(int))
    c, d = np.meshgrid(np.arange(n_chains), draws, indexing="ij")
    return c.ravel(), d.ravel()


def is_negdef(eigenvalues: np.ndarray, tol: float = TOL) -> np.ndarray:
    """Negative definiteness from eigenvalues ``(..., P)``: largest ``< -tol * max|ev|``."""
    ev = np.asarray(eigenvalues)
    return ev.max(-1) < -tol * np.abs(ev).max(-1)


def hessian_check(
    hess: WeightHessian,
    theta: np.ndarray,
    nuisance: dict[str, np.ndarray] | None = None,
    *,
    n_obs: int,
    budget: float = BUDGET,
    tol: float = TOL,
) -> HessianCheck:
    """Evaluate the weight Hessian at (a documented subset of) the draws.

    Parameters
    ----------
    hess : WeightHessian
        The compiled Hessian.
    theta : array (chain, draw, P)
        Flat weights of every draw.
    nuisance : dict of str to array (chain, draw, ...), optional
        Constrained values of ``hess.nuisance`` at every draw.
    n_obs : int
        Number of observations (for the cost of one Hessian).
    budget : float
        Work budget (see the module docstring).
    tol : float
        Relative tolerance on the largest eigenvalue.

    Returns
    -------
    HessianCheck
    """
    theta = np.asarray(theta, dtype=float)
    n_chains, n_draws, p = theta.shape
    chain, draw = select_draws(n_chains, n_draws, n_obs, p, budget)
    nuisance = nuisance or {}
    H = np.empty((chain.size, p, p))
    with threadpool_limits(limits=1, user_api="blas"):  # many small problems: no threads
        for k, (c, d) in enumerate(zip(chain, draw, strict=True)):
            H[k] = hess(theta[c, d], {n: nuisance[n][c, d] for n in hess.nuisance})
        ev = np.linalg.eigvalsh(0.5 * (H + np.swapaxes(H, -1, -2)))
    neg = is_negdef(ev, tol)
    return HessianCheck(
        negdef_fraction=float(neg.mean()),
        n_evaluated=int(chain.size),
        n_total=n_chains * n_draws,
        max_eigenvalue=ev.max(-1),
        chain=chain,
        draw=draw,
        tol=tol,
    )
