"""Multi-start MAP: the distinct optima of the log posterior, raw and up to symmetry.

Each start is maximised in two phases, on the model's compiled log density without the
Jacobian term (the mode of the constrained posterior, as ``pm.find_MAP``) in the unconstrained
space: L-BFGS (``scipy.optimize.minimize(method="L-BFGS-B")``, at most ``maxiter``
iterations) gets near an optimum, and a trust-region Newton polish
(``method="trust-exact"`` with the exact Hessian, at most ``newton_maxiter`` iterations)
converges on it. A network posterior is too ill-conditioned for L-BFGS alone: from a posterior
draw of a [10, 10] tanh stack it needs 900-1500 iterations to bring the gradient below 1e-3,
where the polish needs 3-12 Newton steps to reach 1e-6 or less.

Starts are explicit points (:func:`analyze` passes each chain's best draw: the chains were
themselves started from dispersed points) and/or ``n_starts`` dispersed points drawn from
``N(0, start_scale^2)`` (seeded, one ``SeedSequence`` child per start).

Counting rules
--------------
* A run *converged* when the largest gradient component at its end is below ``gtol_check``.
  Where it is not after the polish (at a kink of a ReLU or of a Laplace prior the gradient
  jumps and Newton stalls), L-BFGS goes on for up to :data:`FALLBACK_MAXITER` iterations, and
  its own success (relative change of the objective below ``ftol``) counts as converged.
  Other runs are dropped.
* An optimum is a *local maximum* unless its weight Hessian (noise held at the optimum) has an
  eigenvalue above ``+1e-6 * max|eigenvalue|``; other stationary points are saddles and are not
  counted. Converged points within 0.1 unit of each other are one local maximum.
* Local maxima are grouped into *optima* exactly as draws are grouped into modes
  (:mod:`bayesstack.geometry.modes`): single linkage at ``same_tol`` (default
  :data:`~bayesstack.geometry.modes.THRESHOLD` = 5) in units of ``scale`` per coordinate
  (Chebyshev). Local maxima that close lie inside one mode, which the chains cross freely.
  ``scale`` is the within-mode sd of the posterior draws when given (as :func:`analyze`
  does), else the Laplace sd ``sqrt(diag((-H)^+))`` of the weights at the best optimum.
* Up to symmetry, two optima are linked when a posterior group element maps one within
  ``same_tol`` of the other (alignment canonicaliser), or when their log densities agree to
  ``1e-6`` nats and their linear predictors η at the data to ``1e-4 (1 + max|η|)``: that also
  links points on the orbit of a continuous symmetry (identity layers), which no discrete
  alignment can. Classes are again single-linkage (connected) components.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from bayesstack.errors import check_int
from bayesstack.geometry.hessian import TINY, WeightHessian
from bayesstack.geometry.modes import THRESHOLD, align_to
from bayesstack.model.network import forward, unflatten, weight_names
from bayesstack.spec import Spec

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class MapResult:
    """Distinct optima of the log posterior found from many starts.

    Attributes
    ----------
    theta : array (K, P)
        Flat weights of the best local maximum of each optimum, best first.
    logp : array (K,)
        Log density (no Jacobian) there.
    hits : int array (K,)
        Converged starts that ended in each optimum.
    orbit : int array (K,)
        Class of each optimum up to symmetry (0 = the class of the best).
    nuisance : dict of str to array (K, ...)
        Constrained noise parameters at each optimum.
    n_starts, n_converged, n_saddles, n_local_maxima : int
        Starts, converged runs, runs that ended at a saddle, and distinct local maxima.
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
    n_local_maxima: int
    scale: np.ndarray

    @property
    def n_raw(self) -> int:
        """Number of distinct optima."""
        return int(self.theta.shape[0])

    @property
    def n_canonical(self) -> int:
        """Number of distinct optima up to symmetry."""
        return int(np.unique(self.orbit).size)

    def to_dict(self) -> dict[str, Any]:
        """Summary (JSON-serialisable)."""
        return {
            "n_starts": self.n_starts,
            "n_converged": self.n_converged,
            "n_saddles": self.n_saddles,
            "n_local_maxima": self.n_local_maxima,
            "optima_raw": self.n_raw,
            "optima_canonical": self.n_canonical,
            "logp": [float(v) for v in self.logp],
            "hits": [int(v) for v in self.hits],
            "orbit": [int(v) for v in self.orbit],
        }


class MapObjective:
    """The compiled log density (no Jacobian) and its gradient on flat unconstrained vectors.

    Compiled by PyTensor's JAX backend (the graph is the model's; only the compiler differs).

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
        from pytensor.compile.mode import get_mode

        ip = model.initial_point()
        vars_ = model.continuous_value_vars
        # JAX: compiles in about half numba's time and evaluates 2-3x faster (docs/performance.md);
        # shape asserts go before conversion, as in PyMC's own JAX samplers
        self._fn = ValueGradFunction(
            [model.logp(jacobian=False)],
            vars_,
            {},
            model=model,
            initial_point=ip,
            ravel_inputs=True,
            mode=get_mode("JAX").including("local_remove_all_assert"),
        )
        self._fn.set_extra_values({})
        self.names = [v.name for v in vars_]
        self.shapes = {n: tuple(np.shape(ip[n])) for n in self.names}
        self.size = int(sum(np.prod(s, dtype=int) for s in self.shapes.values()))
        self._rv_names = [rv.name for rv in model.free_RVs]
        outs = model.replace_rvs_by_values(model.free_RVs)  # constrained, from value vars
        self._constrain = model.compile_fn(outs, inputs=vars_, point_fn=False, mode=TINY)

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


#: L-BFGS iterations of the fallback after an unconverged polish (kinks: ReLU, Laplace priors).
FALLBACK_MAXITER = 2000


def _maximize(
    obj: MapObjective, hess, x0: np.ndarray, maxiter: int, newton_maxiter: int, gtol: float
) -> tuple[np.ndarray, bool]:
    """Maximise from ``x0``; the end point, and whether it converged.

    L-BFGS, then a trust-region Newton polish (Hessian ``hess``). Where the polish leaves the
    gradient above ``gtol`` (a kink of a ReLU or a Laplace prior, where Newton stalls), L-BFGS
    goes on from its own end point instead, and its success (relative change of the
    objective below ``ftol``) counts as converged.
    """

    def neg(x):
        lp, g = obj(x)
        if not np.isfinite(lp) or not np.all(np.isfinite(g)):
            return 1e300, np.zeros_like(x)
        return -lp, -g

    def lbfgs(x, iters):
        opts = {"maxiter": iters, "gtol": 1e-9, "ftol": 1e-14, "maxcor": 20}
        return minimize(neg, x, jac=True, method="L-BFGS-B", options=opts)

    def small(x):
        lp, g = obj(x)
        return bool(np.isfinite(lp) and np.max(np.abs(g)) < gtol)

    res = lbfgs(x0, maxiter)
    x = res.x
    if res.success:
        return x, True
    if newton_maxiter > 0 and np.isfinite(res.fun) and res.fun < 1e300:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "A bad approximation caused failure"
            polished = minimize(
                neg,
                x,
                jac=True,
                hess=lambda z: -hess(z),
                method="trust-exact",
                options={"maxiter": newton_maxiter, "gtol": 1e-8},
            ).x
        if np.all(np.isfinite(polished)) and small(polished):
            return polished, True
    if small(x):
        return x, True
    res = lbfgs(x, FALLBACK_MAXITER)  # from L-BFGS's end: a polish that stalled is dropped
    return res.x, bool(res.success) or small(res.x)


def multistart_map(
    model,
    spec: Spec,
    *,
    n_starts: int = 20,
    starts: Mapping[str, np.ndarray] | None = None,
    seed: int = 0,
    start_scale: float = 1.0,
    maxiter: int = 500,
    newton_maxiter: int = 100,
    gtol_check: float = 1e-3,
    same_tol: float = THRESHOLD,
    scale: np.ndarray | None = None,
    hessian: WeightHessian | None = None,
    X: np.ndarray | None = None,
) -> MapResult:
    """Maximise the log posterior from many starts and count the distinct optima.

    Parameters
    ----------
    model : pymc.Model
        A model built by :func:`bayesstack.build_model` (data held in ``pm.Data("X")``).
    spec : Spec
        Its spec.
    n_starts : int
        Number of dispersed starting points.
    starts : mapping of str to array (K, ...), optional
        Further starting points: constrained values of every free random variable, keyed by
        name, with a leading axis over the K starts (e.g. posterior draws).
    seed : int
        Seed of the dispersed starting points.
    start_scale : float
        Sd of the dispersed starting points in the unconstrained space.
    maxiter : int
        Most L-BFGS iterations per start.
    newton_maxiter : int
        Most trust-region Newton iterations of the polish (0: no polish).
    gtol_check : float
        Largest gradient component of a converged run (see the module docstring for kinks).
    same_tol : float
        Linkage distance (in units of ``scale``) of local maxima within one optimum.
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
    n_starts = check_int("MAP starts", n_starts)
    obj = MapObjective(model)
    hessian = hessian or WeightHessian(model, spec)
    X = np.asarray(model["X"].get_value() if X is None else X, dtype=float)
    d = X.shape[1]
    x0s = [
        np.random.default_rng(s).normal(0.0, start_scale, size=obj.size)
        for s in np.random.SeedSequence(seed).spawn(n_starts)
    ]
    if starts:
        wn = weight_names(spec)
        theta0 = np.concatenate([np.reshape(starts[n], (len(starts[n]), -1)) for n in wn], 1)
        x0s += [
            hessian.flat(theta0[i], {n: starts[n][i] for n in hessian.nuisance})
            for i in range(theta0.shape[0])
        ]
    n_starts = len(x0s)
    xs, lps = [], []
    with threadpool_limits(limits=1, user_api="blas"):  # threaded BLAS slows L-BFGS-B 10-100x
        for x0 in x0s:
            x, converged = _maximize(obj, hessian.full, x0, maxiter, newton_maxiter, gtol_check)
            lp = obj(x)[0]
            if np.isfinite(lp) and converged:
                xs.append(x)
                lps.append(lp)
    if not xs:
        log.warning("MAP: none of %d runs converged", n_starts)
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
    maxima = np.flatnonzero(~saddle)
    if not maxima.size:
        return _empty(obj, hessian, n_starts, scale, len(xs), int(saddle.sum()))
    local = _components(maxima.size, lambda i, j: _dist(theta, maxima, i, j, scale) <= 0.1)
    group = _components(maxima.size, lambda i, j: _dist(theta, maxima, i, j, scale) <= same_tol)
    reps = maxima[[int(np.flatnonzero(group == g)[0]) for g in range(group.max() + 1)]]
    eta = forward(spec, unflatten(theta[reps], spec, d), X)
    orbit = _components(
        reps.size, _same_up_to_symmetry(spec, theta[reps], lps[reps], eta, scale, same_tol, d)
    )
    return MapResult(
        theta=theta[reps],
        logp=lps[reps],
        hits=np.bincount(group),
        orbit=orbit,
        nuisance={n: v[reps] for n, v in nuis.items()},
        n_starts=n_starts,
        n_converged=len(xs),
        n_saddles=int(saddle.sum()),
        n_local_maxima=int(local.max() + 1),
        scale=np.asarray(scale),
    )


def _empty(obj, hessian, n_starts, scale, n_converged=0, n_saddles=0) -> MapResult:
    p = hessian.n_weights
    return MapResult(
        theta=np.empty((0, p)),
        logp=np.empty(0),
        hits=np.empty(0, dtype=int),
        orbit=np.empty(0, dtype=int),
        nuisance={n: np.empty(0) for n in hessian.nuisance},
        n_starts=n_starts,
        n_converged=n_converged,
        n_saddles=n_saddles,
        n_local_maxima=0,
        scale=np.ones(p) if scale is None else np.asarray(scale),
    )


def _laplace_sd(H: np.ndarray) -> np.ndarray:
    """``sqrt(diag(pinv(-H)))``, floored at a tiny positive value."""
    cov = np.linalg.pinv(-0.5 * (H + H.T), hermitian=True)
    return np.sqrt(np.maximum(np.abs(np.diag(cov)), 1e-24))


def _dist(theta, idx, i, j, scale) -> float:
    return float(np.max(np.abs(theta[idx[i]] - theta[idx[j]]) / scale))


def _components(n: int, linked) -> np.ndarray:
    """Single-linkage classes of ``0..n-1`` under ``linked(i, j)``, numbered by first member."""
    label = np.arange(n)
    for j in range(1, n):
        for i in range(j):
            if label[i] != label[j] and linked(i, j):
                label[label == label[j]] = label[i]
    return np.unique(label, return_inverse=True)[1]


def _same_up_to_symmetry(spec, theta, lps, eta, scale, tol, d):
    """``linked(i, j)``: optimum ``j`` is an image of ``i`` or the same function."""

    def linked(i: int, j: int) -> bool:
        scale_eta = 1e-4 * (1.0 + np.max(np.abs(eta[i])))
        if abs(lps[i] - lps[j]) <= 1e-6 and np.max(np.abs(eta[i] - eta[j])) <= scale_eta:
            return True
        moved = align_to(spec, theta[i], theta[j], d)
        return bool(np.max(np.abs(moved - theta[i]) / scale) <= tol)

    return linked
