"""The report's answer paragraph, written from the measured numbers of the runs compared.

Nothing here is canned: every clause is chosen by a number (the verdict, the mode classes and
their mass, the curvatures) and quotes it, so other runs give another paragraph. The rows'
geometry is typed (:class:`bayesstack.geometry.summary.GeometrySummary`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from bayesstack.geometry.analysis import ridge_text
from bayesstack.geometry.curvature import BATES_WATTS_REFERENCE
from bayesstack.geometry.evidence import Verdict
from bayesstack.geometry.summary import GeometrySummary

_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}


def _count(n: int) -> str:
    return _WORDS.get(n, str(n))


def _plural(n: int, one: str, many: str) -> str:
    return f"{_count(n)} {one if n == 1 else many}"


def _num(x: float, digits: int = 2) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:.{digits}g}"


def _rhat_num(x: float) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.3f}"


def describe(row) -> str:
    """A model in words: "the GLM", "the one-layer tanh stack", "the deep linear stack"."""
    if row.depth == 0:
        return "the GLM on polynomial features" if row.feature_map else "the GLM"
    acts = sorted(set(row.activations))
    act = "linear" if acts == ["identity"] else "/".join(acts)
    if act == "linear" and row.depth > 1:
        return "the deep linear stack"
    return f"the {_count(row.depth)}-layer {act} stack"


def _names(rows) -> dict[str, str]:
    desc = {r.name: describe(r) for r in rows}
    values = list(desc.values())
    return {n: d if values.count(d) == 1 else f"{d} ({n})" for n, d in desc.items()}


def _join(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" and {items[-1]}"


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def curvature_clause(g: GeometrySummary) -> str:
    """γ·√F of η at the best optimum with cond(J), and over posterior draws."""
    if not math.isfinite(g.curvature_parameter_effects):
        return "curvature not computed"
    if g.affine_in_params:
        return "η is affine in θ (curvature of η 0 up to rounding)"
    text = (
        f"γ·√F of η {_num(g.curvature_parameter_effects)} (parameter effects) / "
        f"{_num(g.curvature_intrinsic)} (intrinsic) at the best optimum, against the "
        f"Bates–Watts reference {BATES_WATTS_REFERENCE}, cond(J) {_num(g.jacobian_condition)}"
    )
    if g.curvature_draws is not None:
        lo, med, hi = g.curvature_draws
        text += (
            f"; parameter effects over posterior draws median {_num(med)}, "
            f"range {_num(lo)}–{_num(hi)}"
        )
    return text


def _shares(g: GeometrySummary) -> str:
    heavy = g.mass_bearing
    if not heavy or heavy[0].mass_share is None:
        return "no mass estimate"
    return ", ".join(f"{c.mass_share:.2g} ({c.mass_source})" for c in heavy)


def _trapped(g: GeometrySummary) -> str | None:
    trapped = [c for c in g.classes if not c.mass_bearing and c.chains]
    if not trapped:
        return None
    best = g.classes[0].map_logp
    parts = []
    for c in trapped:
        drop = "" if best is None or c.map_logp is None else f" {best - c.map_logp:.1f} nats down"
        n = len(c.chains)
        who = (
            f"chain {c.chains[0]}"
            if n == 1
            else ("chains " + ", ".join(map(str, c.chains[:-1])) + f" and {c.chains[-1]}")
        )
        parts.append(
            f"{who} sat in a local mode{drop} (mass share {c.mass_share:.1g}), trapped: "
            f"{'it' if n == 1 else 'they'} did not sample the posterior"
        )
    return "; ".join(parts)


def _rhat(g: GeometrySummary, chains: str) -> str:
    scope = "the mass-bearing chains" if g.trapped_chains else chains
    if any(c.scope == "posterior" for c in g.continuous):
        text = (
            f"function-space R-hat {_rhat_num(g.rhat_function_mass)} over {scope}; the "
            f"canonical R-hat {_rhat_num(g.rhat_canonical_mass)} is no mixing diagnostic here, "
            "as draws drift along the continuous orbit"
        )
    else:
        text = (
            f"canonical R-hat {_rhat_num(g.rhat_canonical_mass)} and function-space R-hat "
            f"{_rhat_num(g.rhat_function_mass)} over {scope}"
        )
    if g.divergences:
        text += f", {g.divergences} of {g.chains * g.draws} transitions divergent"
    return text


def _head(g: GeometrySummary, name: str) -> str:
    v = g.verdict
    classes = g.mass_bearing
    if v == Verdict.UNIMODAL:
        if g.posterior_group_order == 1 and not g.continuous:
            return f"{_cap(name)} has a unimodal posterior: one mode, and no symmetry"
        return f"{_cap(name)} has a unimodal posterior: one mode, fixed by its symmetry group"
    if v == Verdict.RIDGE:
        flat = "" if g.ridge is None else f"; at the MAP {ridge_text(g.ridge, '')}"
        return (
            f"{_cap(name)}'s posterior is a continuous symmetry ridge: its maxima form one "
            f"orbit of the {g.posterior_group} group, along which the density is constant{flat}"
        )
    if v == Verdict.SYMMETRIC:
        orbit = classes[0].orbit_size if classes and classes[0].orbit_size else None
        size = f"the {orbit:,}-image orbit" if orbit else "one orbit"
        seen = _plural(g.modes_raw, "raw mode", "raw modes")
        return (
            f"{_cap(name)} shows symmetric multimodality: all the posterior mass is in "
            f"{size} of one mode under its posterior symmetry group ({g.posterior_group}), "
            f"whether or not the chains visit the images (the chains sat in {seen})"
        )
    if v == Verdict.LIKELIHOOD:
        return (
            f"{_cap(name)} shows likelihood-symmetric multimodality: "
            f"{_plural(len(classes), 'class', 'classes')} of modes with mass shares {_shares(g)} "
            "give the same η at the data but are not images under the posterior group (a "
            "symmetry of the likelihood that the prior breaks)"
        )
    return (
        f"{_cap(name)} is multimodal beyond symmetry: "
        f"{_plural(len(classes), 'class', 'classes')} of modes that are not images of each "
        f"other hold mass (shares {_shares(g)})"
    )


def _concavity(row, g: GeometrySummary) -> str | None:
    if g.log_concave is None:
        return None
    frac = g.hessian_negdef_fraction
    measured = f"the weight Hessian is negative definite at {frac:.0%} of draws"
    if g.log_concave:
        return f"its posterior in the weights is log-concave ({g.log_concave_reason}); {measured}"
    return f"log-concavity is not implied ({g.log_concave_reason}); {measured}"


def model_sentence(row, name: str) -> str:
    """One sentence on one model's posterior geometry, quoting its numbers."""
    g = row.geometry
    chains = _plural(g.chains, "dispersed chain", "dispersed chains")
    bits = [_rhat(g, chains), _trapped(g), _concavity(row, g), curvature_clause(g)]
    return f"{_head(g, name)} ({'; '.join(b for b in bits if b)})."


def _verdict_sentence(rows, names) -> str:
    lin = [r for r in rows if r.linear_in_params]
    non = [r for r in rows if not r.linear_in_params]
    glms = [r for r in rows if r.depth == 0]
    stacks = [r for r in rows if r.depth > 0]
    if not lin:
        return "None of the models compared has η affine in its parameters."
    if not non:
        return "Every model compared has η affine in its parameters."
    pe = [r.geometry.curvature_parameter_effects for r in non]
    span = _num(min(pe)) if len(non) == 1 else f"{_num(min(pe))}–{_num(max(pe))}"
    matters = [names[r.name] for r in non if r.geometry.nonlinearity_matters]
    if lin == glms and non == stacks:
        text = (
            f"So a GLM is a linear model in its parameters on the scale of η (curvature 0 for "
            f"{_plural(len(glms), 'GLM', 'GLMs')}; on the mean scale only with the identity "
            f"link), and a stack of GLMs is not (γ·√F of η {span} for "
            f"{_plural(len(stacks), 'stack', 'stacks')})"
        )
    else:
        text = (
            f"η is affine in the parameters for {', '.join(names[r.name] for r in lin)}; not "
            f"(γ·√F {span}) for {', '.join(names[r.name] for r in non)}"
        )
    if matters:
        text += (
            f"; the nonlinearity matters at the 95% level (γ·√F above "
            f"{BATES_WATTS_REFERENCE}) for {_join(matters)}"
        )
    lin_x_non = [r for r in non if r.linear_in_inputs]
    if lin_x_non:
        text += (
            f". η is not affine in θ even where it is linear in the inputs, as for "
            f"{names[lin_x_non[0].name]}"
        )
    return text + "."


def _elpd_sentence(rows, names) -> str:
    if len(rows) < 2:
        return ""
    best = min(rows, key=lambda r: r.rank)
    worst = max(rows, key=lambda r: r.rank)
    return (
        f"By ELPD-LOO, {names[best.name]} predicts best ({best.elpd:.1f} ± "
        f"{best.elpd_se:.1f}); {names[worst.name]} trails by "
        f"{-worst.elpd_diff:.1f} ± {worst.elpd_dse:.1f}."
    )


def answer_paragraph(rows: Sequence) -> str:
    """The answer paragraph of a report.

    Parameters
    ----------
    rows : sequence of ModelRow
        One per model, each with its typed ``geometry``.

    Returns
    -------
    str
        One paragraph: a sentence per model (GLMs first, then by depth), then what the
        curvatures say about linearity, then the ELPD ranking.
    """
    rows = sorted(rows, key=lambda r: (r.depth, r.name))
    names = _names(rows)
    parts = [model_sentence(r, names[r.name]) for r in rows]
    parts += [_verdict_sentence(rows, names), _elpd_sentence(rows, names)]
    return " ".join(p for p in parts if p)
