"""How much posterior mass a mode holds: Laplace, bridge sampling, shares and stacking weights.

Everything here works on arrays and a log-density callable (no PyMC), so it can be tested on
targets with known masses. :func:`bayesstack.geometry.analyze` applies it to the density the
sampler sees (:mod:`bayesstack.geometry.density`), whose integral is the marginal likelihood
and whose integral over a region is that region's unnormalised posterior mass.

* :func:`laplace_log_mass`: ``log p̃(x̂) + d/2 log 2π − ½ log det(−H)`` at an optimum x̂ with the
  full Hessian H of every free parameter. No estimate (``None``, with the reason) when −H is
  not positive definite: a saddle, or flat directions such as the orbit of a continuous
  symmetry, where the Gaussian has infinite volume.
* :func:`bridge_log_mass`: the iterative bridge sampler of Meng & Wong (1996, eq. 4.1, the
  "optimal" bridge), in log space, between posterior draws around one optimum and the Laplace
  Gaussian at that optimum. It uses the draws, so it is a second estimate independent of the
  Gaussian approximation's error (the Gaussian only has to overlap the draws).
* :func:`mass_shares`: the softmax of log masses.
* :func:`class_stacking_weights`: stacking of pooled mode classes with ``arviz.compare``
  (Yao, Vehtari & Gelman 2022), each class's weight shared equally among its chains.

References
----------
Meng, X.-L. and Wong, W. H. (1996). Simulating ratios of normalizing constants via a simple
identity. Statistica Sinica 6, 831-860. Gronau, Q. F. et al. (2017). A tutorial on bridge
sampling. J. Math. Psych. 81, 80-97. Yao, Y., Vehtari, A. and Gelman, A. (2022). Stacking for
non-mixing Bayesian computations: the curse and blessing of multimodal posteriors. JMLR 23.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp, softmax

LOG_2PI = math.log(2.0 * math.pi)
#: −H counts as positive definite when its smallest eigenvalue exceeds this times its largest.
PD_RTOL = 1e-10


@dataclass(frozen=True)
class Gaussian:
    """The Laplace Gaussian ``N(mean, (−H)^{-1})`` from the eigendecomposition of −H."""

    mean: np.ndarray
    eigenvalues: np.ndarray  # of −H, all positive
    eigenvectors: np.ndarray

    @property
    def dim(self) -> int:
        """Dimension."""
        return int(self.mean.size)

    @property
    def log_det_precision(self) -> float:
        """``log det(−H)``."""
        return float(np.sum(np.log(self.eigenvalues)))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws, ``(n, d)``."""
        z = rng.standard_normal((n, self.dim))
        return self.mean + (z / np.sqrt(self.eigenvalues)) @ self.eigenvectors.T

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        """Log density at every row of ``x (n, d)``."""
        u = (np.asarray(x) - self.mean) @ self.eigenvectors
        quad = np.sum(u**2 * self.eigenvalues, axis=-1)
        return -0.5 * self.dim * LOG_2PI + 0.5 * self.log_det_precision - 0.5 * quad


@dataclass(frozen=True)
class LaplaceMass:
    """A Laplace log mass, or why there is none.

    Attributes
    ----------
    log_mass : float or None
        ``log p̃(x̂) + d/2 log 2π − ½ log det(−H)``; None when −H is not positive definite.
    reason : str
        Empty when there is an estimate, else why not.
    gaussian : Gaussian or None
        The Laplace Gaussian (None with no estimate).
    n_flat : int
        Eigenvalues of −H at or below ``PD_RTOL`` times the largest (0 with an estimate).
    """

    log_mass: float | None
    reason: str
    gaussian: Gaussian | None
    n_flat: int = 0


def laplace_log_mass(logp_hat: float, hessian: np.ndarray, mean: np.ndarray) -> LaplaceMass:
    """Laplace approximation of the mass of the mode at ``mean``.

    Parameters
    ----------
    logp_hat : float
        Unnormalised log density at the optimum.
    hessian : array (d, d)
        Its Hessian there (all free parameters, the space the density is defined on).
    mean : array (d,)
        The optimum.

    Returns
    -------
    LaplaceMass
    """
    H = np.asarray(hessian, dtype=float)
    if not np.all(np.isfinite(H)) or not math.isfinite(logp_hat):
        return LaplaceMass(None, "the log density or its Hessian is not finite there", None)
    ev, vec = np.linalg.eigh(-0.5 * (H + H.T))
    top = float(np.max(np.abs(ev))) if ev.size else 0.0
    flat = int(np.sum(ev <= PD_RTOL * top))
    if flat or top == 0.0:
        neg = int(np.sum(ev < -PD_RTOL * top))
        what = f"{neg} rising direction(s), a saddle" if neg else "flat direction(s)"
        return LaplaceMass(
            None,
            f"the Hessian is not negative definite ({flat} of {ev.size} eigenvalues of -H "
            f"at or below {PD_RTOL:g} x the largest: {what}); a Gaussian cannot hold this mass",
            None,
            flat,
        )
    g = Gaussian(np.asarray(mean, dtype=float), ev, vec)
    return LaplaceMass(logp_hat + 0.5 * ev.size * LOG_2PI - 0.5 * g.log_det_precision, "", g)


@dataclass(frozen=True)
class BridgeMass:
    """A bridge-sampling log mass.

    Attributes
    ----------
    log_mass : float
        The estimate.
    n_iter : int
        Fixed-point iterations.
    converged : bool
        Whether successive iterates agreed to ``tol``.
    n_draws, n_proposal : int
        Posterior draws and Gaussian draws used.
    """

    log_mass: float
    n_iter: int
    converged: bool
    n_draws: int
    n_proposal: int


def bridge_log_mass(
    log_density: Callable[[np.ndarray], np.ndarray],
    draws: np.ndarray,
    logp_draws: np.ndarray,
    gaussian: Gaussian,
    *,
    n_proposal: int | None = None,
    rng: np.random.Generator | int | None = None,
    tol: float = 1e-10,
    maxiter: int = 1000,
) -> BridgeMass:
    """Meng & Wong's iterative bridge sampler between posterior draws and a Gaussian.

    With ``l1 = log p̃ − log q`` at the ``n1`` posterior draws and ``l2`` the same at ``n2``
    draws from the Gaussian q, ``s_i = n_i / (n1 + n2)``, the log mass r is the fixed point of

    ``r = log mean_j [e^{l2_j} / (s1 e^{l2_j} + s2 e^r)] − log mean_i [1 / (s1 e^{l1_i} + s2 e^r)]``

    evaluated with ``logsumexp``/``logaddexp``, started from the importance-sampling value.

    Parameters
    ----------
    log_density : callable
        ``(m, d) -> (m,)``: the unnormalised log density.
    draws : array (n1, d)
        Posterior draws of one mode.
    logp_draws : array (n1,)
        ``log_density`` at the draws (e.g. the sampler's stored log density).
    gaussian : Gaussian
        The proposal (the Laplace Gaussian at the mode's optimum).
    n_proposal : int, optional
        Gaussian draws (default ``n1``).
    rng : Generator or int, optional
        Seed of the Gaussian draws.
    tol, maxiter : float, int
        Convergence tolerance (nats) and most iterations.

    Returns
    -------
    BridgeMass
    """
    rng = np.random.default_rng(rng)
    draws = np.asarray(draws, dtype=float)
    n1 = draws.shape[0]
    n2 = int(n_proposal or n1)
    y = gaussian.sample(n2, rng)
    with np.errstate(all="ignore"):
        lp_y = np.asarray(log_density(y), dtype=float)
    lp_y = np.where(np.isfinite(lp_y), lp_y, -np.inf)
    l1 = np.asarray(logp_draws, dtype=float) - gaussian.logpdf(draws)
    l2 = lp_y - gaussian.logpdf(y)
    ls1, ls2 = math.log(n1 / (n1 + n2)), math.log(n2 / (n1 + n2))
    r = float(logsumexp(l2) - math.log(n2))  # importance sampling from q: a starting value
    if not math.isfinite(r):
        r = float(np.median(l1))
    converged, it = False, 0
    for it in range(1, maxiter + 1):  # noqa: B007
        num = logsumexp(l2 - np.logaddexp(ls1 + l2, ls2 + r)) - math.log(n2)
        den = logsumexp(-np.logaddexp(ls1 + l1, ls2 + r)) - math.log(n1)
        new = float(num - den)
        if abs(new - r) < tol:
            r, converged = new, True
            break
        r = new
    return BridgeMass(r, it, converged, n1, n2)


def log_mean_exp(values: Sequence[float]) -> float:
    """``log(mean(exp(values)))``."""
    v = np.asarray(values, dtype=float)
    return float(logsumexp(v) - math.log(v.size))


def mass_shares(log_masses: Sequence[float | None]) -> np.ndarray:
    """Shares of the total mass (softmax); a None log mass gets share NaN and is left out."""
    lm = np.array([np.nan if m is None else float(m) for m in log_masses])
    out = np.full(lm.shape, np.nan)
    ok = np.isfinite(lm)
    if ok.any():
        out[ok] = softmax(lm[ok])
    return out


def class_stacking_weights(
    log_likelihood: np.ndarray, classes: Sequence[Sequence[int]]
) -> tuple[np.ndarray, np.ndarray]:
    """Stacking weights of pooled mode classes, shared equally among each class's chains.

    Each class's chains are pooled into one model (its pointwise PSIS-LOO from all their
    draws) and ``arviz.compare(method="stacking")`` weights the classes; stacking single
    chains instead is not identified when chains predict alike (it may put all weight on one
    of several equal chains).

    Parameters
    ----------
    log_likelihood : array (chain, draw, obs)
        Pointwise log-likelihood of every draw.
    classes : sequence of sequence of int
        The chains of each class; every chain in exactly one class.

    Returns
    -------
    chain_weights : array (chain,)
        Sums to 1.
    class_weights : array (n_classes,)
    """
    import arviz as az
    import xarray as xr

    ll = np.asarray(log_likelihood, dtype=float)
    n_chains = ll.shape[0]
    classes = [list(c) for c in classes if len(c)]
    if sorted(c for cl in classes for c in cl) != list(range(n_chains)):
        raise ValueError("classes: every chain must be in exactly one class")
    if len(classes) == 1:
        cw = np.ones(1)
    else:
        trees = {}
        for k, chains in enumerate(classes):
            a = ll[chains].reshape(len(chains), ll.shape[1], -1)
            coords = {"chain": np.arange(len(chains)), "draw": np.arange(a.shape[1])}
            trees[str(k)] = xr.DataTree.from_dict(
                {
                    "posterior": xr.Dataset(
                        {"_": (("chain", "draw"), np.zeros(a.shape[:2]))}, coords
                    ),
                    "log_likelihood": xr.Dataset({"y": (("chain", "draw", "obs"), a)}, coords),
                }
            )
        with warnings.catch_warnings():  # high Pareto k of a trapped class: its weight says it
            warnings.simplefilter("ignore")
            cmp = az.compare(trees, method="stacking", round_to="none")
        cw = np.array([float(cmp.loc[str(k), "weight"]) for k in range(len(classes))])
        cw = cw / cw.sum()
    w = np.zeros(n_chains)
    for k, chains in enumerate(classes):
        w[chains] = cw[k] / len(chains)
    return w, cw
