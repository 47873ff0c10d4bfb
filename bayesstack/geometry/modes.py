"""Modes of a posterior in weight space: raw, up to symmetry, and which are images of which.

Everything here works on arrays of draws ``x`` of shape ``(chain, draw, P)`` (for the weights,
θ = :func:`bayesstack.model.network.flatten` of ``W*``/``b*`` in ``weight_names`` order).

The clustering rule
-------------------
* **Unit.** Distances are measured in within-mode standard deviations: per coordinate,
  ``scale_p = sqrt(median over chains of the within-chain variance of x_p)``. The median keeps
  the unit honest while fewer than half of the chains switch modes.
* **Distance.** Between two sets of draws, ``d = max_p |mean_a,p - mean_b,p| / scale_p``: the
  Chebyshev distance of their means in those units. One well-separated coordinate suffices,
  so a swap of two units among many still shows; noise in a mean is a fraction of a unit.
* **Segments.** Each chain is cut into consecutive segments of ``segment_length`` draws
  (default ``max(50, draws // 10)``), so that a chain that switches modes mid-run shows up as
  segments in different modes. A segment whose two halves are farther apart than the threshold
  straddles a switch: it is *transitional*.
* **Modes.** Single-linkage clusters of the means of the other segments, joined while
  ``d <= threshold`` (default :data:`THRESHOLD` = 5 units: on real fits, segments of one mode
  are < 4 units apart and symmetric images > 7). Every draw takes its segment's mode; draws
  of transitional segments take the nearest mode centre.

Modes are numbered by decreasing mean log density (or size, when none is given). Two raw modes
are *images* of each other when a posterior group element maps one centre onto the other up
to a residual ``<= threshold`` units (:func:`mode_pairs`, using the alignment canonicaliser).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage

from bayesstack.model.network import unflatten, weight_names
from bayesstack.spec import Spec

#: Default clustering threshold, in within-mode standard deviations.
THRESHOLD = 5.0
#: Shortest default segment, in draws.
MIN_SEGMENT = 50
#: Most mode pairs compared exhaustively (12 modes).
MAX_PAIRS = 66


@dataclass(frozen=True)
class Mode:
    """One mode found by :func:`cluster_modes`.

    Attributes
    ----------
    index : int
        Its number (0 = highest mean log density).
    n_draws : int
        Draws assigned to it.
    chains : tuple of int
        Chains with at least one draw in it.
    chain_share : float
        Mean over chains of the fraction of each chain's draws in it (shares sum to 1).
    mean_logp : float or None
        Mean log density of its draws.
    """

    index: int
    n_draws: int
    chains: tuple[int, ...]
    chain_share: float
    mean_logp: float | None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-serialisable)."""
        return {
            "index": self.index,
            "n_draws": self.n_draws,
            "chains": list(self.chains),
            "chain_share": self.chain_share,
            "mean_logp": self.mean_logp,
        }


@dataclass(frozen=True, eq=False)
class ModeClusters:
    """Modes of a set of draws and the assignment of every draw to one.

    Attributes
    ----------
    labels : int array (chain, draw)
        Mode of every draw.
    modes : tuple of Mode
        The modes, best first.
    centers : array (n_modes, P)
        Mean of each mode's draws.
    scale : array (P,)
        The unit of distance: within-mode sd per coordinate.
    threshold : float
        Largest distance, in units of ``scale``, within one mode.
    segment_length : int
        Draws per segment.
    n_transitional : int
        Segments that straddle a mode switch.
    """

    labels: np.ndarray
    modes: tuple[Mode, ...]
    centers: np.ndarray
    scale: np.ndarray
    threshold: float
    segment_length: int
    n_transitional: int

    @property
    def n_modes(self) -> int:
        """Number of modes."""
        return len(self.modes)

    @property
    def switching_chains(self) -> tuple[int, ...]:
        """Chains whose draws lie in more than one mode."""
        return tuple(int(c) for c in np.flatnonzero([len(np.unique(r)) > 1 for r in self.labels]))

    def distance(self, i: int, j: int) -> float:
        """Distance between the centres of modes ``i`` and ``j``, in units of ``scale``."""
        return distance(self.centers[i], self.centers[j], self.scale)

    def to_dict(self) -> dict[str, Any]:
        """Summary (no per-draw arrays)."""
        return {
            "n_modes": self.n_modes,
            "threshold": self.threshold,
            "segment_length": self.segment_length,
            "n_transitional_segments": self.n_transitional,
            "switching_chains": list(self.switching_chains),
            "modes": [m.to_dict() for m in self.modes],
        }


@dataclass(frozen=True)
class ModePair:
    """Whether raw mode ``j`` is an image of raw mode ``i`` under the posterior group.

    Attributes
    ----------
    i, j : int
        Mode indices, ``i < j``.
    distance : float
        Distance of the centres before alignment (within-mode sd units).
    residual : float
        Distance after mapping ``j``'s centre onto ``i``'s by the best group element found.
    symmetric : bool
        ``residual <= threshold``.
    """

    i: int
    j: int
    distance: float
    residual: float
    symmetric: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-serialisable)."""
        return dict(self.__dict__)


# --- array helpers ---------------------------------------------------------------------------
def within_scale(x: np.ndarray) -> np.ndarray:
    """Within-mode sd per coordinate: ``sqrt(median_chains var_within_chain)``, ``(P,)``.

    Coordinates that never move get a tiny positive floor, so that distances stay finite.
    """
    x = np.asarray(x, dtype=float)
    var = np.median(x.var(axis=1), axis=0)
    floor = 1e-12 * (1.0 + np.abs(x).max(axis=(0, 1)))
    return np.sqrt(np.maximum(var, floor**2))


def segment_bounds(n_draws: int, segment_length: int) -> np.ndarray:
    """Start indices of the segments of a chain, plus ``n_draws`` at the end."""
    k = max(1, n_draws // max(1, segment_length))
    return np.linspace(0, n_draws, k + 1).round().astype(int)


def _means(x: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Means over draws within ``[bounds[k], bounds[k+1])``: ``(chain, K, P)``."""
    sums = np.add.reduceat(x, bounds[:-1], axis=1)
    return sums / np.maximum(np.diff(bounds), 1)[None, :, None]


def _default_length(n_draws: int) -> int:
    return min(n_draws, max(MIN_SEGMENT, n_draws // 10))


def cluster_modes(
    x: np.ndarray,
    *,
    logp: np.ndarray | None = None,
    threshold: float = THRESHOLD,
    segment_length: int | None = None,
    scale: np.ndarray | None = None,
) -> ModeClusters:
    """Cluster draws into modes (see the module docstring for the rule).

    Parameters
    ----------
    x : array (chain, draw, P)
        Draws, e.g. flat weights θ.
    logp : array (chain, draw), optional
        Log density of every draw; orders the modes and gives their mean log density.
    threshold : float
        Largest distance within one mode, in within-mode sds.
    segment_length : int, optional
        Draws per segment; default ``max(50, draws // 10)``.
    scale : array (P,), optional
        The unit of distance; default :func:`within_scale` of ``x``.

    Returns
    -------
    ModeClusters
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 3:
        raise ValueError(f"x: expected (chain, draw, P), got shape {x.shape}")
    n_chains, n_draws, _ = x.shape
    length = segment_length or _default_length(n_draws)
    scale = within_scale(x) if scale is None else np.asarray(scale, dtype=float)
    bounds = segment_bounds(n_draws, length)
    z = x / scale
    seg = _means(z, bounds)  # (chain, K, P) in units of scale
    halves = np.empty(2 * bounds.size - 1, dtype=int)
    halves[0::2], halves[1::2] = bounds, (bounds[:-1] + bounds[1:]) // 2
    h = _means(z, halves)  # (chain, 2K, P): first and second half of every segment
    transitional = np.max(np.abs(h[:, 0::2] - h[:, 1::2]), axis=-1) > threshold
    transitional &= np.diff(bounds)[None, :] >= 4  # halves of tiny segments are noise
    if transitional.all():
        transitional[:] = False
    flat = seg.reshape(-1, seg.shape[-1])
    keep = ~transitional.reshape(-1)
    seg_label = np.full(flat.shape[0], -1)
    if keep.sum() == 1:
        seg_label[keep] = 0
    else:
        tree = linkage(flat[keep], method="single", metric="chebyshev")
        seg_label[keep] = fcluster(tree, t=threshold, criterion="distance") - 1
    k = int(seg_label.max()) + 1
    centres = np.stack([flat[seg_label == c].mean(axis=0) for c in range(k)])
    labels = np.repeat(seg_label.reshape(n_chains, -1), np.diff(bounds), axis=1)
    if (labels < 0).any():  # transitional draws: nearest centre, standardised Euclidean
        c, d = np.nonzero(labels < 0)
        dist = np.square(z[c, d][:, None, :] - centres[None]).sum(-1)
        labels[c, d] = dist.argmin(-1)
    return _finish(x, labels, logp, scale, threshold, length, int(transitional.sum()))


def _finish(x, labels, logp, scale, threshold, length, n_trans) -> ModeClusters:
    """Renumber modes (best first), compute centres and the per-mode table."""
    n_chains = x.shape[0]
    used = np.unique(labels)
    key = []
    for c in used:
        m = labels == c
        key.append(-float(np.mean(logp[m])) if logp is not None else -int(m.sum()))
    order = used[np.argsort(key, kind="stable")]
    new = np.empty(int(labels.max()) + 1, dtype=int)
    new[order] = np.arange(order.size)
    labels = new[labels]
    modes, centres = [], []
    for i in range(order.size):
        m = labels == i
        centres.append(x[m].mean(axis=0))
        modes.append(
            Mode(
                index=i,
                n_draws=int(m.sum()),
                chains=tuple(int(c) for c in np.flatnonzero(m.any(axis=1))),
                chain_share=float(m.mean(axis=1).sum() / n_chains),
                mean_logp=None if logp is None else float(np.mean(logp[m])),
            )
        )
    return ModeClusters(
        labels=labels,
        modes=tuple(modes),
        centers=np.stack(centres),
        scale=scale,
        threshold=float(threshold),
        segment_length=int(length),
        n_transitional=n_trans,
    )


# --- images under the symmetry group ---------------------------------------------------------
def align_to(spec: Spec, reference: np.ndarray, other: np.ndarray, n_features: int) -> np.ndarray:
    """Map the flat weights ``other`` as close to ``reference`` as the posterior group allows.

    Uses the alignment canonicaliser against ``reference`` (no relu rescaling: that is a
    likelihood-only symmetry). A GLM has no symmetry: ``other`` comes back unchanged.
    """
    if spec.depth == 0:
        return np.asarray(other, dtype=float)
    from bayesstack.geometry.canonical import canonicalize
    from bayesstack.model.network import flatten

    # unflatten needs a leading dim (network.unflatten fails on a scalar bias without one)
    ref = {k: v[0] for k, v in unflatten(np.asarray(reference)[None], spec, n_features).items()}
    oth = unflatten(np.asarray(other, dtype=float)[None], spec, n_features)
    res = canonicalize(spec, oth, method="align", reference=ref, rescale=False)
    return flatten({k: res.params[k] for k in weight_names(spec)}, spec, 1)[0]


def distance(a: np.ndarray, b: np.ndarray, scale: np.ndarray) -> float:
    """The distance of this module: largest ``|a - b| / scale`` over coordinates (Chebyshev)."""
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)) / scale))


def image_residual(
    spec: Spec, reference: np.ndarray, other: np.ndarray, scale: np.ndarray, n_features: int
) -> float:
    """How far ``other`` stays from ``reference`` after the best alignment by the group.

    :func:`distance` (units of ``scale``) between ``reference`` and :func:`align_to` of
    ``other``: at most the clustering threshold when ``other`` is an image of ``reference``.
    """
    return distance(reference, align_to(spec, reference, other, n_features), scale)


def components(n: int, linked) -> np.ndarray:
    """Connected components of ``0..n-1`` under ``linked(i, j)`` (single linkage).

    Returns each item's component, numbered in order of first appearance.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    pairs = [(i, j) for j in range(1, n) for i in range(j) if linked(i, j)]
    rows, cols = (np.array(x, dtype=int) for x in zip(*pairs, strict=True)) if pairs else ([], [])
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    return np.unique(label, return_inverse=True)[1] if n else label


def mode_pairs(
    spec: Spec,
    clusters: ModeClusters,
    n_features: int,
    *,
    threshold: float | None = None,
    max_pairs: int = MAX_PAIRS,
) -> tuple[ModePair, ...]:
    """For every pair of modes, whether a posterior group element maps one onto the other.

    With more than ``max_pairs`` pairs, each mode is compared only with the first mode of
    every class found so far (greedily, best first), which still decides the classes.

    Parameters
    ----------
    spec : Spec
        The architecture (its symmetry group).
    clusters : ModeClusters
        Raw modes of the flat weights θ.
    n_features : int
        Number of inputs ``D`` (to unflatten θ).
    threshold : float, optional
        Largest residual of an image, in within-mode sds; default ``clusters.threshold``.
    max_pairs : int
        Most pairs compared exhaustively.

    Returns
    -------
    tuple of ModePair
        One per pair ``i < j`` compared.
    """
    thr = clusters.threshold if threshold is None else float(threshold)

    def pair(i: int, j: int) -> ModePair:
        c = clusters.centers
        res = image_residual(spec, c[i], c[j], clusters.scale, n_features)
        return ModePair(i, j, clusters.distance(i, j), res, res <= thr)

    k = clusters.n_modes
    if k * (k - 1) // 2 <= max_pairs:
        return tuple(pair(i, j) for i, j in itertools.combinations(range(k), 2))
    out, heads = [], []
    for j in range(k):
        for i in heads:
            out.append(pair(i, j))
            if out[-1].symmetric:
                break
        else:
            heads.append(j)
    return tuple(out)


def count_orbits(n_modes: int, pairs: tuple[ModePair, ...]) -> int:
    """Number of classes of modes under "is an image of" (connected components)."""
    images = {(p.i, p.j) for p in pairs if p.symmetric}
    labels = components(n_modes, lambda i, j: (i, j) in images)
    return int(labels.max()) + 1 if n_modes else 0
