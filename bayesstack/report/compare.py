"""Collect the numbers of a comparison report: ELPD-LOO, convergence, geometry, provenance.

Every number in the report comes from here, computed from the runs: ``az.loo``/``az.compare``
for predictive accuracy, ArviZ diagnostics for convergence, :func:`bayesstack.geometry.analyze`
for modes, symmetry and curvature. Nothing is random except the geometry's multi-start MAP,
which is seeded, so the same runs give the same numbers.
"""

from __future__ import annotations

import json
import math
import platform
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from bayesstack.data.features import FEATURE_MAP_ATTR, feature_map_of
from bayesstack.errors import BayesstackError, check_int
from bayesstack.geometry.curvature import AFFINE_TOL
from bayesstack.geometry.summary import GeometrySummary, summarize_geometry
from bayesstack.inference.io import model_from_run, sampler_log_density, spec_of
from bayesstack.inference.runs import fit_command
from bayesstack.model.network import n_weights, unflatten, weight_names
from bayesstack.report.quiet import handled_warnings

#: Packages whose versions the report lists.
PACKAGES = (
    "bayesstack",
    "pymc",
    "pytensor",
    "nutpie",
    "numpyro",
    "jax",
    "arviz",
    "arviz-base",
    "arviz-stats",
    "arviz-plots",
    "xarray",
    "numpy",
    "scipy",
    "pandas",
    "matplotlib",
    "jinja2",
)
#: Curvatures at or below this count as zero (the geometry's GLM curvatures are ~1e-12).
LINEAR_TOL = AFFINE_TOL


@dataclass(frozen=True)
class ModelRow:
    """One model of the comparison: every number of its row in the report's table."""

    name: str
    family: str
    link: str
    depth: int
    units: tuple[int, ...]
    activations: tuple[str, ...]
    n_params: int
    n_obs: int
    chains: int
    draws: int
    elpd: float
    elpd_se: float
    elpd_diff: float
    elpd_dse: float
    p_loo: float
    pareto_k_bad: int
    pareto_k_threshold: float
    rank: int
    weight: float
    ess_bulk_min: float
    ess_bulk_min_canonical: float
    divergences: int
    geometry: GeometrySummary
    feature_map: str = ""

    @property
    def linear_in_params(self) -> bool:
        """η is affine in θ: both Bates–Watts curvatures vanish up to rounding."""
        return self.geometry.affine_in_params

    @property
    def linear_in_inputs(self) -> bool:
        """η is affine in the raw inputs x."""
        return self.geometry.linear_in_inputs

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form of the row's own numbers (the geometry is in ``Comparison``)."""
        d = {k: v for k, v in asdict(self).items() if k != "geometry"}
        d["units"], d["activations"] = list(self.units), list(self.activations)
        d["verdict"] = str(self.geometry.verdict)
        d["linear_in_params"], d["linear_in_inputs"] = self.linear_in_params, self.linear_in_inputs
        return d


@dataclass(frozen=True)
class RunInfo:
    """Provenance of one run: where it came from and how to make it again."""

    name: str
    path: str
    dataset: str
    fit_settings: dict[str, Any]
    bayesstack_version: str
    spec_hash: str
    sampling_time: float
    command: str


@dataclass(frozen=True)
class Comparison:
    """Everything the report shows, as numbers.

    Attributes
    ----------
    rows : tuple of ModelRow
        One per run, in the order of ELPD-LOO (best first).
    compare : pandas.DataFrame
        ``az.compare`` (unrounded), indexed by model name.
    runs : dict of str to xarray.DataTree
        The runs, with log-likelihood, ``canonical_posterior`` and ``chain_weights`` groups,
        keyed by name.
    geometry : dict of str to dict
        ``GeometryResult.to_dict()`` per run (without timings), for the JSON and the demo's
        ``*.geometry.json``; the report's text reads the typed ``ModelRow.geometry``.
    provenance : tuple of RunInfo
        Per run, in the order of ``rows``.
    versions : dict of str to str
        Package versions of this report.
    seed : int
        Seed of everything random in the report (curvature directions, dispersed MAP starts,
        predictive draws).
    """

    rows: tuple[ModelRow, ...]
    compare: pd.DataFrame
    runs: dict[str, xr.DataTree] = field(repr=False)
    geometry: dict[str, dict[str, Any]]
    provenance: tuple[RunInfo, ...]
    versions: dict[str, str]
    seed: int

    def to_dict(self) -> dict[str, Any]:
        """The numbers (no runs), JSON-ready."""
        return {
            "rows": [r.to_dict() for r in self.rows],
            "geometry": self.geometry,
            "provenance": [asdict(p) for p in self.provenance],
            "versions": self.versions,
            "seed": self.seed,
        }


# --- pieces -----------------------------------------------------------------------------------
def ensure_log_likelihood(run: xr.DataTree) -> xr.DataTree:
    """``run`` itself if it has a pointwise log-likelihood, else a copy with one computed.

    Parameters
    ----------
    run : xarray.DataTree
        A fitted run (``bayesstack.fit`` or ``bayesstack.load``).

    Returns
    -------
    xarray.DataTree
        With a ``log_likelihood`` group holding ``y``.
    """
    if "log_likelihood" in run.children:
        return run
    import pymc as pm

    run = run.copy()
    pm.compute_log_likelihood(run, model=model_from_run(run), progressbar=False)
    return run


def ess_bulk_min(run: xr.DataTree, group: str = "posterior") -> float:
    """Smallest bulk ESS over every scalar of ``group``."""
    ess = az.ess(run, group=group, method="bulk")
    return float(min(np.nanmin(ess[k].values) for k in ess.data_vars))


def package_versions(packages: Sequence[str] = PACKAGES) -> dict[str, str]:
    """Installed versions of ``packages`` (and Python), for the reproducibility section."""
    out = {"python": platform.python_version()}
    for p in packages:
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            out[p] = "not installed"
    return out


def analyze_geometry(run: xr.DataTree, *, seed: int = 0):
    """``bayesstack.geometry.analyze(run, seed=seed)``, with the input curvature in raw x.

    A run fitted on a feature map (``attrs["feature_map"]``, e.g. polynomial features) gets
    its curvature in the inputs measured through the map, in the raw inputs, at the same point
    as the geometry's own curvatures (the best MAP optimum).

    Returns
    -------
    GeometryResult
    """
    from dataclasses import replace

    from bayesstack.geometry import analyze

    res = analyze(run, seed=seed)
    fmap = feature_map_of(run)
    if fmap is not None:
        phi, X_raw = fmap
        cin = raw_input_curvature(run, phi, X_raw, point=_curvature_weights(run, res))
        res = replace(
            res,
            curvature_inputs=cin,
            input_feature_map=json.loads(run.attrs[FEATURE_MAP_ATTR]),
        )
    return res


def _curvature_weights(run: xr.DataTree, res) -> dict[str, np.ndarray]:
    """The weights at the geometry's curvature point: best MAP optimum, else best draw."""
    spec = spec_of(run)
    if getattr(res, "map", None) is not None:
        d = run["constant_data"]["X"].shape[1]
        return {k: v[0] for k, v in unflatten(res.map.theta[:1], spec, d).items()}
    post, lp = run["posterior"], sampler_log_density(run)
    if lp is None:
        raise BayesstackError(
            "no MAP optimum and no sampler log density (sample_stats lp/logp) to pick the "
            "curvature point from"
        )
    c, k = np.unravel_index(int(np.argmax(lp)), lp.shape)
    return {n: post[n].transpose("chain", "draw", ...).values[c, k] for n in weight_names(spec)}


def raw_input_curvature(
    run: xr.DataTree, phi, X_raw: np.ndarray, *, point: Mapping[str, np.ndarray]
):
    """Curvature of η in the raw inputs ``x`` of a model fitted on features ``phi(x)``.

    Returns :class:`bayesstack.geometry.curvature.InputCurvature` at the weights ``point``,
    with ``input_curvature``'s default scales (the standard deviations of the raw inputs).
    """
    from bayesstack.geometry.curvature import input_curvature

    return input_curvature(spec_of(run), dict(point), X_raw, feature_map=phi)


# --- rows -------------------------------------------------------------------------------------
def _row(name: str, run: xr.DataTree, loo, cmp: pd.Series, geo) -> ModelRow:
    spec = spec_of(run)
    post = run["posterior"]
    k = np.asarray(loo.pareto_k)
    fmap = json.loads(run.attrs.get("feature_map") or "{}")
    div = int(run["sample_stats"]["diverging"].sum()) if "sample_stats" in run.children else 0
    canon = "canonical_posterior" if "canonical_posterior" in run.children else "posterior"
    return ModelRow(
        name=name,
        family=spec.family,
        link=spec.link,
        depth=spec.depth,
        units=tuple(layer.units for layer in spec.layers),
        activations=tuple(layer.activation for layer in spec.layers),
        n_params=n_weights(spec, run["constant_data"]["X"].shape[1]),
        n_obs=int(run["observed_data"]["y"].size),
        chains=int(post.sizes["chain"]),
        draws=int(post.sizes["draw"]),
        elpd=float(loo.elpd),
        elpd_se=float(loo.se),
        elpd_diff=float(cmp["elpd_diff"]),
        elpd_dse=float(cmp["dse"]),
        p_loo=float(loo.p),
        pareto_k_bad=int(np.sum(k > loo.good_k)),
        pareto_k_threshold=float(loo.good_k),
        rank=int(cmp["rank"]),
        weight=float(cmp["weight"]),
        ess_bulk_min=ess_bulk_min(run),
        ess_bulk_min_canonical=ess_bulk_min(run, canon),
        divergences=div,
        geometry=summarize_geometry(geo, spec),
        feature_map=f"{fmap['kind']} degree {fmap['degree']}" if fmap else "",
    )


def unique_names(runs: Sequence[xr.DataTree], paths: Sequence[str | None]) -> list[str]:
    """Display names: the spec names, with the file name added where two runs share one."""
    names = [spec_of(r).name for r in runs]
    dup = {n for n in names if names.count(n) > 1}
    out = [
        f"{n} ({Path(p).stem if p else i})" if n in dup else n
        for i, (n, p) in enumerate(zip(names, paths, strict=True))
    ]
    if len(set(out)) < len(out):
        out = [f"{n} #{i + 1}" for i, n in enumerate(out)]
    return out


def _check_same_data(runs: Mapping[str, xr.DataTree]) -> None:
    """ELPD-LOO compares models on the same observations: every run's ``y`` must be equal."""
    ys = {}
    for name, run in runs.items():
        if "observed_data" not in run.children or "y" not in run["observed_data"]:
            raise BayesstackError(
                f"run {name!r}: no observed y; it was not written by bayesstack.fit"
            )
        ys[name] = np.asarray(run["observed_data"]["y"].values)
    (first, y0), *rest = ys.items()
    for name, y in rest:
        if y.shape != y0.shape or not np.array_equal(y, y0):
            where = {n: runs[n].attrs.get("dataset") or f"{ys[n].size} observations" for n in ys}
            raise BayesstackError(
                f"runs: {name!r} ({where[name]}) and {first!r} ({where[first]}) were fit to "
                "different observations; ELPD-LOO compares models on the same data"
            )


def collect(
    runs: Mapping[str, xr.DataTree],
    *,
    geometry: Mapping[str, Mapping[str, Any]] | None = None,
    paths: Mapping[str, str | Path] | None = None,
    seed: int = 0,
    on_step=None,
) -> Comparison:
    """Compute every number of a comparison report.

    Parameters
    ----------
    runs : mapping of str to xarray.DataTree
        Fitted runs keyed by display name (at least one).
    geometry : mapping, optional
        Precomputed :class:`~bayesstack.geometry.GeometryResult` per name; missing ones are
        computed with :func:`analyze_geometry`.
    paths : mapping, optional
        Run files per name, for the reproducibility section.
    seed : int
        Seed of the geometry analysis (multi-start MAP).
    on_step : callable, optional
        Called with a short description as each run is done (progress bars).

    Returns
    -------
    Comparison
    """
    if not runs:
        raise BayesstackError("runs: give at least one run to compare")
    seed = check_int("seed", seed)
    _check_same_data(runs)
    from bayesstack.geometry.canonical import add_canonical

    geometry, paths = dict(geometry or {}), dict(paths or {})
    ready, loos = {}, {}
    for name, run in runs.items():
        with handled_warnings():  # e.g. high Pareto k: counted in the table instead
            run = ensure_log_likelihood(run)
            if "canonical_posterior" not in run.children:
                run = add_canonical(run)
            if name not in geometry:
                geometry[name] = analyze_geometry(run, seed=seed)
            if geometry[name].run is not None:  # with its chain_weights group
                run = geometry[name].run
            ready[name], loos[name] = run, az.loo(run)
        if on_step:
            on_step(name)
    cmp = az.compare(loos, round_to="none") if len(loos) > 1 else _single(loos)
    rows = tuple(
        _row(n, ready[n], loos[n], cmp.loc[n], geometry[n])
        for n in sorted(runs, key=lambda n: int(cmp.loc[n, "rank"]))
    )
    prov = tuple(_provenance(r.name, ready[r.name], paths.get(r.name)) for r in rows)
    # wall-clock timings are not results: leave them out so that a report regenerates exactly
    geo = {
        n: _jsonable({k: v for k, v in geometry[n].to_dict().items() if k != "timings"})
        for n in runs
    }
    return Comparison(rows, cmp, ready, geo, prov, package_versions(), seed)


def _single(loos: Mapping[str, Any]) -> pd.DataFrame:
    """The ``az.compare`` table of one model: rank 0, no difference."""
    ((name, lo),) = loos.items()
    return pd.DataFrame(
        {
            "rank": [0],
            "elpd_diff": [0.0],
            "dse": [0.0],
            "p": [lo.p],
            "elpd": [lo.elpd],
            "se": [lo.se],
            "weight": [1.0],
        },
        index=[name],
    )


def _provenance(name: str, run: xr.DataTree, path: str | Path | None) -> RunInfo:
    post = run["posterior"]
    return RunInfo(
        name=name,
        path=str(path) if path else "",
        dataset=str(run.attrs.get("dataset", "")),
        fit_settings=json.loads(run.attrs.get("fit_settings", "{}")),
        bayesstack_version=str(run.attrs.get("bayesstack_version", "")),
        spec_hash=spec_of(run).hash,
        sampling_time=float(post.attrs.get("sampling_time", math.nan)),
        command=fit_command(run, path),
    )


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    """Numpy scalars and arrays to plain Python, so the numbers print and compare cleanly."""
    return json.loads(
        json.dumps(d, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))
    )
