"""Mode classes, their mass, and the verdict that follows from the mass.

This module holds the rule, on plain numbers (no PyMC): :func:`bayesstack.geometry.analyze`
measures the classes and calls :func:`decide`.

The verdict rule
----------------
A *class* is a set of optima that are images of each other under the posterior symmetry
group (or lie on one orbit of a continuous posterior symmetry). Its *mass* is the orbit size
times the mass of one image; its *share* is its mass over the total of all classes (softmax of
the log masses; the draw-based estimate where the class has draws, else the Laplace one). A
class is *mass-bearing* when its share is at least ``min_mass`` (default 1e-3). Two classes
are *likelihood images* when they give the same η at the data (RMS of Δη at most half a
within-mode posterior sd of η) without being posterior images (e.g. sigmoid reflections,
which keep the likelihood but not the prior).

1. ``multimodal beyond symmetry``: at least two mass-bearing classes that are neither posterior
   nor likelihood images of each other.
2. ``likelihood-symmetric multimodality``: at least two mass-bearing classes, all likelihood
   images of each other.
3. ``continuous symmetry ridge``: one mass-bearing class, a continuous posterior symmetry acts
   (O(H) of identity layers) and the Hessian at the MAP is flat (≈ 0 eigenvalues) along the
   orbit's tangent directions.
4. ``symmetric multimodality``: one mass-bearing class whose orbit under the (non-trivial)
   posterior group has more than one point, whether or not the chains visited the images.
5. ``unimodal``: one mass-bearing class, fixed by the group (a GLM, or a fixed point).

Classes below ``min_mass`` are *trapped local modes*: their chains did not sample the
posterior. Adding light optima (more MAP starts) therefore never changes the verdict. When
no class has a mass estimate (the MAP did not run, or a continuous symmetry leaves the
Hessian singular), every class counts as mass-bearing, as the counts did before.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import numpy as np

from bayesstack.geometry.mass import mass_shares
from bayesstack.geometry.modes import components

#: Default share below which a class is a trapped local mode.
MIN_MASS = 1e-3


class Verdict(StrEnum):
    """The verdict of the geometry analysis (a ``str``: compares equal to its value)."""

    UNIMODAL = "unimodal"
    RIDGE = "continuous symmetry ridge"
    SYMMETRIC = "symmetric multimodality"
    LIKELIHOOD = "likelihood-symmetric multimodality"
    BEYOND = "multimodal beyond symmetry"


@dataclass(frozen=True)
class Ridge:
    """Flatness of the Hessian at the MAP along a continuous posterior orbit.

    Attributes
    ----------
    n_flat : int
        Tangent directions of the orbit along which the Hessian is ≈ 0.
    dimension : int
        The orbit's dimension (Σ H(H−1)/2 over O(H) layers).
    rank : int
        The orbit's dimension at the point: rank of the tangent vectors (less than
        ``dimension`` where a continuous subgroup fixes the point, e.g. units at ~0).
    eigenvalues : tuple of float
        Eigenvalues of −H restricted to the tangent space, relative to the largest of −H.
    """

    n_flat: int
    dimension: int
    rank: int
    eigenvalues: tuple[float, ...]

    @property
    def flat(self) -> bool:
        """Whether the Hessian is flat along at least one orbit direction."""
        return self.n_flat > 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "n_flat": self.n_flat,
            "dimension": self.dimension,
            "rank": self.rank,
            "eigenvalues": list(self.eigenvalues),
        }


@dataclass(frozen=True)
class ModeClass:
    """One class of optima up to posterior symmetry, and its mass.

    Attributes
    ----------
    index : int
        0 for the class of the best optimum, then by best log density.
    optima : tuple of int
        The MAP optima in the class (indices into ``MapResult``).
    chains : tuple of int
        Chains whose best draw's MAP run ended in the class.
    map_logp : float or None
        Log density (Jacobian included) at the class's best optimum.
    mean_logp : float or None
        Mean log density of its chains' draws.
    orbit_size : int or None
        Images of one optimum: |posterior group| / |stabiliser| (None: a continuous orbit).
    stabiliser_order : int
        Group elements that fix the optimum (1 for a generic point).
    log_mass_laplace, log_mass_draws : float or None
        Log mass of the class (orbit size x one image): Laplace at the best optimum, and
        bridge sampling from the chains' own draws (log-mean-exp over its chains).
    log_mass_draws_chains : tuple of float
        Bridge estimate of one image's log mass per chain, in the order of ``chains``.
    laplace_note, draws_note : str
        Why an estimate is missing (empty when present).
    likelihood_images : tuple of int
        Other classes with the same η at the data (not posterior images).
    mass_share : float or None
        Share of the total mass.
    mass_source : str
        ``"draws"``, ``"laplace"`` or ``""`` (no share).
    mass_bearing : bool
        Share at least ``min_mass`` (or no share known).
    """

    index: int
    optima: tuple[int, ...]
    chains: tuple[int, ...]
    map_logp: float | None
    mean_logp: float | None
    orbit_size: int | None
    stabiliser_order: int
    log_mass_laplace: float | None
    log_mass_draws: float | None
    log_mass_draws_chains: tuple[float, ...] = ()
    laplace_note: str = ""
    draws_note: str = ""
    likelihood_images: tuple[int, ...] = ()
    mass_share: float | None = None
    mass_source: str = ""
    mass_bearing: bool = True

    @property
    def log_mass(self) -> float | None:
        """The estimate the share uses: draws where there are draws, else Laplace."""
        return self.log_mass_draws if self.log_mass_draws is not None else self.log_mass_laplace

    @property
    def disagreement(self) -> float | None:
        """``log_mass_draws − log_mass_laplace`` (nats), when both exist."""
        if self.log_mass_draws is None or self.log_mass_laplace is None:
            return None
        return self.log_mass_draws - self.log_mass_laplace

    @property
    def chain_spread(self) -> float | None:
        """Range (nats) of the per-chain bridge estimates, with two or more chains."""
        v = self.log_mass_draws_chains
        return float(max(v) - min(v)) if len(v) > 1 else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the keys of ``mode_classes`` in docs/geometry.md)."""
        return {
            "index": self.index,
            "mass_share": _num(self.mass_share),
            "mass_source": self.mass_source or None,
            "log_mass_laplace": _num(self.log_mass_laplace),
            "log_mass_draws": _num(self.log_mass_draws),
            "log_mass_draws_chains": [_num(v) for v in self.log_mass_draws_chains],
            "log_mass_disagreement": _num(self.disagreement),
            "map_logp": _num(self.map_logp),
            "mean_logp": _num(self.mean_logp),
            "chains": list(self.chains),
            "mass_bearing": self.mass_bearing,
            "orbit_size": self.orbit_size,
            "stabiliser_order": self.stabiliser_order,
            "optima": list(self.optima),
            "likelihood_images": list(self.likelihood_images),
            "laplace_note": self.laplace_note or None,
            "draws_note": self.draws_note or None,
        }


def _num(v: float | None) -> float | None:
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def assign_shares(classes: Sequence[ModeClass], min_mass: float = MIN_MASS) -> list[ModeClass]:
    """Classes with ``mass_share``, ``mass_source`` and ``mass_bearing`` filled in.

    Shares exist only when every class has a log mass (draws or Laplace); otherwise every
    class is mass-bearing and has no share.
    """
    if not (0.0 < min_mass < 1.0):
        raise ValueError(f"min_mass: must be in (0, 1), got {min_mass!r}")
    masses = [c.log_mass for c in classes]
    if not classes or any(m is None for m in masses):
        return [replace(c, mass_share=None, mass_source="", mass_bearing=True) for c in classes]
    shares = mass_shares(masses)
    return [
        replace(
            c,
            mass_share=float(s),
            mass_source="draws" if c.log_mass_draws is not None else "laplace",
            mass_bearing=bool(s >= min_mass),
        )
        for c, s in zip(classes, shares, strict=True)
    ]


def decide(
    classes: Sequence[ModeClass],
    *,
    posterior_order: int,
    continuous_posterior: bool = False,
    ridge: Ridge | None = None,
) -> Verdict:
    """The verdict rule of the module docstring.

    Parameters
    ----------
    classes : sequence of ModeClass
        With shares assigned (:func:`assign_shares`).
    posterior_order : int
        Order of the discrete posterior group.
    continuous_posterior : bool
        Whether a continuous posterior symmetry acts.
    ridge : Ridge, optional
        The flatness check at the MAP along the continuous orbit.

    Returns
    -------
    Verdict
    """
    heavy = [c for c in classes if c.mass_bearing]
    if len(heavy) >= 2:

        def linked(i: int, j: int) -> bool:
            return heavy[j].index in heavy[i].likelihood_images or heavy[i].index in (
                heavy[j].likelihood_images
            )

        groups = components(len(heavy), linked)
        return Verdict.BEYOND if groups.max() >= 1 else Verdict.LIKELIHOOD
    if continuous_posterior and ridge is not None and ridge.flat:
        return Verdict.RIDGE
    best = heavy[0] if heavy else (classes[0] if classes else None)
    if continuous_posterior:
        return Verdict.SYMMETRIC
    orbit = posterior_order if best is None or best.orbit_size is None else best.orbit_size
    if posterior_order > 1 and orbit > 1:
        return Verdict.SYMMETRIC
    return Verdict.UNIMODAL


def trapped(classes: Sequence[ModeClass]) -> list[ModeClass]:
    """The classes below ``min_mass``: trapped local modes."""
    return [c for c in classes if not c.mass_bearing]


def stabiliser_order(
    units: Sequence[tuple[np.ndarray, bool]],
    tol: float,
) -> int:
    """Order of the stabiliser of one point under the discrete group, layer by layer.

    Parameters
    ----------
    units : sequence of (array (H, K), bool)
        Per hidden layer: each unit's weights (incoming column, bias, outgoing row) in units
        of the weight scale, and whether sign flips are a posterior symmetry of the layer.
    tol : float
        Two units are the same when no coordinate differs by more than ``tol``.

    Returns
    -------
    int
        ∏ over layers and classes of equal units of k! (units equal, or for flipping layers
        equal up to sign), times 2^k for k all-zero units of a flipping layer (a dead unit:
        its sign flip fixes it). A generic point has 1.
    """
    order = 1
    for v, flips in units:
        v = np.asarray(v, dtype=float)
        h = v.shape[0]
        seen = np.zeros(h, dtype=bool)
        for i in range(h):
            if seen[i]:
                continue
            same = [
                j
                for j in range(i, h)
                if not seen[j]
                and (
                    np.max(np.abs(v[i] - v[j])) <= tol
                    or (flips and np.max(np.abs(v[i] + v[j])) <= tol)
                )
            ]
            seen[same] = True
            k = len(same)
            order *= math.factorial(k)
            if flips and np.max(np.abs(v[i])) <= tol:
                order *= 2**k
    return order
