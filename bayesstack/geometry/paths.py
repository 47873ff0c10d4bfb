"""The log density between modes: straight segments, orbit paths and 2-D slices.

Points are whole unconstrained parameter vectors (weights and log noise), evaluated with the
geometry's one compiled density (:class:`bayesstack.geometry.density.Density`, Jacobian
included): the density NUTS samples. Modes are found in the run itself: the best draw of each
chain. Two chains' best draws are symmetric modes by the rule of
:func:`bayesstack.geometry.modes.mode_pairs`: farther apart than the clustering threshold, and
within it after a posterior group element aligns one onto the other.

A straight segment ``(1 − t) A + t B`` between two modes generally drops: that drop is a
property of the segment, not a barrier the sampler has to cross. Under O(H) of an identity layer
the posterior density is constant along the orbit ``θ(t) = g(t)·A`` with ``g(t) = expm(t K)``,
K skew-symmetric. :func:`orbit_path` finds, layer by layer, the rotation that aligns A with B
(orthogonal Procrustes on the layer's incoming weights and bias, ``Q = U Vᵀ`` from the SVD of
``[W; b]_Aᵀ [W; b]_B``), takes ``K = log Q`` and evaluates the density along the way. A rotation
with determinant −1 is not reachable along a continuous path from the identity: A is then first
moved by a sign flip of its last unit (an exact posterior image, of equal density), and the path
starts there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from bayesstack.geometry.density import Density, posterior_flat
from bayesstack.geometry.modes import THRESHOLD, distance, image_residual, within_scale
from bayesstack.inference.io import model_from_run, sampler_log_density, spec_of, weight_draws
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


@dataclass(frozen=True)
class LogDensity:
    """A run's log density on flat unconstrained vectors, and its posterior draws as such."""

    density: Density  # the geometry's one compiled density (Jacobian included)
    names: tuple[str, ...]  # value variables, in flat order
    shapes: tuple[tuple[int, ...], ...]
    weights: np.ndarray  # bool mask of the weight coordinates
    draws: np.ndarray  # (chain, draw, P): posterior draws, unconstrained
    logp: np.ndarray  # (chain, draw)

    def __call__(self, x: np.ndarray) -> float:
        """Log density at one flat vector."""
        return self.density(x)[0]

    def many(self, X: np.ndarray) -> np.ndarray:
        """Log density at every row of ``X (..., P)``."""
        return self.density.logp(X)


def log_density(run: xr.DataTree) -> LogDensity:
    """The compiled log density of ``run`` and its draws as flat unconstrained vectors.

    The draws are mapped by each variable's own PyMC transform
    (:meth:`bayesstack.geometry.density.Density.unconstrain`).
    """
    spec = spec_of(run)
    dens = Density(model_from_run(run), spec)
    draws = posterior_flat(dens, run["posterior"].to_dataset())
    mask = np.zeros(dens.size, dtype=bool)
    mask[dens.weight_index] = True
    logp = sampler_log_density(run)
    logp = dens.logp(draws) if logp is None else logp
    shapes = tuple(dens.shapes[n] for n in dens.names)
    return LogDensity(dens, tuple(dens.names), shapes, mask, draws, logp)


@dataclass(frozen=True)
class Endpoints:
    """Two points A, B (flat unconstrained vectors) and how they were found."""

    a: np.ndarray
    b: np.ndarray
    label: str
    chains: tuple[int, ...] = ()


def chain_modes(ld: LogDensity) -> np.ndarray:
    """The best draw of every chain, ``(C, P)``."""
    return ld.draws[np.arange(ld.logp.shape[0]), np.argmax(ld.logp, axis=1)]


def _symmetric_pairs(run: xr.DataTree, logp: np.ndarray) -> list[tuple[float, int, int]]:
    """Chain pairs whose best draws are distinct modes and images of each other.

    Distances are in within-mode sds of the weights, Chebyshev, as in
    :func:`bayesstack.geometry.modes.mode_pairs`. Returns ``(residual, i, j)``, best match first.
    """
    spec = spec_of(run)
    theta = flatten(weight_draws(run["posterior"].to_dataset(), spec), spec, 2)
    scale = within_scale(theta)
    w = theta[np.arange(theta.shape[0]), np.argmax(logp, axis=1)]
    d = run["constant_data"]["X"].shape[1]
    out = []
    for i in range(len(w)):
        for j in range(i + 1, len(w)):
            if distance(w[i], w[j], scale) <= THRESHOLD:
                continue  # the same mode
            res = image_residual(spec, w[i], w[j], scale, d)
            if res <= THRESHOLD:
                out.append((res, i, j))
    return sorted(out)


def _image(run: xr.DataTree, ld: LogDensity, x: np.ndarray, seed: int) -> np.ndarray:
    """``x`` moved by a random non-identity element of the posterior symmetry group."""
    from bayesstack.geometry.symmetry import apply, random_element

    spec = spec_of(run)
    names = list(ld.names)
    params = ld.density.split(x)
    rng = np.random.default_rng(seed)
    for _ in range(100):
        moved = apply(spec, params, random_element(spec, rng=rng))
        y = np.concatenate([np.ravel(moved[n]) for n in names])
        if np.linalg.norm(y - x) > 1e-6 * (1 + np.linalg.norm(x)):
            return y
    return x


def mode_pair(run: xr.DataTree, ld: LogDensity, *, seed: int = 0) -> Endpoints:
    """Two symmetric modes of a stack, or two distant draws of a GLM's single mode."""
    if spec_of(run).depth == 0:
        flat = ld.draws.reshape(-1, ld.draws.shape[-1])
        w = flat[:, ld.weights]
        z = w - w.mean(0)
        _, _, vt = np.linalg.svd(z / (z.std(0) + 1e-12), full_matrices=False)
        score = (z / (z.std(0) + 1e-12)) @ vt[0]
        a, b = flat[np.argmin(score)], flat[np.argmax(score)]
        return Endpoints(a, b, "A, B: its two most distant draws on the first principal axis")
    pairs = _symmetric_pairs(run, ld.logp)
    raw = chain_modes(ld)
    if pairs:
        _, i, j = pairs[0]
        return Endpoints(raw[i], raw[j], f"A, B: best draws of chains {i} and {j}", (i, j))
    top = int(np.argmax(ld.logp.max(axis=1)))
    b = _image(run, ld, raw[top], seed)
    return Endpoints(
        raw[top], b, f"A: best draw (chain {top}); B: its image under the group", (top,)
    )


def nats(x: float) -> str:
    """A log-density difference for people: ``1950``, ``41.9``, ``0.31``."""
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.3g}"


@dataclass(frozen=True)
class Path:
    """The log density along ``(1 - t) A + t B``."""

    t: np.ndarray
    logp: np.ndarray
    logp_a: float
    logp_b: float
    barrier: float
    label: str

    def describe(self) -> str:
        """One sentence with the numbers."""
        if self.barrier > 0:
            return (
                f"{self.label}; log density {self.logp_a:.1f} and {self.logp_b:.1f} at the ends, "
                f"drop along the segment {nats(self.barrier)} nats."
            )
        rise = float(np.max(self.logp) - max(self.logp_a, self.logp_b))
        return f"{self.label}; no drop along the segment, it rises {nats(rise)} nats between them."


def mode_path(run: xr.DataTree, t: np.ndarray, *, seed: int = 0) -> Path:
    """Log density along the straight line between two modes of ``run`` (see :func:`mode_pair`).

    Parameters
    ----------
    run : xarray.DataTree
        A fitted run.
    t : array
        Positions on the line; 0 is A and 1 is B.
    seed : int
        Seed of the group element used when no two chains sit in symmetric modes.

    Returns
    -------
    Path
        ``barrier``: how far the density falls below the lower endpoint between A and B (a
        drop along the segment; the sampler does not move along straight lines).
    """
    ld = log_density(run)
    pair = mode_pair(run, ld, seed=seed)
    X = (1 - t)[:, None] * pair.a + t[:, None] * pair.b
    lp = ld.many(X)
    la, lb = ld(pair.a), ld(pair.b)
    inside = (t >= 0) & (t <= 1)
    barrier = max(0.0, min(la, lb) - float(np.min(lp[inside])))
    return Path(t, lp, la, lb, barrier, pair.label)


@dataclass(frozen=True)
class Slice:
    """The log density on a plane: ``logp[i, j]`` at ``A + alpha[i] (B - A) + beta[j] e2``."""

    alpha: np.ndarray
    beta: np.ndarray
    logp: np.ndarray
    points: tuple[tuple[float, float], ...]
    point_labels: tuple[str, ...]
    label: str

    def describe(self) -> str:
        """What the plane goes through."""
        return self.label


def mode_slice(run: xr.DataTree, *, n: int = 61, seed: int = 0) -> Slice:
    """The log density on the plane through two symmetric modes A, B and a third point C.

    C is a third chain's mode that is an image of A, else A moved by a random group element.
    Only the weights move; the noise parameters stay at A's values.
    """
    ld = log_density(run)
    pair = mode_pair(run, ld, seed=seed)
    raw = chain_modes(ld)
    third = [
        (r, i, j)
        for r, i, j in _symmetric_pairs(run, ld.logp)
        if pair.chains and pair.chains[0] in (i, j) and {i, j} != set(pair.chains)
    ]
    if third:
        k = third[0][2] if third[0][1] == pair.chains[0] else third[0][1]
        c, clab = raw[k], f"chain {k}"
    else:
        c, clab = _image(run, ld, pair.a, seed + 1), "image of A"
    m = ld.weights
    a, e1 = pair.a, np.where(m, pair.b - pair.a, 0.0)
    w = np.where(m, c - a, 0.0)
    n1 = float(e1 @ e1)
    c1 = float(w @ e1) / n1
    v = w - c1 * e1
    c2 = float(np.linalg.norm(v)) / np.sqrt(n1)
    if c2 < 1e-6:  # C on the line through A and B: any orthogonal direction
        v = np.where(m, np.random.default_rng(seed).normal(size=a.shape), 0.0)
        v -= (v @ e1) / n1 * e1
        c2 = 0.0
    e2 = v / np.linalg.norm(v) * np.sqrt(n1)
    alpha = np.linspace(min(0, c1) - 0.35, max(1, c1) + 0.35, n)
    hi = max(c2, 0.5)
    beta = np.linspace(-0.35 if c2 > 0 else -hi, hi + 0.35 if c2 > 0 else hi, n)
    grid = a + alpha[:, None, None] * e1 + beta[None, :, None] * e2
    lp = ld.many(grid)
    pts = [(0.0, 0.0), (1.0, 0.0)]
    labs = ["A", "B"]
    if c2 > 0:
        pts.append((c1, c2))
        labs.append("C")
    label = f"A and B ({pair.label.split(': ', 1)[-1]}) and C ({clab})"
    return Slice(alpha, beta, lp, tuple(pts), tuple(labs), label)


def orbit_path_between(run: xr.DataTree, t: np.ndarray, *, seed: int = 0):
    """The log density along the continuous orbit from A to B's alignment.

    A and B are those of :func:`mode_path`. For specs with a continuous posterior symmetry;
    None otherwise. Returns :class:`OrbitPath`.
    """
    from bayesstack.geometry.symmetry import symmetry_group

    spec = spec_of(run)
    group = symmetry_group(spec)
    if not group.posterior_continuous:
        return None
    ld = log_density(run)
    pair = mode_pair(run, ld, seed=seed)
    d = run["constant_data"]["X"].shape[1]
    return orbit_path(spec, group, ld.density, pair.a, pair.b, t, d)
