"""Multi-start MAP: the distinct optima of the log posterior, raw and up to symmetry.

L-BFGS (``scipy.optimize.minimize(method="L-BFGS-B", jac=True)``) maximises the model's
compiled log density without the Jacobian term (the mode of the constrained posterior, as
``pm.find_MAP``), in the unconstrained space, from ``n_starts`` dispersed points drawn from
``N(0, start_scale^2)`` (seeded, one ``SeedSequence`` child per start).

Counting rules
--------------
* A run *converged* when L-BFGS reports success (its relative change of the objective fell
  below ``ftol``) or the largest gradient component is below ``gtol_check``; runs stopped by
  ``maxiter`` are dropped.
* Two converged points are the *same optimum* when their weights differ by at most ``same_tol``
  (default 1) in units of ``scale`` in every coordinate (the Chebyshev distance of
  :mod:`bayesstack.geometry.modes`). ``scale`` defaults to the Laplace sd
  ``sqrt(diag((-H)^+))`` of the weights at the best optimum.
* An optimum is a *local maximum* unless its weight Hessian (noise held at the optimum) has an
  eigenvalue above ``+1e-6 * max|eigenvalue|``; other stationary points are saddles and are not
  counted.
* Two local maxima are the same *up to symmetry* when a posterior group element maps one onto
  the other within ``same_tol`` (alignment canonicaliser), or when their log densities agree to
  ``1e-6`` nats and their linear predictors η at the data agree to ``1e-4 (1 + max|η|)``: that
  also merges points on the orbit of a continuous symmetry (identity layers), where no discrete
  alignment can.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from bayesstack.geometry.hessian import WeightHessian
from bayesstack.geometry.modes import align_to
from bayesstack.network import forward, unflatten, weight_names
from bayesstack.spec import Spec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MapResult:
    """Distinct optima of the log posterior found from many starts.

    Attributes
    ----------
    theta : array (K, P)
        Flat weights of each distinct local maximum, best first.
    logp : array (K,)
        Log density (no Jacobian) at each.
    hits : int array (K,)
        Starts that converged to each.
    orbit : int array (K,)
        Class of each optimum up to symmetry (0 = the class of the best).
    nuisance : dict of str to array (K, ...)
        Constrained noise parameters at each optimum.
    n_starts, n_converged, n_saddles : int
        Starts, converged runs, and converged runs that ended at a saddle.
    scale : array (P,)
        The unit of the weight distance.
    """

    theta: np.ndarray
    logp: np.ndarray
    hits: np.ndarray
    orbit: np.ndarray
    nuisance: dict[str, np.ndarray]
    n_starts: int
    n_converged: int
    n_saddles: int
    scale: np.ndarray

    @property
    def n_raw(self) -> int:
        """Number of distinct local maxima."""
        return int(self.theta.shape[0])

    @property
    def n_canonical(self) -> int:
        """Number of distinct local maxima up to symmetry."""
        return int(np.unique(self.orbit).size)

    def to_dict(self) -> dict[str, Any]:
        """Summary (JSON-serialisable)."""
        return {
            "n_starts": self.n_starts,
            "n_converged": self.n_converged,
            "n_saddles": self.n_saddles,
            "optima_raw": self.n_raw,
            "optima_canonical": self.n_canonical,
            "logp": [float(v) for v in self.logp],
            "hits": [int(v) for v in self.hits],
            "orbit": [int(v) for v in self.orbit],
        }


class MapObjective:
    """The compiled log density (no Jacobian) and its gradient on flat unconstrained vectors.

    Parameters
    ----------
    model : pymc.Model
        A model built by :func:`bayesstack.build_model`.

    Attributes
    ----------
    names : list of str
        Value variables in the order of the flat vector.
    shapes : dict of str to tuple
        Their shapes.
    size : int
        Length of the flat vector.
    """

    def __init__(self, model) -> None:
        from pymc.model.core import ValueGradFunction

        ip = model.initial_point()
        vars_ = model.continuous_value_vars
        self._fn = ValueGradFunction(
            [model.logp(jacobian=False)],
            vars_,
            {},
            model=model,
            initial_point=ip,
            ravel_inputs=True,
        )
        self._fn.set_extra_values({})
        self.names = [v.name for v in vars_]
        self.shapes = {n: tuple(np.shape(ip[n])) for n in self.names}
        self.size = int(sum(np.prod(s, dtype=int) for s in self.shapes.values()))
        self._rv_names = [rv.name for rv in model.free_RVs]
        outs = model.replace_rvs_by_values(model.free_RVs)  # constrained, from value vars
        self._constrain = model.compile_fn(outs, inputs=vars_, point_fn=False)

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Log density and gradient at the flat vector ``x``."""
        lp, g = self._fn(np.asarray(x, dtype=float))
        return float(lp), np.asarray(g)

    def split(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """The flat vector as ``{value-var name: array}``."""
        out, start = {}, 0
        for n in self.names:
            size = int(np.prod(self.shapes[n], dtype=int))
            out[n] = x[start : start + size].reshape(self.shapes[n])
            start += size
        return out

    def constrained(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """The flat vector as constrained values, keyed by random-variable name."""
        point = self.split(x)
        values = self._constrain(*(point[n] for n in self.names))
        return {n: np.asarray(v) for n, v in zip(self._rv_names, values, strict=True)}


def _maximize(obj: MapObjective, x0: np.ndarray, maxiter: int):
    def neg(x):
        lp, g = obj(x)
        if not np.isfinite(lp) or not np.all(np.isfinite(g)):
            return 1e300, np.zeros_like(x)
        return -lp, -g

    return minimize(
        neg,
        x0,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": maxiter, "gtol": 1e-9, "ftol": 1e-14, "maxcor": 20},
    )


def multistart_map(
    model,
    spec: Spec,
    *,
    n_starts: int = 20,
    seed: int = 0,
    start_scale: float = 1.0,
    maxiter: int = 2000,
    gtol_check: float = 1e-3,
    same_tol: float = 1.0,
    scale: np.ndarray | None = None,
    hessian: WeightHessian | None = None,
    X: np.ndarray | None = None,
) -> MapResult:
    """Maximise the log posterior from many dispersed starts and count the distinct optima.

    Parameters
    ----------
    model : pymc.Model
        A model built by :func:`bayesstack.build_model` (data held in ``pm.Data("X")``).
    spec : Spec
        Its spec.
    n_starts : int
        Number of starting points.
    seed : int
        Seed of the starting points.
    start_scale : float
        Sd of the starting points in the unconstrained space.
    maxiter : int
        Most L-BFGS iterations per start.
    gtol_check : float
        Largest gradient component of a converged run.
    same_tol : float
        Largest distance (in units of ``scale``) between two points of one optimum.
    scale : array (P,), optional
        Unit of the weight distance (e.g. the within-mode sd of posterior draws); default the
        Laplace sd at the best optimum.
    hessian : WeightHessian, optional
        The compiled weight Hessian, when already built.
    X : array (N, D), optional
        Inputs for η; default the model's ``X`` data.

    Returns
    -------
    MapResult
    """
    obj = MapObjective(model)
    hessian = hessian or WeightHessian(model, spec)
    X = np.asarray(model["X"].get_value() if X is None else X, dtype=float)
    d = X.shape[1]
    seeds = np.random.SeedSequence(seed).spawn(n_starts)
    xs, lps = [], []
    with threadpool_limits(limits=1, user_api="blas"):  # threaded BLAS slows L-BFGS-B 10-100x
        for s in seeds:
            x0 = np.random.default_rng(s).normal(0.0, start_scale, size=obj.size)
            res = _maximize(obj, x0, maxiter)
            lp, g = obj(res.x)
            if np.isfinite(lp) and (res.success or np.max(np.abs(g)) < gtol_check):
                xs.append(res.x)
                lps.append(lp)
    if not xs:
        log.warning("MAP: none of %d L-BFGS runs converged in %d iterations", n_starts, maxiter)
        return _empty(obj, hessian, n_starts, scale)
    order = np.argsort(lps)[::-1]
    xs, lps = np.asarray(xs)[order], np.asarray(lps)[order]
    points = [obj.constrained(x) for x in xs]
    wn = weight_names(spec)
    theta = np.stack([np.concatenate([np.ravel(p[n]) for n in wn]) for p in points])
    nuis = {n: np.stack([np.asarray(p[n]) for p in points]) for n in hessian.nuisance}
    top = np.linalg.eigvalsh(
        np.stack([hessian(theta[k], {n: nuis[n][k] for n in nuis}) for k in range(len(xs))])
    )
    saddle = top.max(-1) > 1e-6 * np.abs(top).max(-1)
    if scale is None:
        scale = _laplace_sd(hessian(theta[0], {n: nuis[n][0] for n in nuis}))
    keep = _dedupe(theta, lps, saddle, scale, same_tol)
    theta_k = theta[[k for k, _ in keep]]
    eta = forward(spec, unflatten(theta_k, spec, d), X)
    orbit = _orbits(spec, theta_k, lps[[k for k, _ in keep]], eta, scale, same_tol, d)
    return MapResult(
        theta=theta_k,
        logp=lps[[k for k, _ in keep]],
        hits=np.array([h for _, h in keep], dtype=int),
        orbit=orbit,
        nuisance={n: v[[k for k, _ in keep]] for n, v in nuis.items()},
        n_starts=n_starts,
        n_converged=len(xs),
        n_saddles=int(saddle.sum()),
        scale=np.asarray(scale),
    )


def _empty(obj, hessian, n_starts, scale) -> MapResult:
    p = hessian.n_weights
    return MapResult(
        theta=np.empty((0, p)),
        logp=np.empty(0),
        hits=np.empty(0, dtype=int),
        orbit=np.empty(0, dtype=int),
        nuisance={n: np.empty(0) for n in hessian.nuisance},
        n_starts=n_starts,
        n_converged=0,
        n_saddles=0,
        scale=np.ones(p) if scale is None else np.asarray(scale),
    )


def _laplace_sd(H: np.ndarray) -> np.ndarray:
    """``sqrt(diag(pinv(-H)))``, floored at a tiny positive value."""
    cov = np.linalg.pinv(-0.5 * (H + H.T), hermitian=True)
    return np.sqrt(np.maximum(np.abs(np.diag(cov)), 1e-24))


def _dedupe(theta, lps, saddle, scale, tol) -> list[tuple[int, int]]:
    """Representatives (index, hits) of the distinct local maxima, best first."""
    reps: list[list[int]] = []
    for k in range(theta.shape[0]):
        if saddle[k]:
            continue
        for r in reps:
            if np.max(np.abs(theta[k] - theta[r[0]]) / scale) <= tol:
                r[1] += 1
                break
        else:
            reps.append([k, 1])
    return [(k, h) for k, h in reps]


def _orbits(spec, theta, lps, eta, scale, tol, d) -> np.ndarray:
    """Class of each optimum up to symmetry (greedy, against each class's best member)."""
    orbit = np.full(theta.shape[0], -1)
    heads: list[int] = []
    for k in range(theta.shape[0]):
        for c, h in enumerate(heads):
            same_f = abs(lps[k] - lps[h]) <= 1e-6 and np.max(np.abs(eta[k] - eta[h])) <= 1e-4 * (
                1.0 + np.max(np.abs(eta[h]))
            )
            if (
                same_f
                or np.max(np.abs(align_to(spec, theta[h], theta[k], d) - theta[h]) / scale) <= tol
            ):
                orbit[k] = c
                break
        else:
            orbit[k] = len(heads)
            heads.append(k)
    return orbit
