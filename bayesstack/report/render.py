"""Render a comparison into ``report.html`` (self-contained) and ``report.md`` (+ PNGs).

The tables are built here as lists of formatted strings and laid out by the jinja2 templates
``bayesstack/templates/report.html.j2`` and ``report.md.j2``. Every file is written atomically:
to a temporary file beside its target, then renamed into place.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import jinja2

from bayesstack.errors import BayesstackError
from bayesstack.inference.io import check_output_path
from bayesstack.inference.outputs import GENERATOR, check_replaceable_output, write_output
from bayesstack.registry import FAMILIES
from bayesstack.report.answer import answer_paragraph, describe
from bayesstack.report.compare import Comparison, ModelRow, RunInfo
from bayesstack.report.plots import Figure


@dataclass(frozen=True)
class Table:
    """A table as strings: a header row and body rows."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class ReportPaths:
    """Where a report went."""

    html: Path
    markdown: Path
    images: tuple[Path, ...]


# --- output paths -----------------------------------------------------------------------------
def output_paths(out: str | Path) -> tuple[Path, Path, Path]:
    """``report.html``, ``report.md`` and the Markdown's image folder for ``--out``.

    Raises :class:`BayesstackError` (one line) when the folder does not exist.
    """
    out = Path(out)
    parent = out.parent if str(out.parent) else Path(".")
    stem = out.stem if out.suffix.lower() in (".html", ".htm", ".md") else out.name
    html = out if out.suffix.lower() in (".html", ".htm") else parent / f"{stem}.html"
    md, img_dir = parent / f"{stem}.md", parent / f"{stem}_files"
    for path in (html, md):
        check_output_path(path, "--out")
    if img_dir.exists() and not img_dir.is_dir():
        raise BayesstackError(f"--out: {str(img_dir)!r} is a file; the report's images go there")
    return html, md, img_dir


# --- formatting -------------------------------------------------------------------------------
def _f(x: float, digits: int = 1) -> str:
    return "—" if math.isnan(x) else f"{x:.{digits}f}"


def _g(x: float, digits: int = 2) -> str:
    if x is None or math.isnan(x):
        return "—"
    if math.isinf(x):
        return "∞"
    return "0" if abs(x) < 1e-6 else f"{x:.{digits}g}"


def _units(r: ModelRow) -> str:
    if not r.depth:
        return f"— ({r.feature_map} features)" if r.feature_map else "—"
    return ", ".join(f"{u} {a}" for u, a in zip(r.units, r.activations, strict=True))


def _group(r: ModelRow) -> str:
    return r.geometry.posterior_group


def _pareto(r: ModelRow) -> str:
    return f"{r.pareto_k_bad} of {r.n_obs} (k > {r.pareto_k_threshold:.2f})"


def _rhats(r: ModelRow) -> str:
    g = r.geometry
    return " / ".join(_f(x, 2) for x in (g.rhat_raw, g.rhat_canonical, g.rhat_function))


def _rhats_mass(r: ModelRow) -> str:
    g = r.geometry
    if not g.trapped_chains:
        return "— (no trapped chain)"
    return f"{_f(g.rhat_canonical_mass, 2)} / {_f(g.rhat_function_mass, 2)}"


def _ess(r: ModelRow) -> str:
    return f"{r.ess_bulk_min:.0f} / {r.ess_bulk_min_canonical:.0f}"


def _maps(r: ModelRow) -> str:
    g = r.geometry
    if g.map_optima_raw is None:
        return "— (skipped)"
    return f"{g.map_optima_raw} / {g.map_optima_canonical}"


def _classes(r: ModelRow) -> str:
    out = []
    for c in r.geometry.classes:
        share = "n/a" if c.mass_share is None else f"{c.mass_share:.2g}"
        tag = "" if c.mass_bearing else " trapped"
        chains = ",".join(map(str, c.chains)) or "none"
        out.append(f"#{c.index}: share {share}{tag} (chains {chains})")
    return "; ".join(out) or "—"


def _masses(r: ModelRow) -> str:
    out = []
    for c in r.geometry.classes:
        lap = "—" if c.log_mass_laplace is None else f"{c.log_mass_laplace:.1f}"
        drw = "—" if c.log_mass_draws is None else f"{c.log_mass_draws:.1f}"
        out.append(f"#{c.index}: {lap} / {drw}")
    return "; ".join(out) or "—"


def _weights(r: ModelRow) -> str:
    w = r.geometry.chain_weights
    return "—" if w is None else " ".join(f"{x:.2f}" for x in w)


def _trapped(r: ModelRow) -> str:
    t = r.geometry.trapped_chains
    return ", ".join(map(str, t)) if t else "none"


def _curv_theta(r: ModelRow) -> str:
    g = r.geometry
    if g.affine_in_params:
        return "0 / 0 (η affine in θ)"
    return f"{_g(g.curvature_parameter_effects)} / {_g(g.curvature_intrinsic)}"


def _curv_draws(r: ModelRow) -> str:
    d = r.geometry.curvature_draws
    return "—" if d is None else f"{_g(d[1])} ({_g(d[0])}–{_g(d[2])})"


def _curv_mu(r: ModelRow) -> str:
    g = r.geometry
    if g.link == "identity":
        return "= η (identity link)"
    if g.curvature_mean_scale is None:
        return "— (not computed)"
    return f"{_g(g.curvature_mean_scale[0])} / {_g(g.curvature_mean_scale[1])}"


def _concave(r: ModelRow) -> str:
    g = r.geometry
    if g.log_concave is None:
        return "not implied (a stack)"
    if not g.log_concave:
        return f"not implied: {g.log_concave_reason}"
    nuisance = FAMILIES[r.family].nuisance
    return f"yes, for fixed {', '.join(nuisance)}" if nuisance else "yes"


#: The model table: one line per quantity, one column per model.
MODEL_TABLE: tuple[tuple[str, Callable[[ModelRow], str]], ...] = (
    ("family / link", lambda r: f"{r.family} / {r.link}"),
    ("depth (hidden layers)", lambda r: str(r.depth)),
    ("hidden units", _units),
    ("parameters (weights θ)", lambda r: str(r.n_params)),
    ("ELPD-LOO ± SE", lambda r: f"{_f(r.elpd)} ± {_f(r.elpd_se)}"),
    ("ΔELPD ± dSE", lambda r: f"{_f(r.elpd_diff)} ± {_f(r.elpd_dse)}"),
    ("p_loo", lambda r: _f(r.p_loo)),
    ("Pareto k warnings", _pareto),
    ("max R-hat raw / canonical / function", _rhats),
    ("max R-hat canonical / function, mass-bearing chains", _rhats_mass),
    ("min bulk ESS raw / canonical", _ess),
    ("divergences", lambda r: f"{r.divergences} of {r.chains * r.draws}"),
    (
        "modes raw / up to symmetry",
        lambda r: f"{r.geometry.modes_raw} / {r.geometry.modes_canonical}",
    ),
    ("MAP optima raw / up to symmetry", _maps),
    ("posterior symmetry group", _group),
    ("mode classes: mass share", _classes),
    ("log mass Laplace / draws (bridge)", _masses),
    ("stacking weight per chain", _weights),
    ("trapped chains (did not sample the posterior)", _trapped),
    (
        "draws with negative-definite weight Hessian",
        lambda r: f"{r.geometry.hessian_negdef_fraction:.0%}",
    ),
    ("GLM posterior log-concave by construction", _concave),
    ("γ·√F of η at the best optimum: param. effects / intrinsic", _curv_theta),
    ("cond(J) at the best optimum", lambda r: _g(r.geometry.jacobian_condition)),
    ("γ·√F of η (param. effects) over posterior draws: median (range)", _curv_draws),
    ("γ·√F of the mean μ = g⁻¹(η)", _curv_mu),
    ("curvature of η in the inputs x", lambda r: _g(r.geometry.curvature_inputs)),
    ("verdict", lambda r: str(r.geometry.verdict)),
)


def model_table(rows: Sequence[ModelRow]) -> Table:
    """The model table, transposed: a row per quantity, a column per model (GLMs first)."""
    rows = sorted(rows, key=lambda r: (r.depth, r.name))
    body = tuple((label, *(fmt(r) for r in rows)) for label, fmt in MODEL_TABLE)
    return Table(("", *(r.name for r in rows)), body)


def linearity_table(rows: Sequence[ModelRow]) -> Table:
    """The 2×2 table: linear in the parameters θ or not, against linear in the inputs x or not."""

    def cell(in_theta: bool, in_x: bool) -> str:
        hits = [r for r in rows if r.linear_in_params == in_theta and r.linear_in_inputs == in_x]
        if not hits:
            return "(no model compared)"
        return "; ".join(
            f"{describe(r)} [{r.name}]: γ·√F of η in θ = "
            f"{_g(r.geometry.curvature_parameter_effects)}, κx = {_g(r.geometry.curvature_inputs)}"
            for r in hits
        )

    return Table(
        ("", "linear in the inputs x", "not linear in the inputs x"),
        (
            ("linear in the parameters θ", cell(True, True), cell(True, False)),
            ("not linear in the parameters θ", cell(False, True), cell(False, False)),
        ),
    )


def provenance_table(provenance: Sequence[RunInfo]) -> Table:
    """Per run: file, dataset, sampler settings, seed and sampling time."""
    keys = ("chains", "draws", "tune", "seed", "sampler", "init", "target_accept")
    rows = []
    for p in provenance:
        s = p.fit_settings
        rows.append(
            (
                p.name,
                Path(p.path).name if p.path else "(in memory)",
                p.dataset or "—",
                *(str(s.get(k, "—")) for k in keys),
                _f(p.sampling_time, 1),
                p.spec_hash,
            )
        )
    return Table(("model", "run file", "dataset", *keys, "sampling s", "spec hash"), tuple(rows))


def versions_table(comparison: Comparison) -> Table:
    """Package versions."""
    return Table(("package", "version"), tuple(comparison.versions.items()))


# --- rendering --------------------------------------------------------------------------------
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bayesstack", "templates"),
        autoescape=jinja2.select_autoescape(["html.j2"]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["md"] = md_text
    env.filters["md_cell"] = md_text  # a table cell: the same, since "|" is escaped too
    env.filters["fence"] = fence
    return env


#: Characters that Markdown (CommonMark, GFM) may read as inline markup anywhere in a line.
_MD_INLINE = re.compile(r"([\\`*_\[\]|~])")
#: What starts a block (heading, list, quote, rule) at the start of a line.
_MD_BLOCK = re.compile(r"^(\s*\d*)([#+=>.)-])")


def md_text(s: object) -> str:
    """``s`` as inert Markdown text: shown as it is, never as markup or HTML.

    ``&``, ``<`` and ``>`` become entities, as in the HTML report (no tag,
    attribute, comment or autolink can open); Markdown's inline punctuation gets a backslash
    (no link, image, emphasis, code span or table cell can open); line breaks become spaces and
    a leading block marker is escaped (no block can start). Every user string in ``report.md``
    goes through here: spec, model and column names, the data file's name, the title, and the
    warnings and captions that quote them.
    """
    text = html.escape(" ".join(str(s).splitlines()), quote=False)  # quotes are inert without <
    text = _MD_INLINE.sub(r"\\\1", text)
    return _MD_BLOCK.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def fence(text: str) -> str:
    """A code fence longer than any run of backticks in ``text`` (so it cannot be closed)."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def context(comparison: Comparison, figures: Sequence[Figure], *, title: str) -> dict:
    """Everything the templates show."""
    rows = comparison.rows
    order = {r.name: i for i, r in enumerate(sorted(rows, key=lambda r: (r.depth, r.name)))}
    prov = sorted(comparison.provenance, key=lambda p: order[p.name])
    return {
        "title": title,
        "generator": GENERATOR,
        "created": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "paragraph": answer_paragraph(rows),
        "warnings": [
            (r.name, w)
            for r in sorted(rows, key=lambda r: (r.depth, r.name))
            for w in r.geometry.warnings
        ],
        "notes": [
            (r.name, n)
            for r in sorted(rows, key=lambda r: (r.depth, r.name))
            for n in r.geometry.notes
        ],
        "model_table": model_table(rows),
        "linearity_table": linearity_table(rows),
        "provenance_table": provenance_table(prov),
        "versions_table": versions_table(comparison),
        "commands": [(" ".join(p.name.splitlines()), p.command) for p in prov],
        "settings": [
            (" ".join(p.name.splitlines()), json.dumps(p.fit_settings, sort_keys=True))
            for p in prov
        ],
        "geometry": [  # in the table's order, whatever order the runs came in
            (r.name, json.dumps(comparison.geometry[r.name], indent=1, sort_keys=True))
            for r in sorted(rows, key=lambda r: (r.depth, r.name))
        ],
        "figures": list(figures),
        "seed": comparison.seed,
        "datasets": sorted({p.dataset for p in comparison.provenance if p.dataset}),
    }


def render_html(ctx: dict) -> str:
    """The self-contained HTML report: images inline as base64 PNG, CSS inline, no scripts."""
    figs = [
        {**asdict(f), "src": "data:image/png;base64," + base64.b64encode(f.png).decode()}
        for f in ctx["figures"]
    ]
    return _env().get_template("report.html.j2").render({**ctx, "figures": figs})


def render_markdown(ctx: dict, image_dir: str) -> str:
    """The Markdown report; images are ``{image_dir}/{key}.png`` beside it."""
    figs = [{**asdict(f), "src": f"{image_dir}/{image_name(f)}"} for f in ctx["figures"]]
    code = "\n".join(c for _, c in ctx["commands"]) + "".join(g for _, g in ctx["geometry"])
    code += "".join(s for _, s in ctx["settings"])
    return _env().get_template("report.md.j2").render({**ctx, "figures": figs, "code": code})


def image_name(f: Figure) -> str:
    """The PNG file of a figure in ``report_files/`` (its key is short enough already)."""
    return f"{f.key}.png"


def write_files(
    comparison: Comparison,
    figures: Sequence[Figure],
    out: str | Path,
    *,
    title: str = "bayesstack comparison report",
) -> ReportPaths:
    """Write ``report.html``, ``report.md`` and ``report_files/*.png`` atomically.

    Each file carries the generator marker and replaces only a file bayesstack wrote
    (:func:`~bayesstack.inference.outputs.write_output`). ``report_files/`` is created once the
    figures are drawn, and removed again if it is still empty after a failure.

    Parameters
    ----------
    comparison : Comparison
        The numbers, from :func:`bayesstack.report.compare.collect`.
    figures : sequence of Figure
        From :func:`bayesstack.report.plots.make_figures`.
    out : str or Path
        ``report.html`` (the Markdown goes beside it as ``report.md``); its folder must exist.
    title : str
        The report's title.

    Returns
    -------
    ReportPaths
    """
    html, md, img_dir = output_paths(out)
    ctx = context(comparison, figures, title=title)
    md_text_, html_text = render_markdown(ctx, img_dir.name), render_html(ctx)  # before any file
    for target in (html, md, *(img_dir / image_name(f) for f in figures)):
        check_replaceable_output(target, "--out")  # none replaced unless bayesstack wrote it
    made = not img_dir.exists()
    img_dir.mkdir(exist_ok=True)
    try:
        images = tuple(write_output(img_dir / image_name(f), f.png, "--out") for f in figures)
    except BaseException:
        if made and not any(img_dir.iterdir()):
            img_dir.rmdir()
        raise
    write_output(md, md_text_.encode(), "--out")
    write_output(html, html_text.encode(), "--out")
    return ReportPaths(html, md, images)
