"""Posterior geometry of stacked GLMs: symmetry, canonical draws, modes, MAP, Hessians, curvature.

The entry point is :func:`analyze`, which runs every analysis on a fitted run and returns a
:class:`GeometryResult` with a :class:`Verdict` decided by posterior mass (see
``docs/geometry.md``). Names load on first use, so the numpy-only modules (``symmetry``,
``canonical``, ``modes``) import without ArviZ or PyMC.
"""

from bayesstack._lazy import lazy_exports

_EXPORTS = {
    "BEYOND": ".analysis",
    "LIKELIHOOD": ".analysis",
    "RIDGE": ".analysis",
    "SYMMETRIC": ".analysis",
    "UNIMODAL": ".analysis",
    "GeometryResult": ".analysis",
    "analyze": ".analysis",
    "MIN_MASS": ".evidence",
    "ModeClass": ".evidence",
    "Verdict": ".evidence",
    "decide": ".evidence",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
