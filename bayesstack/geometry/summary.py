"""A frozen, typed summary of a :class:`~bayesstack.geometry.GeometryResult` for reports.

The report reads these fields directly (the verdict as a :class:`Verdict`, continuous
symmetries as :class:`~bayesstack.geometry.symmetry.ContinuousSymmetry` records, mode classes
as :class:`~bayesstack.geometry.evidence.ModeClass`): no key lists, no dict access.

:func:`glm_log_concavity` states when a GLM's posterior is log-concave.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bayesstack.geometry.curvature import AFFINE_TOL, BATES_WATTS_REFERENCE
from bayesstack.geometry.evidence import ModeClass, Ridge, Verdict
from bayesstack.registry import FAMILIES
from bayesstack.spec import Spec

#: Weight priors that are log-concave (densities of the form exp(-convex)).
LOG_CONCAVE_PRIORS = ("normal", "normal_fanin", "laplace")
#: (family, link) pairs whose log-likelihood is concave in η: the registry's ``concave_links``.
CONCAVE_LIKELIHOODS = frozenset(
    (name, link) for name, fam in FAMILIES.items() for link in fam.concave_links
)


def glm_log_concavity(spec: Spec) -> tuple[bool | None, str]:
    """Whether a GLM's posterior in its weights (noise parameters given) is log-concave.

    It is when every weight prior is log-concave (Normal, normal_fanin, Laplace; not Student-t,
    not hierarchical) and the log-likelihood is concave in η (the canonical links, probit,
    cloglog and the negative binomial's log link; not a Gaussian with a log link, not Student-t
    noise, not the location–scale
    Gaussian, whose log-likelihood is not jointly concave in (η_μ, η_σ)): a concave function of
    η composed with the affine η = Xθ, plus concave log priors. ``None`` for a stack
    (depth > 0), where no such statement holds.

    Returns
    -------
    (bool or None, str)
        The answer and the reason in words.
    """
    if spec.depth > 0:
        return None, "a stack of GLMs: log-concavity is measured, not implied"
    priors = {"W1": spec.weight_prior(1).dist}
    if spec.has_bias(1):
        priors["b1"] = spec.bias_prior(1).dist
    bad = [f"{k} ({v})" for k, v in priors.items() if v not in LOG_CONCAVE_PRIORS]
    lik = (spec.family, spec.link) in CONCAVE_LIKELIHOODS
    if not bad and lik:
        # the likelihood is concave in η for fixed noise parameters, not jointly with them
        nuisance = FAMILIES[spec.family].nuisance
        given = f"; for fixed {', '.join(nuisance)}" if nuisance else ""
        return True, (
            f"log-concave priors and a {spec.family} likelihood with the {spec.link} link, "
            f"concave in η{given}"
        )
    why = []
    if bad:
        why.append(f"priors not log-concave on {', '.join(bad)}")
    if not lik and len(spec.outputs) > 1:
        why.append(
            f"the {spec.family} log-likelihood is not jointly concave in (η_μ, η_σ): "
            "-log N(y; μ, e^s) has Hessian determinant -2 (y - μ)² e^(-4s) < 0 in (μ, s)"
        )
    elif not lik:
        why.append(
            f"the {spec.family} log-likelihood with the {spec.link} link is not concave in η"
        )
    return False, "; ".join(why)


@dataclass(frozen=True)
class GeometrySummary:
    """What a report needs from one run's geometry, typed.

    Curvatures are of the linear predictor η: ``curvature_parameter_effects`` and
    ``curvature_intrinsic`` are γ·√F(0.95; r, n − r) at the best optimum (compare with 0.5),
    ``curvature_gamma`` the bare (γ^θ, γ^ι) there, ``curvature_draws`` the ``[min, median,
    max]`` of γ^θ·√F over posterior draws, ``curvature_mean_scale`` γ·√F of μ = g⁻¹(η).
    """

    model: str
    depth: int
    chains: int
    draws: int
    verdict: Verdict
    posterior_group_order: int
    posterior_group: str
    continuous: tuple  # of ContinuousSymmetry
    rhat_raw: float
    rhat_canonical: float
    rhat_function: float
    rhat_canonical_mass: float
    rhat_function_mass: float
    modes_raw: int
    modes_canonical: int
    map_optima_raw: int | None
    map_optima_canonical: int | None
    hessian_negdef_fraction: float
    classes: tuple[ModeClass, ...]
    chain_weights: tuple[float, ...] | None
    trapped_chains: tuple[int, ...]
    warnings: tuple[str, ...]
    notes: tuple[str, ...]
    divergences: int | None
    ridge: Ridge | None
    curvature_parameter_effects: float
    curvature_intrinsic: float
    curvature_gamma: tuple[float, float]
    jacobian_condition: float
    curvature_draws: tuple[float, float, float] | None
    curvature_mean_scale: tuple[float, float] | None
    curvature_inputs: float
    link: str
    log_concave: bool | None
    log_concave_reason: str

    @property
    def affine_in_params(self) -> bool:
        """η is affine in θ: both γ are 0 up to rounding (≤ ``AFFINE_TOL``)."""
        g = [v for v in self.curvature_gamma if math.isfinite(v)]
        return bool(g) and max(g) <= AFFINE_TOL

    @property
    def nonlinearity_matters(self) -> bool:
        """γ·√F above the Bates–Watts reference 0.5 at the best optimum."""
        v = [x for x in (self.curvature_parameter_effects, self.curvature_intrinsic)
             if math.isfinite(x)]  # fmt: skip
        return bool(v) and max(v) > BATES_WATTS_REFERENCE

    @property
    def linear_in_inputs(self) -> bool:
        """η is affine in the raw inputs x."""
        return math.isfinite(self.curvature_inputs) and self.curvature_inputs <= AFFINE_TOL

    @property
    def mass_bearing(self) -> tuple[ModeClass, ...]:
        """Classes with at least ``min_mass`` of the mass."""
        return tuple(c for c in self.classes if c.mass_bearing)


def _f(v) -> float:
    return math.nan if v is None else float(v)


def summarize_geometry(result, spec: Spec) -> GeometrySummary:
    """The summary of ``result`` (a :class:`~bayesstack.geometry.GeometryResult`)."""
    curv = result.curvature
    rng = None if curv is None else curv.draws_range("parameter_effects")
    ms = None
    if curv is not None and curv.mean_scale is not None:
        ms = tuple(float(v) for v in curv.mean_scale.times_sqrt_f(curv.level))
    lc, why = glm_log_concavity(spec)
    cin = None if result.curvature_inputs is None else result.curvature_inputs.rms
    r, rm = result.rhat, result.rhat_mass if result.rhat_mass is not None else result.rhat
    mp = result.map
    return GeometrySummary(
        model=result.model,
        depth=result.depth,
        chains=result.chains,
        draws=result.draws,
        verdict=result.verdict,
        posterior_group_order=result.posterior_group_order,
        posterior_group=result.posterior_group_name,
        continuous=tuple(result.group.continuous),
        rhat_raw=_f(r.raw),
        rhat_canonical=_f(r.canonical),
        rhat_function=_f(r.function),
        rhat_canonical_mass=_f(rm.canonical),
        rhat_function_mass=_f(rm.function),
        modes_raw=result.modes_raw.n_modes,
        modes_canonical=result.n_modes_canonical,
        map_optima_raw=None if mp is None else mp.n_raw,
        map_optima_canonical=None if mp is None else mp.n_canonical,
        hessian_negdef_fraction=float(result.hessian.negdef_fraction),
        classes=tuple(result.mode_classes),
        chain_weights=None
        if result.chain_weights is None
        else tuple(float(w) for w in result.chain_weights),
        trapped_chains=tuple(result.trapped_chains),
        warnings=tuple(result.warnings),
        notes=tuple(result.notes),
        divergences=result.divergences,
        ridge=result.ridge,
        curvature_parameter_effects=math.nan if curv is None else float(curv.parameter_effects),
        curvature_intrinsic=math.nan if curv is None else float(curv.intrinsic),
        curvature_gamma=(math.nan, math.nan)
        if curv is None
        else (float(curv.at_point.parameter_effects), float(curv.at_point.intrinsic)),
        jacobian_condition=math.nan if curv is None else float(curv.at_point.jacobian_condition),
        curvature_draws=None if rng is None else (rng[0], rng[1], rng[2]),
        curvature_mean_scale=ms,
        curvature_inputs=_f(cin),
        link=spec.link,
        log_concave=lc,
        log_concave_reason=why,
    )
