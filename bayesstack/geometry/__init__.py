"""Posterior geometry of stacked GLMs: symmetry, canonical draws, modes, MAP, mass, curvature.

The entry point is :func:`analyze`, which runs every analysis on a fitted run and returns a
:class:`GeometryResult` with a :class:`Verdict` decided by posterior mass (see
``docs/geometry.md``).
"""

from bayesstack.geometry.analysis import (
    BEYOND,
    LIKELIHOOD,
    RIDGE,
    SYMMETRIC,
    UNIMODAL,
    GeometryResult,
    analyze,
)
from bayesstack.geometry.evidence import MIN_MASS, ModeClass, Verdict, decide

__all__ = [
    "BEYOND",
    "LIKELIHOOD",
    "MIN_MASS",
    "RIDGE",
    "SYMMETRIC",
    "UNIMODAL",
    "GeometryResult",
    "ModeClass",
    "Verdict",
    "analyze",
    "decide",
]
