"""The whole posterior-geometry analysis of one run, and the verdict that follows from it.

:func:`analyze` gathers, for a fitted run: the symmetry group of its spec, the canonical
posterior (stored as the ``canonical_posterior`` group), R-hat in weight space (raw and
canonical) and in function space, modes (raw, up to symmetry, and which raw modes are images
of which), multi-start MAP optima (raw and up to symmetry), the fraction of draws where the
weight Hessian is negative definite, and the Bates-Watts curvatures of η in θ and in x.

The verdict rule
----------------
The verdict follows from the numbers, never from the spec:

1. ``"multimodal beyond symmetry"`` if ``modes_canonical > 1`` or
   ``map_optima_canonical > 1``: there are modes (or local maxima) that no posterior
   symmetry maps onto each other.
2. else ``"symmetric multimodality"`` if ``modes_raw > 1`` or ``map_optima_raw > 1``: there
   are several modes, but all are images of one another; or if a continuous posterior
   symmetry acts and ``hessian_negdef_fraction < 1`` (the maxima form a continuous orbit).
3. else ``"unimodal"``.

``modes_canonical`` is the number of modes of the canonical draws; for a spec with a
continuous posterior symmetry (identity layers: O(H)), which no discrete canonicalisation
removes, it is the number of modes of the draws of η (function space) instead. MAP counts
enter only when the multi-start MAP ran (from each chain's best draw by default, and from
``n_map_starts`` dispersed points). Findings that qualify the verdict (R-hat above 1.01
within one mode, chains that switch modes, disagreements between the canonical clustering and
the pairwise images) are listed in ``notes``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from bayesstack.errors import BayesstackError, check_int
from bayesstack.geometry import function_space as fs
from bayesstack.geometry.hessian import BUDGET, HessianCheck, WeightHessian, hessian_check
from bayesstack.geometry.modes import (
    THRESHOLD,
    ModeClusters,
    ModePair,
    cluster_modes,
    count_orbits,
    mode_pairs,
)
from bayesstack.geometry.optimize import MapResult, multistart_map
from bayesstack.model.network import flatten, param_dims, unflatten, weight_names
from bayesstack.spec import Spec

log = logging.getLogger(__name__)

UNIMODAL = "unimodal"
SYMMETRIC = "symmetric multimodality"
BEYOND = "multimodal beyond symmetry"
#: Observations of η used to cluster modes in function space (evenly spaced).
FUNCTION_OBS = 50


@dataclass(frozen=True, eq=False, repr=False)
class GeometryResult:
    """Everything :func:`analyze` found about one run.

    ``to_dict()`` gives the JSON that other tools read; ``to_table()`` a rich table and
    ``str()`` a plain-text one. ``run`` is the analysed run with its ``canonical_posterior``.
    """

    model: str
    depth: int
    n_params: int
    n_obs: int
    chains: int
    draws: int
    posterior_group_order: int
    continuous_symmetries: tuple[str, ...]
    expected_chains_to_see_all_images: float
    rhat: fs.RhatSummary
    modes_raw: ModeClusters
    modes_canonical: ModeClusters
    modes_function: ModeClusters
    mode_pairs: tuple[ModePair, ...]
    mode_orbits: int
    map: MapResult | None
    hessian: HessianCheck
    curvature: Any | None
    curvature_inputs: Any | None
    curvature_point: str
    verdict: str
    notes: tuple[str, ...]
    canonical: dict[str, Any]
    timings: dict[str, float]
    run: xr.DataTree | None = field(default=None, repr=False, compare=False)

    @property
    def n_modes_canonical(self) -> int:
        """Modes up to symmetry (function-space modes under a continuous symmetry)."""
        if self.continuous_posterior_symmetry:
            return self.modes_function.n_modes
        return self.modes_canonical.n_modes

    @property
    def continuous_posterior_symmetry(self) -> bool:
        """Whether a continuous symmetry keeps the posterior (not only the likelihood)."""
        return any("(posterior)" in c for c in self.continuous_symmetries)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; the keys listed in ``docs/geometry.md`` are stable."""
        curv, cin = self.curvature, self.curvature_inputs
        pairs = self.mode_pairs
        return {
            "model": self.model,
            "depth": self.depth,
            "n_params": self.n_params,
            "n_obs": self.n_obs,
            "chains": self.chains,
            "draws": self.draws,
            "posterior_group_order": int(self.posterior_group_order),
            "symmetric_images": int(self.posterior_group_order),
            "log10_posterior_group_order": math.log10(self.posterior_group_order),
            "expected_chains_to_see_all_images": _num(self.expected_chains_to_see_all_images),
            "continuous_symmetries": list(self.continuous_symmetries),
            "rhat_max_raw": _num(self.rhat.raw),
            "rhat_max_canonical": _num(self.rhat.canonical),
            "rhat_max_function": _num(self.rhat.function),
            "modes_raw": self.modes_raw.n_modes,
            "modes_canonical": self.n_modes_canonical,
            "modes_function": self.modes_function.n_modes,
            "mode_orbits": self.mode_orbits,
            "symmetric_mode_pairs": sum(p.symmetric for p in pairs),
            "mode_pairs_total": len(pairs),
            "map_optima_raw": None if self.map is None else self.map.n_raw,
            "map_optima_canonical": None if self.map is None else self.map.n_canonical,
            "hessian_negdef_fraction": self.hessian.negdef_fraction,
            "curvature_parameter_effects": None if curv is None else _num(curv.parameter_effects),
            "curvature_intrinsic": None if curv is None else _num(curv.intrinsic),
            "curvature_inputs": None if cin is None else _num(cin.rms),
            "verdict": self.verdict,
            "notes": list(self.notes),
            "modes": [m.to_dict() for m in self._mode_table().modes],
            "modes_raw_table": [m.to_dict() for m in self.modes_raw.modes],
            "mode_pairs": [p.to_dict() for p in pairs],
            "switching_chains": list(self.modes_raw.switching_chains),
            "rhat": self.rhat.to_dict(),
            "map": None if self.map is None else self.map.to_dict(),
            "hessian": self.hessian.to_dict(),
            "curvature": None if curv is None else curv.to_dict(),
            "curvature_inputs_detail": None if cin is None else cin.to_dict(),
            "curvature_point": self.curvature_point,
            "canonical": dict(self.canonical),
            "clustering": {
                "threshold": self.modes_raw.threshold,
                "segment_length": self.modes_raw.segment_length,
            },
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }

    def _mode_table(self) -> ModeClusters:
        if self.continuous_posterior_symmetry:
            return self.modes_function
        return self.modes_canonical

    def _rows(self) -> list[tuple[str, str]]:
        d = self.to_dict()
        mp = (
            "not run"
            if self.map is None
            else f"{d['map_optima_raw']} / {d['map_optima_canonical']}"
        )
        rows = [
            ("model", f"{self.model} (depth {self.depth}, {self.n_params} weights)"),
            ("draws", f"{self.chains} chains x {self.draws}"),
            ("posterior group order", f"{self.posterior_group_order:,}"),
            ("continuous symmetries", ", ".join(self.continuous_symmetries) or "none"),
            ("chains to see all images", _fmt(self.expected_chains_to_see_all_images)),
            ("R-hat max raw / canonical", f"{_fmt(self.rhat.raw)} / {_fmt(self.rhat.canonical)}"),
            ("R-hat max function space", _fmt(self.rhat.function)),
            ("modes raw / up to symmetry", f"{d['modes_raw']} / {d['modes_canonical']}"),
            ("symmetric mode pairs", f"{d['symmetric_mode_pairs']} of {d['mode_pairs_total']}"),
            ("MAP optima raw / up to symmetry", mp),
            (
                "Hessian negative definite",
                f"{self.hessian.negdef_fraction:.1%} of {self.hessian.n_evaluated} draws",
            ),
        ]
        if self.curvature is not None:
            rows.append(
                (
                    "curvature param.-effects / intrinsic",
                    f"{_fmt(self.curvature.parameter_effects)} / {_fmt(self.curvature.intrinsic)}",
                )
            )
        if self.curvature_inputs is not None:
            rows.append(("curvature in inputs", _fmt(self.curvature_inputs.rms)))
        for m in self._mode_table().modes:
            lp = "n/a" if m.mean_logp is None else f"{m.mean_logp:.2f}"
            rows.append((f"mode {m.index}", f"log density {lp}, chain share {m.chain_share:.2f}"))
        rows.append(("verdict", self.verdict))
        rows.extend(("note", n) for n in self.notes)
        return rows

    def to_table(self):
        """A ``rich.table.Table`` of the main numbers, for the CLI."""
        from rich.table import Table

        table = Table(title=f"Posterior geometry: {self.model}", show_header=False)
        table.add_column("quantity", style="bold")
        table.add_column("value")
        for k, v in self._rows():
            table.add_row(k, v)
        return table

    def __repr__(self) -> str:
        return (
            f"GeometryResult(model={self.model!r}, verdict={self.verdict!r}, "
            f"modes_raw={self.modes_raw.n_modes}, modes_canonical={self.n_modes_canonical})"
        )

    def __str__(self) -> str:
        rows = self._rows()
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def _num(v: float | None) -> float | None:
    """A float for JSON: None for NaN, a large finite number kept as is, inf as None."""
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def _fmt(v: float | None) -> str:
    if v is None or not math.isfinite(v):
        return "n/a"
    return f"{v:.4g}"


# --- run -> arrays ---------------------------------------------------------------------------
def weight_draws(ds: xr.Dataset, spec: Spec) -> dict[str, np.ndarray]:
    """The weights ``W*``/``b*`` of a posterior dataset as arrays ``(chain, draw, ...)``.

    Raises
    ------
    BayesstackError
        When the dataset lacks a weight of ``spec``.
    """
    dims = param_dims(spec)
    missing = [k for k in weight_names(spec) if k not in ds]
    if missing:
        raise BayesstackError(f"run: posterior lacks the weights {', '.join(missing)}")
    for i, layer in enumerate(spec.layers, 1):
        n = ds.sizes.get(f"hidden{i}", layer.units)
        if n != layer.units:
            raise BayesstackError(
                f"run: the posterior has {n} units in hidden{i} where its spec has "
                f"{layer.units}; the file is damaged, fit again"
            )
    return {k: ds[k].transpose("chain", "draw", *dims[k]).values for k in weight_names(spec)}


def _logp(run: xr.DataTree) -> np.ndarray | None:
    if "sample_stats" not in run.children:
        return None
    stats = run["sample_stats"]
    key = next((k for k in ("logp", "lp") if k in stats), None)
    return None if key is None else stats[key].transpose("chain", "draw").values


def _canonical(run: xr.DataTree, method: str) -> tuple[xr.DataTree, bool]:
    """The run with a ``canonical_posterior`` by ``method`` (reused when already there)."""
    from bayesstack.geometry.canonical import add_canonical

    if "canonical_posterior" in run.children:
        if run["canonical_posterior"].attrs.get("canonical_method") == method:
            return run, True
    return add_canonical(run, method=method), False


def verdict_of(
    modes_raw: int,
    modes_canonical: int,
    map_raw: int | None = None,
    map_canonical: int | None = None,
    continuous_orbit: bool = False,
) -> str:
    """The verdict rule of the module docstring.

    Parameters
    ----------
    modes_raw, modes_canonical : int
        Modes of the raw draws, and modes up to symmetry.
    map_raw, map_canonical : int, optional
        Distinct MAP optima, raw and up to symmetry (None: the MAP did not run).
    continuous_orbit : bool
        The draws lie on a continuous orbit of maxima: a continuous posterior symmetry acts
        and the Hessian in the weights is not negative definite at every draw (flat
        directions along the orbit were measured).

    Returns
    -------
    str
        ``"unimodal"``, ``"symmetric multimodality"`` or ``"multimodal beyond symmetry"``.
    """
    if modes_canonical > 1 or (map_canonical or 1) > 1:
        return BEYOND
    if modes_raw > 1 or (map_raw or 1) > 1 or continuous_orbit:
        return SYMMETRIC
    return UNIMODAL


# --- the analysis ----------------------------------------------------------------------------
class _Clock:
    def __init__(self, progress: Callable[[str], None] | None) -> None:
        self.progress, self.times, self._t, self._name = progress, {}, 0.0, None

    def stage(self, name: str) -> None:
        self.stop()
        self._name, self._t = name, time.perf_counter()
        log.info("geometry: %s", name)
        if self.progress is not None:
            self.progress(name)

    def stop(self) -> None:
        if self._name is not None:
            self.times[self._name] = time.perf_counter() - self._t
            self._name = None


def analyze(
    run: xr.DataTree,
    *,
    canonical_method: str = "align",
    n_map_starts: int = 0,
    map_from_chains: bool = True,
    seed: int = 0,
    curvature: bool = True,
    progress: Callable[[str], None] | None = None,
    threshold: float = THRESHOLD,
    hessian_budget: float = BUDGET,
    max_cells: float = fs.MAX_CELLS,
    map_maxiter: int = 200,
    curvature_directions: int | None = None,
) -> GeometryResult:
    """Analyse the posterior geometry of a fitted run.

    Parameters
    ----------
    run : xarray.DataTree
        A run written by :func:`bayesstack.fit`: ``posterior``, ``constant_data`` (``X``),
        ``observed_data``, and ideally ``log_likelihood`` and ``sample_stats`` (log density).
    canonical_method : {"align", "sort"}
        Canonicaliser for the ``canonical_posterior`` group (an existing group made by the
        same method is reused).
    n_map_starts : int
        Dispersed starts of the multi-start MAP (``N(0, 1)`` in the unconstrained space).
    map_from_chains : bool
        Also start the MAP from each chain's draw with the highest log density (the last
        draw when the run has no log density). With ``n_map_starts=0`` and
        ``map_from_chains=False`` the MAP is skipped (MAP counts are then None).
    seed : int
        Seed of the dispersed MAP starts (and of random-direction curvature).
    curvature : bool
        Compute the Bates-Watts curvatures (at the best MAP optimum, or at the draw with the
        highest log density when the MAP is skipped) and the curvature in the inputs.
    progress : callable, optional
        Called with the name of each stage as it starts.
    threshold : float
        Mode-clustering threshold in within-mode sds (:mod:`bayesstack.geometry.modes`).
    hessian_budget : float
        Work budget of the Hessian check (:mod:`bayesstack.geometry.hessian`).
    max_cells : float
        Thinning budget of the R-hats (:mod:`bayesstack.geometry.function_space`).
    map_maxiter : int
        Most L-BFGS iterations per MAP start, before the Newton polish.
    curvature_directions : int, optional
        Random directions of the curvature estimator, used above a few hundred weights
        (default: the curvature module's).

    Returns
    -------
    GeometryResult
        Its ``run`` carries the ``canonical_posterior`` group.
    """
    from bayesstack.geometry.symmetry import symmetry_group
    from bayesstack.inference.io import model_from_run, spec_of

    n_map_starts = check_int("MAP starts", n_map_starts)
    seed = check_int("seed", seed)
    clock = _Clock(progress)
    clock.stage("symmetry group")
    spec = spec_of(run)
    if "posterior" not in run.children or "constant_data" not in run.children:
        raise BayesstackError("run: needs 'posterior' and 'constant_data' groups")
    group = symmetry_group(spec)
    X = np.asarray(run["constant_data"]["X"].values, dtype=float)
    post = run["posterior"].to_dataset()
    w = weight_draws(post, spec)
    n_chains, n_draws = w["W1"].shape[:2]
    theta = flatten(w, spec, 2)
    logp = _logp(run)

    clock.stage("canonicalisation")
    run, reused = _canonical(run, canonical_method)
    cpost = run["canonical_posterior"]
    wc = weight_draws(cpost.to_dataset(), spec)
    theta_c = flatten(wc, spec, 2)

    clock.stage("R-hat")
    nuis_names = [v for v in post.data_vars if v not in w and v != "eta"]
    nuis = {v: post[v].transpose("chain", "draw", ...).values for v in nuis_names}
    ll = None
    if "log_likelihood" in run.children and "y" in run["log_likelihood"]:
        ll = run["log_likelihood"]["y"].transpose("chain", "draw", ...).values
    obs = fs.function_obs(X.shape[0])
    step = fs.thin_step(n_chains, n_draws, obs.size, max_cells=max_cells)
    eta = fs.eta_draws(spec, w, X[obs], step=step)
    rhat = fs.rhat_summary(
        spec, w, X, canonical=wc, loglik=ll, nuisance=nuis, eta=eta, max_cells=max_cells
    )

    clock.stage("modes")
    m_raw = cluster_modes(theta, logp=logp, threshold=threshold)
    m_can = cluster_modes(theta_c, logp=logp, threshold=threshold)
    sub = fs.function_obs(obs.size, FUNCTION_OBS)
    m_fun = cluster_modes(eta[..., sub], logp=None if logp is None else logp[:, ::step])
    pairs = mode_pairs(spec, m_raw, X.shape[1], threshold=threshold)
    orbits = count_orbits(m_raw.n_modes, pairs)

    clock.stage("compile")
    model = model_from_run(run)
    hess = WeightHessian(model, spec)
    hess(theta[0, 0], {n: nuis[n][0, 0] for n in hess.nuisance})  # first call: JIT compile

    clock.stage("Hessian")
    hc = hessian_check(
        hess, theta, {n: nuis[n] for n in hess.nuisance}, n_obs=X.shape[0], budget=hessian_budget
    )

    mp = None
    if n_map_starts > 0 or map_from_chains:
        clock.stage("MAP")
        starts = None
        if map_from_chains:
            best = np.full(n_chains, n_draws - 1) if logp is None else np.nanargmax(logp, axis=1)
            chains = np.arange(n_chains)
            starts = {k: v[chains, best] for k, v in {**nuis, **w}.items()}
        mp = multistart_map(
            model,
            spec,
            n_starts=n_map_starts,
            starts=starts,
            seed=seed,
            scale=m_can.scale,
            hessian=hess,
            X=X,
            maxiter=map_maxiter,
        )

    curv = cin = None
    point_name = "none"
    if curvature:
        clock.stage("curvature")
        point, point_name = _curvature_point(spec, X.shape[1], mp, theta, nuis, logp)
        curv, cin = _curvatures(spec, point, X, seed, curvature_directions)

    clock.stop()
    result = GeometryResult(
        model=spec.name,
        depth=spec.depth,
        n_params=int(theta.shape[-1]),
        n_obs=int(X.shape[0]),
        chains=int(n_chains),
        draws=int(n_draws),
        posterior_group_order=int(group.posterior_order),
        continuous_symmetries=tuple(group.continuous_symmetries),
        # a continuous posterior symmetry has a continuum of images: no chain count shows them all
        expected_chains_to_see_all_images=(
            math.inf
            if any("(posterior)" in c for c in group.continuous_symmetries)
            else float(group.expected_chains_to_see_all())
        ),
        rhat=rhat,
        modes_raw=m_raw,
        modes_canonical=m_can,
        modes_function=m_fun,
        mode_pairs=pairs,
        mode_orbits=orbits,
        map=mp,
        hessian=hc,
        curvature=curv,
        curvature_inputs=cin,
        curvature_point=point_name,
        verdict="",
        notes=(),
        canonical={
            "method": canonical_method,
            "reused": reused,
            "n_iter": int(cpost.attrs.get("canonical_n_iter", 0)),
            "converged": bool(cpost.attrs.get("canonical_converged", 1)),
        },
        timings={**clock.times, "total": sum(clock.times.values())},
        run=run,
    )
    v = verdict_of(
        m_raw.n_modes,
        result.n_modes_canonical,
        None if mp is None else mp.n_raw,
        None if mp is None else mp.n_canonical,
        continuous_orbit=result.continuous_posterior_symmetry
        and result.hessian.negdef_fraction < 1.0,
    )
    return _with(result, verdict=v, notes=tuple(_notes(result, v)))


def _with(result: GeometryResult, **kw) -> GeometryResult:
    from dataclasses import replace

    return replace(result, **kw)


def _curvature_point(spec, d, mp, theta, nuis, logp) -> tuple[dict[str, np.ndarray], str]:
    """The weights (and sigma) at which curvature is computed, and what that point is."""
    if mp is not None and mp.n_raw > 0:
        point = {k: v[0] for k, v in unflatten(mp.theta[:1], spec, d).items()}
        if "sigma" in mp.nuisance:
            point["sigma"] = float(mp.nuisance["sigma"][0])
        return point, "best MAP optimum"
    c, k = (0, 0) if logp is None else np.unravel_index(int(np.nanargmax(logp)), logp.shape)
    point = {k2: v[0] for k2, v in unflatten(theta[c, k][None], spec, d).items()}
    if "sigma" in nuis:
        point["sigma"] = float(nuis["sigma"][c, k])
    return point, "draw with the highest log density" if logp is not None else "first draw"


def _curvatures(spec, point, X, seed, n_directions):
    from bayesstack.geometry.curvature import input_curvature, stack_curvature

    kw = {} if n_directions is None else {"n_directions": n_directions}
    curv = stack_curvature(spec, point, X, rng=seed, **kw)
    weights = {k: v for k, v in point.items() if k != "sigma"}
    return curv, input_curvature(spec, weights, X)


def _notes(r: GeometryResult, verdict: str) -> list[str]:
    """Findings that qualify the verdict, one sentence each."""
    notes = []
    if verdict == UNIMODAL and (r.rhat.raw or 0) > 1.01:
        notes.append(
            f"R-hat on the weights is {r.rhat.raw:.3f} although all draws form one mode: "
            "the chains have not mixed within it; run longer chains"
        )
    sw = r.modes_raw.switching_chains
    if sw:
        notes.append(f"{len(sw)} of {r.chains} chains switch between raw modes during sampling")
    if not r.continuous_posterior_symmetry and r.mode_orbits != r.modes_canonical.n_modes:
        notes.append(
            f"the canonical draws form {r.modes_canonical.n_modes} modes but the raw modes fall "
            f"into {r.mode_orbits} classes of images; the canonicalisation may be imperfect"
        )
    if r.continuous_posterior_symmetry:
        notes.append(
            "a continuous posterior symmetry acts, so modes up to symmetry are counted in "
            "function space (draws of eta)"
        )
    discrete_only = r.posterior_group_order > 1 and not r.continuous_posterior_symmetry
    if discrete_only and r.expected_chains_to_see_all_images > r.chains:
        notes.append(
            f"{r.chains} chains cannot show all {r.posterior_group_order:,} symmetric images "
            f"(about {r.expected_chains_to_see_all_images:,.0f} chains would be needed)"
        )
    if r.map is not None and r.map.n_canonical > r.n_modes_canonical:
        best = [float(r.map.logp[r.map.orbit == k].max()) for k in range(r.map.n_canonical)]
        notes.append(
            f"the multi-start MAP found {r.map.n_canonical} optima up to symmetry (best log "
            f"densities {', '.join(f'{v:.2f}' for v in best)}) where the chains visited "
            f"{r.n_modes_canonical} mode(s)"
        )
    if r.map is not None and r.map.n_converged < r.map.n_starts:
        notes.append(
            f"MAP: {r.map.n_starts - r.map.n_converged} of {r.map.n_starts} starts did not converge"
        )
    if r.hessian.n_evaluated < r.hessian.n_total:
        notes.append(
            f"the Hessian was evaluated at {r.hessian.n_evaluated} of {r.hessian.n_total} draws "
            "(evenly spaced within each chain)"
        )
    return notes
