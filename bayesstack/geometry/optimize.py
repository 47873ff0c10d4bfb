"""Multi-start MAP: the distinct optima of the log posterior, raw and up to symmetry.

Each start is maximised in two phases, on the geometry's one compiled density
(:class:`~bayesstack.geometry.density.Density`: ``model.logp()`` with the Jacobian term, the
density the sampler sees, in the unconstrained space; its mode is the one the Laplace
approximation of :mod:`bayesstack.geometry.mass` needs, unlike ``pm.find_MAP``'s constrained
mode): L-BFGS (``scipy.optimize.minimize(method="L-BFGS-B")``, at most ``maxiter``
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
  counted. Every start records the optimum it ended in (``start_optimum``, -1 when it did not
  converge or ended at a saddle), so each chain's optimum, and class, is known. Converged
  points within 0.1 unit of each other are one local maximum.
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
from bayesstack.geometry.hessian import WeightHessian
from bayesstack.geometry.modes import THRESHOLD, components, distance, image_residual
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
    x : array (K, size)
        The same points as flat unconstrained vectors of all parameters (Density layout).
    logp : array (K,)
        Log density (Jacobian included: the density the sampler sees) there.
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
    start_optimum : int array (n_starts,)
        The optimum each start ended in (-1: not converged, or a saddle). The explicit
        ``starts`` come first, in their order, then the dispersed ones.
    start_from_draw : bool array (n_starts,)
        Whether a start was an explicit point (a chain's draw) rather than a dispersed one.
    start_end : array (n_starts, size)
        Where each start ended (converged or not), in the Density layout.
    """

    theta: np.ndarray
    x: np.ndarray
    logp: np.ndarray
    hits: np.ndarray
    orbit: np.ndarray
    nuisance: dict[str, np.ndarray]
    n_starts: int
    n_converged: int
    n_saddles: int
    n_local_maxima: int
    scale: np.ndarray
    start_optimum: np.ndarray
    start_from_draw: np.ndarray
    start_end: np.ndarray

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
            "start_optimum": [int(v) for v in self.start_optimum],
        }


class MapObjective:
    """The MAP's objective: :class:`~bayesstack.geometry.density.Density` as ``(lp, grad)``.

    Parameters
    ----------
    model : pymc.Model or Density
        A model built by :func:`bayesstack.build_model`, or its compiled density.
    spec : Spec, optional
        Its spec (needed with a model).

    Attributes
    ----------
    names : list of str
        Value variables in the order of the flat vector.
    shapes : dict of str to tuple
        Their shapes.
    size : int
        Length of the flat vector.
    """

    def __init__(self, model, spec: Spec | None = None) -> None:
        from bayesstack.geometry.density import Density

        if not isinstance(model, Density):
            model = Density(model, spec)
        self.density = model
        self.names, self.shapes, self.size = model.names, model.shapes, model.size

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Log density and gradient at the flat vector ``x``."""
        return self.density(x)

    def split(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """The flat vector as ``{value-var name: array}``."""
        return self.density.split(x)

    def constrained(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """The flat vector as constrained values, keyed by random-variable name."""
        return self.density.constrained(x)


#: L-BFGS iterations of the fallback after an unconverged polish (kinks: ReLU, Laplace priors).
FALLBACK_MAXITER = 2000


def _maximize(
    obj, hess, x0: np.ndarray, maxiter: int, newton_maxiter: int, gtol: float
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
        Further starting points, tried first: constrained values of every free random
        variable, keyed by name, with a leading axis over the K starts (e.g. posterior draws).
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
        The compiled density's Hessian view, when already built (its ``density`` is the
        objective).
    X : array (N, D), optional
        Inputs for η; default the model's ``X`` data.

    Returns
    -------
    MapResult
    """
    n_starts = check_int("MAP starts", n_starts)
    if hessian is None:
        hessian = WeightHessian(model, spec)
    density = hessian.density
    X = np.asarray(density.model["X"].get_value() if X is None else X, dtype=float)
    d = X.shape[1]
    x0s = []
    if starts:
        theta0 = np.concatenate(
            [np.reshape(starts[n], (len(starts[n]), -1)) for n in weight_names(spec)], 1
        )
        x0s += list(density.flat(theta0, {n: np.asarray(starts[n]) for n in density.nuisance}))
    n_explicit = len(x0s)
    x0s += [
        np.random.default_rng(s).normal(0.0, start_scale, size=density.size)
        for s in np.random.SeedSequence(seed).spawn(n_starts)
    ]
    n_starts = len(x0s)
    ends, ok = [], []
    with threadpool_limits(limits=1, user_api="blas"):  # threaded BLAS slows L-BFGS-B 10-100x
        for x0 in x0s:
            x, converged = _maximize(
                density, density.hessian, x0, maxiter, newton_maxiter, gtol_check
            )
            ends.append(x)
            ok.append(bool(converged and np.isfinite(density(x)[0])))
    ends = np.asarray(ends).reshape(n_starts, density.size)
    from_draw = np.arange(n_starts) < n_explicit
    conv = np.flatnonzero(ok)
    if not conv.size:
        log.warning("MAP: none of %d runs converged", n_starts)
        return _empty(density, n_starts, scale, ends=ends, from_draw=from_draw)
    lps_all = np.array([density(ends[i])[0] for i in conv])
    order = np.argsort(-lps_all, kind="stable")
    conv, lps = conv[order], lps_all[order]
    xs = ends[conv]
    theta = density.weights(xs)
    top = np.linalg.eigvalsh(np.stack([density.weight_hessian(x) for x in xs]))
    saddle = top.max(-1) > 1e-6 * np.abs(top).max(-1)
    if scale is None:
        scale = _laplace_sd(density.weight_hessian(xs[0]))
    maxima = np.flatnonzero(~saddle)
    if not maxima.size:
        return _empty(density, n_starts, scale, len(xs), int(saddle.sum()), ends, from_draw)
    pts = theta[maxima]
    local = components(maxima.size, lambda i, j: distance(pts[i], pts[j], scale) <= 0.1)
    group = components(maxima.size, lambda i, j: distance(pts[i], pts[j], scale) <= same_tol)
    reps = maxima[[int(np.flatnonzero(group == g)[0]) for g in range(group.max() + 1)]]
    eta = forward(spec, unflatten(theta[reps], spec, d), X)
    orbit = components(
        reps.size, _same_up_to_symmetry(spec, theta[reps], lps[reps], eta, scale, same_tol, d)
    )
    start_optimum = np.full(n_starts, -1)
    start_optimum[conv[maxima]] = group
    return MapResult(
        theta=theta[reps],
        x=xs[reps],
        logp=lps[reps],
        hits=np.bincount(group),
        orbit=orbit,
        nuisance={
            n: np.stack([np.asarray(density.constrained(xs[k])[n]) for k in reps])
            for n in density.nuisance
        },
        n_starts=n_starts,
        n_converged=len(xs),
        n_saddles=int(saddle.sum()),
        n_local_maxima=int(local.max() + 1),
        scale=np.asarray(scale),
        start_optimum=start_optimum,
        start_from_draw=from_draw,
        start_end=ends,
    )


def _empty(
    density, n_starts, scale, n_converged=0, n_saddles=0, ends=None, from_draw=None
) -> MapResult:
    p = density.n_weights
    return MapResult(
        theta=np.empty((0, p)),
        x=np.empty((0, density.size)),
        logp=np.empty(0),
        hits=np.empty(0, dtype=int),
        orbit=np.empty(0, dtype=int),
        nuisance={n: np.empty(0) for n in density.nuisance},
        n_starts=n_starts,
        n_converged=n_converged,
        n_saddles=n_saddles,
        n_local_maxima=0,
        scale=np.ones(p) if scale is None else np.asarray(scale),
        start_optimum=np.full(n_starts, -1),
        start_from_draw=np.zeros(n_starts, bool) if from_draw is None else from_draw,
        start_end=np.empty((n_starts, density.size)) if ends is None else ends,
    )


def _laplace_sd(H: np.ndarray) -> np.ndarray:
    """``sqrt(diag(pinv(-H)))``, floored at a tiny positive value."""
    cov = np.linalg.pinv(-0.5 * (H + H.T), hermitian=True)
    return np.sqrt(np.maximum(np.abs(np.diag(cov)), 1e-24))


def _same_up_to_symmetry(spec, theta, lps, eta, scale, tol, d):
    """``linked(i, j)``: optimum ``j`` is an image of ``i`` or the same function."""

    def linked(i: int, j: int) -> bool:
        scale_eta = 1e-4 * (1.0 + np.max(np.abs(eta[i])))
        if abs(lps[i] - lps[j]) <= 1e-6 and np.max(np.abs(eta[i] - eta[j])) <= scale_eta:
            return True
        return image_residual(spec, theta[i], theta[j], scale, d) <= tol

    return linked
