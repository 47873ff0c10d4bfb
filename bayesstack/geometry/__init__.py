"""Posterior geometry of stacked GLMs: symmetry, canonical draws, modes, MAP, Hessians, curvature.

The entry point is :func:`analyze`, which runs every analysis on a fitted run and returns a
:class:`GeometryResult` with a verdict (see ``docs/geometry.md``).
"""

from bayesstack.geometry.analysis import (
    BEYOND,
    SYMMETRIC,
    UNIMODAL,
    GeometryResult,
    analyze,
    verdict_of,
)

__all__ = ["BEYOND", "SYMMETRIC", "UNIMODAL", "GeometryResult", "analyze", "verdict_of"]
