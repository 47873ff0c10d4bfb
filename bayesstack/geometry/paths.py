"""Paths along a continuous posterior symmetry: the orbit between two points of a ridge.

Under O(H) of an identity layer the posterior density is constant along the orbit
``θ(t) = g(t)·A`` with ``g(t) = expm(t K)``, K skew-symmetric. :func:`orbit_path` finds, layer
by layer, the rotation that aligns A with B (orthogonal Procrustes on the layer's incoming
weights and bias, ``Q = U Vᵀ`` from the SVD of ``[W; b]_Aᵀ [W; b]_B``), takes ``K = log Q``
and evaluates the density along the way. A rotation with determinant −1 is not reachable
along a continuous path from the identity: A is then first moved by a sign flip of its last
unit (an exact posterior image, of equal density), and the path starts there.

A straight segment ``(1 − t) A + t B`` between the same points generally drops: that drop is a
property of the segment, not a barrier the sampler has to cross.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayesstack.model.network import flatten, unflatten
from bayesstack.spec import Spec


@dataclass(frozen=True)
class OrbitPath:
    """The density along an orbit path.

    Attributes
    ----------
    t : array
        Positions, 0 = start, 1 = end.
    logp : array
        Log density along the orbit.
    start, end : array (size,)
        Flat unconstrained vectors at t = 0 and t = 1.
    flipped : bool
        Whether A was first sign-flipped (a determinant −1 alignment).
    residual : float
        Largest |end − B| over the weights after alignment (B need not be an exact image).
    """

    t: np.ndarray
    logp: np.ndarray
    start: np.ndarray
    end: np.ndarray
    flipped: bool
    residual: float

    @property
    def variation(self) -> float:
        """Largest |logp(t) − logp(0)| along the path (0 on an exact orbit, up to rounding)."""
        return float(np.max(np.abs(self.logp - self.logp[0])))


def _params(spec: Spec, theta: np.ndarray, d: int) -> dict[str, np.ndarray]:
    return {k: v[0] for k, v in unflatten(np.asarray(theta)[None], spec, d).items()}


def _stacked(p: dict, l: int) -> np.ndarray:
    """Layer ``l``'s incoming weights with its bias as a last row, ``(n_in [+1], H)``."""
    w = p[f"W{l}"]
    return np.vstack([w, p[f"b{l}"][None, :]]) if f"b{l}" in p else w


def _procrustes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    u, _, vt = np.linalg.svd(a.T @ b)
    return u @ vt


def _rotations(spec: Spec, group, a: dict, b: dict) -> tuple[dict, dict[int, np.ndarray], bool]:
    """A (sign-flipped where needed) and the rotations in SO(H) that align it with B.

    Layer by layer: each layer's Procrustes problem is solved on A moved by the layers before.
    """
    from bayesstack.geometry.symmetry import apply_layer

    start, moved, rots, flipped = dict(a), dict(a), {}, False
    for c in group.posterior_continuous:
        l, h = c.layer, c.units
        q = _procrustes(_stacked(moved, l), _stacked(b, l))
        if np.linalg.det(q) < 0:  # not in SO(H): flip the last unit first (a posterior image)
            sign = np.ones(h)
            sign[-1] = -1.0
            start.update(apply_layer(spec, start, l, np.arange(h), sign=sign))
            moved.update(apply_layer(spec, moved, l, np.arange(h), sign=sign))
            q = _procrustes(_stacked(moved, l), _stacked(b, l))
            flipped = True
        rots[l] = q
        moved.update(apply_layer(spec, moved, l, np.arange(h), matrix=q))
    return start, rots, flipped


def orbit_path(
    spec: Spec, group, density, x_a: np.ndarray, x_b: np.ndarray, t: np.ndarray, n_features: int
) -> OrbitPath:
    """The log density along the O(H) orbit from A towards B's alignment.

    Parameters
    ----------
    spec, group : Spec, SymmetryGroup
        A spec with continuous posterior symmetries (identity layers, isotropic priors).
    density : Density
        The compiled density.
    x_a, x_b : array (size,)
        Flat unconstrained vectors; the noise parameters stay at A's values.
    t : array
        Positions along the path (0: A, or A flipped; 1: A rotated onto B's alignment).
    n_features : int
        Input width.

    Returns
    -------
    OrbitPath
    """
    from scipy.linalg import expm, logm

    from bayesstack.geometry.symmetry import apply_layer

    a = _params(spec, density.weights(x_a), n_features)
    b = _params(spec, density.weights(x_b), n_features)
    start_params, rots, flipped = _rotations(spec, group, a, b)
    gens = {l: np.real(logm(q)) for l, q in rots.items()}
    gens = {l: 0.5 * (k - k.T) for l, k in gens.items()}  # exactly skew-symmetric
    xs = []
    for ti in np.asarray(t, dtype=float):
        p = dict(start_params)
        for c in group.posterior_continuous:
            p.update(
                apply_layer(spec, p, c.layer, np.arange(c.units), matrix=expm(ti * gens[c.layer]))
            )
        x = np.array(x_a, dtype=float)
        x[density.weight_index] = flatten(p, spec)
        xs.append(x)
    xs = np.asarray(xs)
    start = np.array(x_a, dtype=float)
    start[density.weight_index] = flatten(start_params, spec)
    end = np.array(x_a, dtype=float)
    p = dict(start_params)
    for c in group.posterior_continuous:
        p.update(apply_layer(spec, p, c.layer, np.arange(c.units), matrix=expm(gens[c.layer])))
    end[density.weight_index] = flatten(p, spec)
    residual = float(np.max(np.abs(density.weights(end) - density.weights(x_b))))
    return OrbitPath(np.asarray(t, dtype=float), density.logp(xs), start, end, flipped, residual)
