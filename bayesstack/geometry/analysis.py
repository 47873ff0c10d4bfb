"""The whole posterior-geometry analysis of one run, and the verdict that follows from it.

:func:`analyze` gathers, for a fitted run: the symmetry group of its spec, the canonical
posterior (stored as the ``canonical_posterior`` group), R-hat in weight space (raw and
canonical) and in function space, modes (raw, up to symmetry, and which raw modes are images
of which), multi-start MAP optima (raw and up to symmetry), the fraction of draws where the
weight Hessian is negative definite, and the Bates-Watts curvatures of η in θ and in x.

The verdict
-----------
The verdict is decided by posterior mass (:mod:`bayesstack.geometry.evidence`): the optima
of the multi-start MAP are grouped into classes up to posterior symmetry, each class gets a
log mass (Laplace at its best optimum, and bridge sampling from its own chains' draws, both
times its orbit size), and only classes holding at least ``min_mass`` of the total count.
Lighter classes are trapped local modes: their chains are named in ``warnings`` and get
stacking weight 0. See ``docs/geometry.md`` for the rule and why.
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
from bayesstack.geometry.evidence import MIN_MASS, ModeClass, Ridge, Verdict
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
from bayesstack.model.network import flatten, unflatten

log = logging.getLogger(__name__)

UNIMODAL = Verdict.UNIMODAL
RIDGE = Verdict.RIDGE
SYMMETRIC = Verdict.SYMMETRIC
LIKELIHOOD = Verdict.LIKELIHOOD
BEYOND = Verdict.BEYOND
#: Name of the run group holding the stacking weights of the chains.
CHAIN_WEIGHTS = "chain_weights"
#: Observations of η used to cluster modes in function space (evenly spaced).
FUNCTION_OBS = 50


@dataclass(frozen=True, eq=False, repr=False)
class GeometryResult:
    """Everything :func:`analyze` found about one run.

    ``to_dict()`` gives the JSON that other tools read; ``to_table()`` a rich table and
    ``str()`` a plain-text one. ``run`` is the analysed run with its ``canonical_posterior``
    and ``chain_weights`` groups. The report reads these fields directly.
    """

    model: str
    depth: int
    n_params: int
    n_obs: int
    chains: int
    draws: int
    group: Any  # SymmetryGroup
    expected_chains_to_see_all_images: float
    rhat: fs.RhatSummary
    modes_raw: ModeClusters
    modes_canonical: ModeClusters
    modes_function: ModeClusters
    mode_pairs: tuple[ModePair, ...]
    mode_orbits: int
    map: MapResult | None
    hessian: HessianCheck
    curvature: Any | None  # CurvatureSummary
    curvature_inputs: Any | None
    verdict: Verdict
    notes: tuple[str, ...]
    canonical: dict[str, Any]
    timings: dict[str, float]
    mode_classes: tuple[ModeClass, ...] = ()
    chain_class: tuple[int | None, ...] = ()
    chain_weights: np.ndarray | None = None
    chain_weights_method: str = ""
    rhat_mass: fs.RhatSummary | None = None
    ridge: Ridge | None = None
    min_mass: float = MIN_MASS
    divergences: int | None = None
    warnings: tuple[str, ...] = ()
    input_feature_map: dict[str, Any] | None = None
    run: xr.DataTree | None = field(default=None, repr=False, compare=False)

    # --- derived ------------------------------------------------------------------------------
    @property
    def posterior_group_order(self) -> int:
        """Order of the discrete posterior group (signed permutations included)."""
        return int(self.group.posterior_order)

    @property
    def posterior_group_name(self) -> str:
        """The posterior group in words, e.g. ``48`` or ``O(3) × O(3)``."""
        return self.group.posterior_name

    @property
    def continuous_symmetries(self) -> tuple[str, ...]:
        """Names of the continuous symmetries (``str`` of ``group.continuous``)."""
        return tuple(self.group.continuous_symmetries)

    @property
    def continuous_posterior_symmetry(self) -> bool:
        """Whether a continuous symmetry keeps the posterior (not only the likelihood)."""
        return bool(self.group.posterior_continuous)

    @property
    def n_modes_canonical(self) -> int:
        """Modes up to symmetry (function-space modes under a continuous symmetry)."""
        if self.continuous_posterior_symmetry:
            return self.modes_function.n_modes
        return self.modes_canonical.n_modes

    @property
    def mass_bearing(self) -> tuple[ModeClass, ...]:
        """Classes with at least ``min_mass`` of the mass."""
        return tuple(c for c in self.mode_classes if c.mass_bearing)

    @property
    def trapped_classes(self) -> tuple[ModeClass, ...]:
        """Classes below ``min_mass``: trapped local modes."""
        return tuple(c for c in self.mode_classes if not c.mass_bearing)

    @property
    def trapped_chains(self) -> tuple[int, ...]:
        """Chains in trapped local modes: they did not sample the posterior."""
        return tuple(sorted(c for k in self.trapped_classes for c in k.chains))

    @property
    def mass_chains(self) -> tuple[int, ...]:
        """Chains in mass-bearing classes (all chains when no class is trapped)."""
        trapped = set(self.trapped_chains)
        return tuple(c for c in range(self.chains) if c not in trapped)

    def _rhat_mass(self, which: str) -> float | None:
        r = self.rhat_mass if self.rhat_mass is not None else self.rhat
        return _num(getattr(r, which))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; every key is listed in ``docs/geometry.md``."""
        curv, cin = self.curvature, self.curvature_inputs
        pairs = self.mode_pairs
        weights = None if self.chain_weights is None else [float(w) for w in self.chain_weights]
        return {
            "model": self.model,
            "depth": self.depth,
            "n_params": self.n_params,
            "n_obs": self.n_obs,
            "chains": self.chains,
            "draws": self.draws,
            "posterior_group_order": self.posterior_group_order,
            "posterior_group": self.posterior_group_name,
            "symmetric_images": self.posterior_group_order,
            "log10_posterior_group_order": math.log10(self.posterior_group_order),
            "expected_chains_to_see_all_images": _num(self.expected_chains_to_see_all_images),
            "continuous_symmetries": list(self.continuous_symmetries),
            "continuous_symmetry_records": [c.to_dict() for c in self.group.continuous],
            "rhat_max_raw": _num(self.rhat.raw),
            "rhat_max_canonical": _num(self.rhat.canonical),
            "rhat_max_function": _num(self.rhat.function),
            "rhat_max_canonical_mass": self._rhat_mass("canonical"),
            "rhat_max_function_mass": self._rhat_mass("function"),
            "mass_chains": list(self.mass_chains),
            "modes_raw": self.modes_raw.n_modes,
            "modes_canonical": self.n_modes_canonical,
            "modes_function": self.modes_function.n_modes,
            "mode_orbits": self.mode_orbits,
            "symmetric_mode_pairs": sum(p.symmetric for p in pairs),
            "mode_pairs_total": len(pairs),
            "map_optima_raw": None if self.map is None else self.map.n_raw,
            "map_optima_canonical": None if self.map is None else self.map.n_canonical,
            "hessian_negdef_fraction": self.hessian.negdef_fraction,
            "mode_classes": [c.to_dict() for c in self.mode_classes],
            "min_mass": self.min_mass,
            "chain_class": list(self.chain_class),
            "chain_weights": weights,
            "chain_weights_method": self.chain_weights_method,
            "trapped_chains": list(self.trapped_chains),
            "ridge": None if self.ridge is None else self.ridge.to_dict(),
            "divergences": self.divergences,
            "curvature_parameter_effects": None if curv is None else _num(curv.parameter_effects),
            "curvature_intrinsic": None if curv is None else _num(curv.intrinsic),
            "curvature_parameter_effects_draws": (
                None if curv is None else curv.draws_range("parameter_effects")
            ),
            "curvature_intrinsic_draws": None if curv is None else curv.draws_range("intrinsic"),
            "jacobian_condition": (
                None if curv is None else _num(curv.at_point.jacobian_condition)
            ),
            "curvature_inputs": None if cin is None else _num(cin.rms),
            "verdict": str(self.verdict),
            "notes": list(self.notes),
            "warnings": list(self.warnings),
            "modes": [m.to_dict() for m in self._mode_table().modes],
            "modes_raw_table": [m.to_dict() for m in self.modes_raw.modes],
            "mode_pairs": [p.to_dict() for p in pairs],
            "switching_chains": list(self.modes_raw.switching_chains),
            "rhat": self.rhat.to_dict(),
            "rhat_mass": None if self.rhat_mass is None else self.rhat_mass.to_dict(),
            "map": None if self.map is None else self.map.to_dict(),
            "hessian": self.hessian.to_dict(),
            "curvature": None if curv is None else curv.to_dict(),
            "curvature_inputs_detail": None
            if cin is None
            else {
                **cin.to_dict(),
                **(
                    {}
                    if self.input_feature_map is None
                    else {"feature_map": self.input_feature_map}
                ),
            },
            "curvature_point": "none" if curv is None else curv.point,
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
            ("posterior group", self.posterior_group_name),
            ("continuous symmetries", ", ".join(self.continuous_symmetries) or "none"),
            ("chains to see all images", _fmt(self.expected_chains_to_see_all_images)),
            ("R-hat max raw / canonical", f"{_fmt(self.rhat.raw)} / {_fmt(self.rhat.canonical)}"),
            ("R-hat max function space", _fmt(self.rhat.function)),
        ]
        if self.trapped_chains:
            rows.append(
                (
                    "R-hat canonical / function, mass-bearing chains",
                    f"{_fmt(d['rhat_max_canonical_mass'])} / {_fmt(d['rhat_max_function_mass'])}",
                )
            )
        rows += [
            ("modes raw / up to symmetry", f"{d['modes_raw']} / {d['modes_canonical']}"),
            ("symmetric mode pairs", f"{d['symmetric_mode_pairs']} of {d['mode_pairs_total']}"),
            ("MAP optima raw / up to symmetry", mp),
            (
                "Hessian negative definite",
                f"{self.hessian.negdef_fraction:.1%} of {self.hessian.n_evaluated} draws",
            ),
        ]
        for c in self.mode_classes:
            rows.append((f"mode class {c.index}", class_line(c)))
        if self.chain_weights is not None:
            rows.append(
                ("chain weights (stacking)", " ".join(f"{w:.3f}" for w in self.chain_weights))
            )
        if self.ridge is not None:
            rows.append(("flat orbit directions at the MAP", ridge_text(self.ridge, "")))
        if self.curvature is not None:
            c = self.curvature
            rng = c.draws_range("parameter_effects")
            spread = (
                ""
                if rng is None
                else (
                    f"; over {len(c.draws)} draws median {_fmt(rng[1])}, "
                    f"range {_fmt(rng[0])}-{_fmt(rng[2])}"
                )
            )
            rows.append(
                (
                    "curvature of eta, gamma*sqrt(F): param.-effects / intrinsic",
                    f"{_fmt(c.parameter_effects)} / {_fmt(c.intrinsic)} at the {c.point} "
                    f"(reference 0.5; cond(J) {_fmt(c.at_point.jacobian_condition)}){spread}",
                )
            )
            if c.mean_scale is not None:
                pe, ic = c.mean_scale.times_sqrt_f(c.level)
                rows.append(("curvature of mu, gamma*sqrt(F)", f"{_fmt(pe)} / {_fmt(ic)}"))
        if self.curvature_inputs is not None:
            rows.append(("curvature of eta in inputs", _fmt(self.curvature_inputs.rms)))
        rows.append(("verdict", str(self.verdict)))
        rows.extend(("warning", w) for w in self.warnings)
        rows.extend(("note", n) for n in self.notes)
        return rows

    def to_table(self):
        """A ``rich.table.Table`` of the main numbers, for the CLI."""
        from rich.markup import escape
        from rich.table import Table

        table = Table(title=f"Posterior geometry: {self.model}", show_header=False)
        table.add_column("quantity", style="bold")
        table.add_column("value")
        for k, v in self._rows():
            style = "bold red" if k == "warning" else None
            table.add_row(escape(k), escape(v), style=style)
        return table

    def __repr__(self) -> str:
        return (
            f"GeometryResult(model={self.model!r}, verdict={str(self.verdict)!r}, "
            f"modes_raw={self.modes_raw.n_modes}, modes_canonical={self.n_modes_canonical})"
        )

    def __str__(self) -> str:
        rows = self._rows()
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def ridge_text(r: Ridge, group: str) -> str:
    """The flatness of the Hessian along the orbit, in words."""
    of = f" of the {group} orbit" if group else ""
    fixed = r.dimension - r.rank
    extra = (
        f" (the group has dimension {r.dimension}; {fixed} direction(s) fix the point, e.g. "
        "rotations among units at ~0)"
        if fixed
        else ""
    )
    return (
        f"the Hessian is flat along {r.n_flat} of the {r.rank} directions{of} at that point{extra}"
    )


def class_line(c: ModeClass) -> str:
    """One line on a mode class: share, masses, log density, chains."""
    share = "share n/a" if c.mass_share is None else f"share {c.mass_share:.3g} ({c.mass_source})"
    lap = "n/a" if c.log_mass_laplace is None else f"{c.log_mass_laplace:.2f}"
    drw = "n/a" if c.log_mass_draws is None else f"{c.log_mass_draws:.2f}"
    lp = "n/a" if c.map_logp is None else f"{c.map_logp:.2f}"
    chains = ",".join(map(str, c.chains)) or "none (MAP only)"
    tag = "" if c.mass_bearing else ", trapped"
    return (
        f"{share}{tag}; log mass Laplace {lap} / draws {drw}; log density at optimum {lp}; "
        f"chains {chains}"
    )


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
def _canonical(run: xr.DataTree, method: str) -> tuple[xr.DataTree, bool]:
    """The run with a ``canonical_posterior`` by ``method`` (reused when already there)."""
    from bayesstack.geometry.canonical import add_canonical

    if "canonical_posterior" in run.children:
        if run["canonical_posterior"].attrs.get("canonical_method") == method:
            return run, True
    return add_canonical(run, method=method), False


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
    min_mass: float = MIN_MASS,
    curvature_draws: int = 20,
    bridge_draws: int = 1000,
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
    min_mass : float
        Share of the posterior mass from which a mode class counts (``mass_bearing``); lighter
        classes are trapped local modes. In (0, 1).
    curvature_draws : int
        Posterior draws (seeded, spread over the mass-bearing chains) at which the curvature
        is also computed, for its median and range (0: only at the best optimum).
    bridge_draws : int
        Most draws per chain that bridge sampling uses.

    Returns
    -------
    GeometryResult
        Its ``run`` carries the ``canonical_posterior`` and ``chain_weights`` groups.
    """
    from bayesstack.geometry.symmetry import symmetry_group
    from bayesstack.inference.io import model_from_run, sampler_log_density, spec_of, weight_draws

    n_map_starts = check_int("MAP starts", n_map_starts)
    seed = check_int("seed", seed)
    curvature_draws = check_int("curvature draws", curvature_draws)
    if not (isinstance(min_mass, int | float) and 0.0 < float(min_mass) < 1.0):
        raise BayesstackError(f"min_mass: must be a number in (0, 1), got {min_mass!r}")
    clock = _Clock(progress)
    clock.stage("symmetry group")
    spec = spec_of(run, "run (plain pm.sample? give it one: bs.attach_spec(idata, spec, X, y))")
    if "posterior" not in run.children or "constant_data" not in run.children:
        raise BayesstackError("run: needs 'posterior' and 'constant_data' groups")
    group = symmetry_group(spec)
    X = np.asarray(run["constant_data"]["X"].values, dtype=float)
    post = run["posterior"].to_dataset()
    w = weight_draws(post, spec)
    n_chains, n_draws = w["W1"].shape[:2]
    theta = flatten(w, spec, 2)
    logp = sampler_log_density(run)

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
    from bayesstack.geometry.density import Density, posterior_flat

    model = model_from_run(run)
    density = Density(model, spec)
    hess = WeightHessian(density)
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

    clock.stage("mass")
    from bayesstack.geometry import evidence as ev
    from bayesstack.geometry.classes import fallback_classes, measure_classes, ridge_check

    notes: list[str] = []
    continuous = bool(group.posterior_continuous)
    if mp is not None and mp.n_raw > 0:
        xdraws = posterior_flat(density, post)
        classes, chain_class, cls_notes = measure_classes(
            spec, group, density, mp, theta, xdraws, logp, X,
            fun_scale=m_fun.scale, fun_obs=obs[sub], map_from_chains=map_from_chains,
            seed=seed, bridge_draws=bridge_draws,
        )  # fmt: skip
        notes += cls_notes
    else:
        classes, chain_class = fallback_classes(m_fun if continuous else m_can, n_chains, group)
    classes = ev.assign_shares(classes, float(min_mass))
    ridge = None
    if continuous and mp is not None and mp.n_raw > 0:
        ridge = ridge_check(spec, group, density, mp.x[0], X.shape[1])
    verdict = ev.decide(
        classes,
        posterior_order=int(group.posterior_order),
        continuous_posterior=continuous,
        ridge=ridge,
    )

    clock.stage("stacking")
    weights, method = _chain_weights(ll, classes, n_chains)
    run = _with_chain_weights(run, weights, method, classes, chain_class)
    heavy_chains = sorted(c for k in classes if k.mass_bearing for c in k.chains)
    rhat_mass = None
    if len(heavy_chains) < n_chains and heavy_chains:
        sel = np.asarray(heavy_chains)
        rhat_mass = fs.rhat_summary(
            spec,
            {k: v[sel] for k, v in w.items()},
            X,
            canonical={k: v[sel] for k, v in wc.items()},
            loglik=None if ll is None else ll[sel],
            nuisance={k: v[sel] for k, v in nuis.items()},
            eta=eta[sel],
            max_cells=max_cells,
        )

    curv = cin = None
    if curvature:
        clock.stage("curvature")
        curv, cin = _curvatures(
            spec, X, mp, theta, nuis, logp, heavy_chains or list(range(n_chains)),
            seed, curvature_directions, curvature_draws,
        )  # fmt: skip

    clock.stop()
    div = None
    if "sample_stats" in run.children and "diverging" in run["sample_stats"]:
        div = int(run["sample_stats"]["diverging"].sum())
    result = GeometryResult(
        model=spec.name,
        depth=spec.depth,
        n_params=int(theta.shape[-1]),
        n_obs=int(X.shape[0]),
        chains=int(n_chains),
        draws=int(n_draws),
        group=group,
        # a continuous posterior symmetry has a continuum of images: no chain count shows them all
        expected_chains_to_see_all_images=(
            math.inf if continuous else float(group.expected_chains_to_see_all())
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
        verdict=verdict,
        notes=(),
        canonical={
            "method": canonical_method,
            "reused": reused,
            "n_iter": int(cpost.attrs.get("canonical_n_iter", 0)),
            "converged": bool(cpost.attrs.get("canonical_converged", 1)),
        },
        timings={**clock.times, "total": sum(clock.times.values())},
        mode_classes=tuple(classes),
        chain_class=tuple(chain_class),
        chain_weights=weights,
        chain_weights_method=method,
        rhat_mass=rhat_mass,
        ridge=ridge,
        min_mass=float(min_mass),
        divergences=div,
        run=run,
    )
    return _with(
        result, notes=tuple(notes + _notes(result)), warnings=tuple(_trapped_warnings(result))
    )


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
    return _draw_point(spec, d, theta, nuis, c, k), (
        "draw with the highest log density" if logp is not None else "first draw"
    )


def _draw_point(spec, d, theta, nuis, c, k) -> dict[str, np.ndarray]:
    point = {k2: v[0] for k2, v in unflatten(theta[c, k][None], spec, d).items()}
    if "sigma" in nuis:
        point["sigma"] = float(nuis["sigma"][c, k])
    return point


def _curvatures(spec, X, mp, theta, nuis, logp, chains, seed, n_directions, n_draws):
    """Curvature of η at the best optimum and at ``n_draws`` draws of ``chains`` (seeded)."""
    from bayesstack.geometry.curvature import curvature_summary, input_curvature

    d = X.shape[1]
    point, name = _curvature_point(spec, d, mp, theta, nuis, logp)
    rng = np.random.default_rng([seed, 20261207])
    index = [(int(chains[i % len(chains)]), int(rng.integers(theta.shape[1]))) for i in
             range(n_draws)]  # fmt: skip
    draws = [_draw_point(spec, d, theta, nuis, c, k) for c, k in index]
    summary = curvature_summary(
        spec, point, X, point_name=name, draws=draws, draw_index=index, rng=seed,
        n_directions=n_directions,
    )  # fmt: skip
    weights = {k: v for k, v in point.items() if k != "sigma"}
    return summary, input_curvature(spec, weights, X)


def _chain_weights(ll, classes, n_chains) -> tuple[np.ndarray, str]:
    """Stacking weights of the chains: mass-bearing classes pooled, stacked, shared equally.

    Trapped chains (in light classes) get 0: they did not sample the posterior.
    """
    from bayesstack.geometry.mass import class_stacking_weights

    groups = [list(c.chains) for c in classes if c.chains and c.mass_bearing]
    trapped = n_chains - sum(map(len, groups))
    if not groups:  # no chain reached a mass-bearing class: nothing to prefer
        return np.full(n_chains, 1.0 / n_chains), "equal (no chain in a mass-bearing class)"
    w = np.zeros(n_chains)
    if len(groups) == 1:
        w[groups[0]] = 1.0 / len(groups[0])
        method = "one mass-bearing mode class: equal weights over its chains"
    elif ll is None:
        chains = [c for g in groups for c in g]
        w[chains] = 1.0 / len(chains)
        method = "equal over mass-bearing chains (the run has no log_likelihood group)"
    else:
        chains = [c for g in groups for c in g]
        local = {c: i for i, c in enumerate(chains)}
        sub, _ = class_stacking_weights(ll[chains], [[local[c] for c in g] for g in groups])
        w[chains] = sub
        method = (
            "stacking of mass-bearing mode classes (arviz.compare, method='stacking'), "
            "shared within a class"
        )
    return w, method + ("; trapped chains 0" if trapped else "")


def _with_chain_weights(run, weights, method, classes, chain_class) -> xr.DataTree:
    """``run`` with a ``chain_weights`` group: ``stacking`` and ``mode_class`` over ``chain``."""
    run = run.copy()
    chains = run["posterior"]["chain"].values
    ds = xr.Dataset(
        {
            "stacking": ("chain", np.asarray(weights, dtype=float)),
            "mode_class": ("chain", np.array([-1 if c is None else c for c in chain_class])),
            "mass_bearing": (
                "chain",
                np.array(
                    [int(classes[c].mass_bearing) if c is not None else 1 for c in chain_class]
                ),
            ),
        },
        coords={"chain": chains},
        attrs={
            "method": method,
            "reference": "Yao, Vehtari & Gelman (2022), Stacking for non-mixing Bayesian "
            "computations",
        },
    )
    run[CHAIN_WEIGHTS] = xr.DataTree(ds)
    return run


def _trapped_warnings(r: GeometryResult) -> list[str]:
    """One line per chain in a trapped local mode."""
    out = []
    best = r.mode_classes[0].map_logp if r.mode_classes else None
    for k in r.trapped_classes:
        drop = (
            ""
            if best is None or k.map_logp is None
            else (f", {best - k.map_logp:.1f} nats below the best optimum")
        )
        for c in k.chains:
            out.append(
                f"chain {c} did not sample the posterior: it is trapped in local mode class "
                f"{k.index} (mass share {k.mass_share:.2g}{drop})"
            )
    return out


def _notes(r: GeometryResult) -> list[str]:
    """Findings that qualify the verdict, one sentence each (under every verdict)."""
    notes = []
    rc = r.to_dict()["rhat_max_canonical_mass"]
    rf = r.to_dict()["rhat_max_function_mass"]
    scope = "the mass-bearing chains" if r.trapped_chains else "all chains"
    if r.verdict == UNIMODAL and (r.rhat.raw or 0) > 1.01:
        notes.append(
            f"R-hat on the weights is {r.rhat.raw:.3f} although all draws form one mode: "
            "the chains have not mixed within it; run longer chains"
        )
    elif r.verdict != UNIMODAL:
        pairs = [("function-space", rf)]
        if not r.continuous_posterior_symmetry:  # draws drift along a continuous orbit
            pairs.insert(0, ("canonical", rc))
        bad = [f"{n} {v:.3f}" for n, v in pairs if v is not None and v > 1.01]
        if bad:
            notes.append(
                f"R-hat over {scope} is above 1.01 ({', '.join(bad)}): the chains have not "
                "mixed within the mass-bearing modes; run longer chains"
            )
    if r.divergences:
        total = r.chains * r.draws
        notes.append(
            f"{r.divergences} of {total} transitions were divergent ({r.divergences / total:.1%})"
            ": the sampler may have missed parts of the posterior"
        )
    sw = r.modes_raw.switching_chains
    if sw:
        notes.append(f"{len(sw)} of {r.chains} chains switch between raw modes during sampling")
    if not r.continuous_posterior_symmetry and r.mode_orbits != r.modes_canonical.n_modes:
        notes.append(
            f"the canonical draws form {r.modes_canonical.n_modes} "
            f"mode{'s' * (r.modes_canonical.n_modes != 1)} but the raw modes fall "
            f"into {r.mode_orbits} classes of images; the canonicalisation may be imperfect"
        )
    if r.continuous_posterior_symmetry:
        notes.append(
            "a continuous posterior symmetry acts, so modes up to symmetry are counted in "
            "function space (draws of eta) and no class has a mass estimate"
        )
    if r.ridge is not None:
        notes.append(f"at the MAP {ridge_text(r.ridge, r.posterior_group_name)}")
    discrete_only = r.posterior_group_order > 1 and not r.continuous_posterior_symmetry
    if discrete_only and r.expected_chains_to_see_all_images > r.chains:
        notes.append(
            f"{r.chains} chains cannot show all {r.posterior_group_order:,} symmetric images "
            f"(about {r.expected_chains_to_see_all_images:,.0f} chains would be needed); "
            "they are there by symmetry whether or not chains visit them"
        )
    if r.map is None:
        notes.append(
            "the multi-start MAP did not run: no mass estimates, every mode counts as mass-bearing"
        )
    else:
        light = [c for c in r.mode_classes if not c.mass_bearing and not c.chains]
        if light:
            notes.append(
                f"the multi-start MAP found {len(light)} further class(es) of optima below "
                f"min_mass (best log densities "
                f"{', '.join(f'{c.map_logp:.2f}' for c in light)}); no chain sampled them"
            )
        if r.map.n_converged < r.map.n_starts:
            notes.append(
                f"MAP: {r.map.n_starts - r.map.n_converged} of {r.map.n_starts} starts did not "
                "converge"
            )
    for c in r.mode_classes:
        if c.disagreement is not None and abs(c.disagreement) > 1.0:
            notes.append(
                f"mode class {c.index}: the Laplace and draw-based log masses differ by "
                f"{c.disagreement:.2f} nats (the mode is not Gaussian, or its chains did not "
                "sample it alone)"
            )
    if r.hessian.n_evaluated < r.hessian.n_total:
        notes.append(
            f"the Hessian was evaluated at {r.hessian.n_evaluated} of {r.hessian.n_total} draws "
            "(evenly spaced within each chain)"
        )
    return notes
