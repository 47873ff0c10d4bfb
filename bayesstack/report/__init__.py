"""Comparison reports: the numbers, the answer paragraph, the figures, HTML and Markdown.

``compare_runs`` is what ``bayesstack compare RUN1.nc RUN2.nc ... --out report.html`` calls;
``write_report`` renders a comparison already collected (the demo uses it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xarray as xr

from bayesstack.report.answer import answer_paragraph
from bayesstack.report.compare import Comparison, ModelRow, collect, unique_names
from bayesstack.report.progress import Stages, stages
from bayesstack.report.quiet import handled_warnings
from bayesstack.report.render import ReportPaths, output_paths, write_files

__all__ = [
    "Comparison",
    "ModelRow",
    "Report",
    "answer_paragraph",
    "collect",
    "compare_runs",
    "render_report",
    "write_report",
]


@dataclass(frozen=True)
class Report:
    """A written report: its files, its numbers and its answer paragraph."""

    paths: ReportPaths
    comparison: Comparison
    paragraph: str

    @property
    def html(self) -> Path:
        """The self-contained HTML file."""
        return self.paths.html

    @property
    def markdown(self) -> Path:
        """The Markdown file (images in ``<stem>_files/`` beside it)."""
        return self.paths.markdown


def write_report(
    comparison: Comparison,
    out: str | Path,
    *,
    seed: int | None = None,
    title: str = "bayesstack comparison report",
    progress: bool = False,
) -> Report:
    """Draw the figures of ``comparison`` and write ``report.html`` and ``report.md``.

    Parameters
    ----------
    comparison : Comparison
        From :func:`bayesstack.report.compare.collect`.
    out : str or Path
        The HTML file; the Markdown and its ``<stem>_files/`` folder go beside it.
    seed : int, optional
        Seed of the posterior predictive draws (default: ``comparison.seed``).
    title : str
        The report's title.
    progress : bool
        Show a progress bar (stderr).

    Returns
    -------
    Report
    """
    output_paths(out)  # a missing folder fails here, before any work
    with stages(progress) as st:
        return render_report(comparison, out, st, seed=seed, title=title)


def render_report(
    comparison: Comparison,
    out: str | Path,
    st: Stages,
    *,
    seed: int | None = None,
    title: str = "bayesstack comparison report",
) -> Report:
    """:func:`write_report` inside progress bars the caller already shows (the demo's)."""
    from bayesstack.report.plots import figure_jobs

    seed = comparison.seed if seed is None else seed
    jobs = figure_jobs(comparison, seed=seed)
    step = st.stage("figures", len(jobs))
    figures = []
    for label, draw in jobs:
        with handled_warnings():
            figures.append(draw())
        step(label)
    write_step = st.stage("write report", 1)
    paths = write_files(comparison, figures, out, title=title)
    write_step(paths.html.name)
    return Report(paths, comparison, answer_paragraph(comparison.rows))


def compare_runs(
    runs: Sequence[str | Path | xr.DataTree],
    out: str | Path,
    *,
    names: Sequence[str] | None = None,
    geometry: Mapping[str, Any] | None = None,
    seed: int = 0,
    title: str = "bayesstack comparison report",
    progress: bool = False,
) -> Report:
    """Compare fitted runs and write ``report.html`` (self-contained) and ``report.md``.

    Parameters
    ----------
    runs : sequence of path or xarray.DataTree
        Run files written by ``bayesstack fit`` (or runs in memory).
    out : str or Path
        The HTML file, e.g. ``report.html``; its folder must exist.
    names : sequence of str, optional
        Display names (default: the spec names, made unique).
    geometry : mapping, optional
        Precomputed :class:`~bayesstack.geometry.GeometryResult` per name; the rest are
        computed.
    seed : int
        Seed of everything random: the geometry's curvature directions and dispersed MAP
        starts, and the predictive draws.
    title : str
        The report's title.
    progress : bool
        Show progress bars (stderr).

    Returns
    -------
    Report
        Its ``comparison`` holds every number shown.

    Raises
    ------
    BayesstackError
        The output folder does not exist, a run file cannot be read, or no runs were given.
    """
    from bayesstack.errors import BayesstackError
    from bayesstack.inference.io import load

    output_paths(out)
    if not runs:
        raise BayesstackError("runs: give at least one run file to compare")
    trees = [r if isinstance(r, xr.DataTree) else load(r) for r in runs]
    paths = [None if isinstance(r, xr.DataTree) else str(r) for r in runs]
    if names is not None and len(names) != len(trees):
        raise BayesstackError(f"names: {len(names)} names for {len(trees)} runs")
    names = list(names) if names is not None else unique_names(trees, paths)
    with stages(progress) as st:
        step = st.stage("geometry and LOO", len(trees))
        comparison = collect(
            dict(zip(names, trees, strict=True)),
            geometry=geometry,
            paths={n: p for n, p in zip(names, paths, strict=True) if p},
            seed=seed,
            on_step=step,
        )
        return render_report(comparison, out, st, seed=seed, title=title)
