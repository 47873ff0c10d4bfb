"""Made-up typed rows for report tests (no fits): a GeometrySummary and a ModelRow."""

import math
from dataclasses import replace

from bayesstack.geometry.evidence import ModeClass, Verdict
from bayesstack.geometry.summary import GeometrySummary
from bayesstack.report.compare import ModelRow


def mode_class(index=0, share=1.0, chains=tuple(range(8)), orbit=48, map_logp=-46.4, **kw):
    base = dict(
        index=index, optima=(index,), chains=tuple(chains), map_logp=map_logp, mean_logp=None,
        orbit_size=orbit, stabiliser_order=1, log_mass_laplace=-70.0, log_mass_draws=-69.5,
        mass_share=share, mass_source="draws", mass_bearing=share >= 1e-3,
    )  # fmt: skip
    base.update(kw)
    return ModeClass(**base)


def geometry(depth, **kw) -> GeometrySummary:
    glm = depth == 0
    base = dict(
        model="m", depth=depth, chains=8, draws=500,
        verdict=Verdict.UNIMODAL if glm else Verdict.SYMMETRIC,
        posterior_group_order=1 if glm else 48, posterior_group="trivial" if glm else "48",
        continuous=(), rhat_raw=1.0 if glm else 2.4, rhat_canonical=1.0, rhat_function=1.01,
        rhat_canonical_mass=1.0, rhat_function_mass=1.01, modes_raw=1 if glm else 6,
        modes_canonical=1, map_optima_raw=1, map_optima_canonical=1, hessian_negdef_fraction=1.0,
        classes=(mode_class(orbit=1 if glm else 48),), chain_weights=(0.125,) * 8,
        trapped_chains=(), warnings=(), notes=(), divergences=0, ridge=None,
        curvature_parameter_effects=2e-12 if glm else 0.62,
        curvature_intrinsic=2e-13 if glm else 0.1,
        curvature_gamma=(1e-12, 1e-13) if glm else (0.31, 0.05),
        jacobian_condition=3.0 if glm else 22.0,
        curvature_draws=None if glm else (0.55, 0.6, 0.7), curvature_mean_scale=None,
        curvature_inputs=0.0 if glm else 0.8, link="identity",
        log_concave=True if glm else None,
        log_concave_reason="log-concave priors and a gaussian likelihood with the identity "
        "link, concave in η; for fixed sigma" if glm
        else "a stack of GLMs: log-concavity is measured, not implied",
    )  # fmt: skip
    base.update(kw)
    return GeometrySummary(**base)


def row(name, depth, geometry_kw=None, **kw) -> ModelRow:
    base = dict(
        name=name, family="gaussian", link="identity", depth=depth, units=(3,) * depth,
        activations=("tanh",) * depth, n_params=3 if depth == 0 else 13, n_obs=200, chains=8,
        draws=500, elpd=-231.43, elpd_se=8.86, elpd_diff=0.0, elpd_dse=0.0, p_loo=4.3,
        pareto_k_bad=0, pareto_k_threshold=0.7, rank=0, weight=1.0, ess_bulk_min=900.0,
        ess_bulk_min_canonical=900.0, divergences=0,
        geometry=geometry(depth, **(geometry_kw or {})),
    )  # fmt: skip
    base.update(kw)
    return ModelRow(**base)


def with_geometry(r: ModelRow, **kw) -> ModelRow:
    return replace(r, geometry=replace(r.geometry, **kw))


__all__ = ["geometry", "math", "mode_class", "row", "with_geometry"]
