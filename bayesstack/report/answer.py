"""The report's answer paragraph, written from the measured numbers of the runs compared.

Nothing here is canned: every clause is chosen by a number (the verdict, the mode counts, the
curvatures) and quotes it, so other runs give another paragraph.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bayesstack.report.compare import LINEAR_TOL

_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}


def _count(n: int) -> str:
    return _WORDS.get(n, str(n))


def _plural(n: int, one: str, many: str) -> str:
    return f"{_count(n)} {one if n == 1 else many}"


def _rhat(x: float) -> str:
    return f"{x:.2f}"


def _curv(x: float) -> str:
    return "0" if x < LINEAR_TOL else f"{x:.2g}"


def describe(row: Mapping[str, Any]) -> str:
    """A model in words: "the GLM", "the one-layer tanh stack", "the deep linear stack"."""
    depth = int(row["depth"])
    if depth == 0:
        return "the GLM on polynomial features" if row.get("feature_map") else "the GLM"
    acts = sorted(set(row["activations"]))
    act = "linear" if acts == ["identity"] else "/".join(acts)
    if act == "linear" and depth > 1:
        return "the deep linear stack"
    return f"the {_count(depth)}-layer {act} stack"


def _names(rows: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    desc = {r["name"]: describe(r) for r in rows}
    values = list(desc.values())
    return {n: d if values.count(d) == 1 else f"{d} ({n})" for n, d in desc.items()}


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _linearity(r: Mapping[str, Any]) -> str:
    in_theta = max(r["curvature_parameter_effects"], r["curvature_intrinsic"]) < LINEAR_TOL
    in_x = r["curvature_inputs"] < LINEAR_TOL
    cx = f"input curvature {_curv(r['curvature_inputs'])}"
    if in_theta and in_x:
        return "it is linear in its parameters and in its inputs"
    if in_theta:
        return f"it is linear in its parameters but not in its inputs ({cx})"
    if in_x:
        return f"it is linear in its inputs ({cx}) but not in its parameters"
    return f"it is linear in neither its parameters nor its inputs ({cx})"


def _symmetry(r: Mapping[str, Any]) -> str:
    order = int(r["posterior_group_order"])
    cont = posterior_continuous(r.get("continuous_symmetries") or [])
    text = f"its {order}-element symmetry group"
    return text + (f" and the continuous {' and '.join(cont)}" if cont else "")


def posterior_continuous(names: Sequence[str]) -> list[str]:
    """The continuous symmetries of the posterior, e.g. ``O(3) on hidden1``."""
    return [n.replace(" (posterior)", "") for n in names if "likelihood only" not in n]


def _concave(r: Mapping[str, Any]) -> str:
    frac = float(r["hessian_negdef_fraction"])
    if frac >= 1.0:
        return "log-concave at every draw"
    return f"Hessian negative definite at {frac:.0%} of draws"


def _maps(r: Mapping[str, Any]) -> str | None:
    n = r.get("map_optima_raw")
    return None if n is None else _plural(int(n), "MAP optimum", "MAP optima")


def _numbers(r: Mapping[str, Any], chains: str, pe: str) -> str:
    return (
        f"weight-space R-hat {_rhat(r['rhat_max_raw'])}, canonical R-hat "
        f"{_rhat(r['rhat_max_canonical'])}, function-space R-hat {_rhat(r['rhat_max_function'])} "
        f"from {chains}, {_concave(r)}, parameter-effects curvature {pe}"
    )


def model_sentence(row: Mapping[str, Any], name: str) -> str:
    """One sentence on one model's posterior geometry, quoting its numbers."""
    r, chains = row, _plural(int(row["chains"]), "dispersed chain", "dispersed chains")
    pe = _curv(max(r["curvature_parameter_effects"], r["curvature_intrinsic"]))
    modes = int(r["modes_raw"])
    maps = _maps(r)
    if r["verdict"] == "unimodal":
        bits = [f"R-hat {_rhat(r['rhat_max_raw'])} from {chains}", maps, _concave(r)]
        bits.append(f"curvature {pe}")
        head = f"{_cap(name)} has a unimodal posterior ({', '.join(b for b in bits if b)})"
    elif r["verdict"] == "symmetric multimodality":
        n_map = r.get("map_optima_raw")
        if modes > 1 or n_map is None:
            what = f"{_plural(modes, 'mode', 'modes')} that are images of each other under"
        elif int(n_map) > 1:
            what = f"one mode in its chains but {maps} that are images of each other under"
        else:  # one mode and one optimum: the maxima form a continuous orbit
            what = f"one mode and {maps}, on a continuous orbit of maxima under"
        head = f"{_cap(name)} shows {what} {_symmetry(r)} ({_numbers(r, chains, pe)})"
    else:
        n_can = int(r["modes_canonical"])
        if n_can > 1 or r.get("map_optima_canonical") is None:
            what = (
                f"its chains sit in {_plural(modes, 'mode', 'modes')} that fall into "
                f"{_count(n_can)} classes even up to {_symmetry(r)}"
            )
        else:
            imgs = "one mode" if modes == 1 else f"{_count(modes)} modes, images of each other"
            what = (
                f"its chains sit in {imgs} under {_symmetry(r)}, but multi-start MAP finds "
                f"{_count(int(r['map_optima_canonical']))} optima distinct even up to symmetry"
            )
        head = (
            f"{_cap(name)} is multimodal beyond symmetry: {what}, genuinely different local "
            f"optima, not relabellings ({_numbers(r, chains, pe)})"
        )
    return f"{head}: {_linearity(r)}."


def _verdict_sentence(rows: Sequence[Mapping[str, Any]], names: Mapping[str, str]) -> str:
    lin = [
        r
        for r in rows
        if r["curvature_parameter_effects"] < LINEAR_TOL and r["curvature_intrinsic"] < LINEAR_TOL
    ]
    non = [r for r in rows if r not in lin]
    glms = [r for r in rows if int(r["depth"]) == 0]
    stacks = [r for r in rows if int(r["depth"]) > 0]
    if not lin:
        return "None of the models compared is linear in its parameters."
    if not non:
        return "Every model compared is linear in its parameters."
    curv = [max(r["curvature_parameter_effects"], r["curvature_intrinsic"]) for r in non]
    span = _curv(min(curv)) if len(non) == 1 else f"{_curv(min(curv))}–{_curv(max(curv))}"
    if lin == glms and non == stacks:
        text = (
            f"So a GLM is a linear model in its parameters (curvature 0 for "
            f"{_plural(len(glms), 'GLM', 'GLMs')}), and a stack of GLMs is not "
            f"(parameter-effects curvature {span} for {_plural(len(stacks), 'stack', 'stacks')})"
        )
    else:
        text = (
            f"Linear in the parameters: {', '.join(names[r['name']] for r in lin)}; not "
            f"(curvature {span}): {', '.join(names[r['name']] for r in non)}"
        )
    lin_x_non = [r for r in non if r["curvature_inputs"] < LINEAR_TOL]
    if lin_x_non:
        text += f", even where it is linear in its inputs, as {names[lin_x_non[0]['name']]} is"
    return text + "."


def _elpd_sentence(rows: Sequence[Mapping[str, Any]], names: Mapping[str, str]) -> str:
    if len(rows) < 2:
        return ""
    best = min(rows, key=lambda r: r["rank"])
    worst = max(rows, key=lambda r: r["rank"])
    return (
        f"By ELPD-LOO, {names[best['name']]} predicts best ({best['elpd']:.1f} ± "
        f"{best['elpd_se']:.1f}); {names[worst['name']]} trails by "
        f"{-worst['elpd_diff']:.1f} ± {worst['elpd_dse']:.1f}."
    )


def answer_paragraph(rows: Sequence[Mapping[str, Any]]) -> str:
    """The answer paragraph of a report.

    Parameters
    ----------
    rows : sequence of mapping
        ``ModelRow.to_dict()`` per model: verdict, mode counts, R-hats, curvatures, ELPD.

    Returns
    -------
    str
        One paragraph: a sentence per model (GLMs first, then by depth), then what the
        curvatures say about linearity, then the ELPD ranking.
    """
    rows = sorted(rows, key=lambda r: (int(r["depth"]), r["name"]))
    names = _names(rows)
    parts = [model_sentence(r, names[r["name"]]) for r in rows]
    parts += [_verdict_sentence(rows, names), _elpd_sentence(rows, names)]
    return " ".join(p for p in parts if p)
