"""The report's figures, each a PNG with a caption that says what to see.

arviz-plots draws what it has (trace, posterior predictive, ELPD comparison); matplotlib draws
the rest (one unit's weights before and after canonicalisation, the log density between modes,
R-hat in weight and function space).
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

import arviz as az
import matplotlib.colors
import matplotlib.ticker
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure as MplFigure

import bayesstack.geometry.paths as paths
from bayesstack.geometry.function_space import eta_draws
from bayesstack.inference.io import spec_of
from bayesstack.inference.outputs import DEFAULT_NAME_MAX, GENERATOR, short_name
from bayesstack.model.network import param_dims, weight_names
from bayesstack.registry import FAMILIES
from bayesstack.report.compare import Comparison, ModelRow

DPI = 100
#: Bytes a figure key adds to its name's slug: the longest prefix ("slice-") and ".png".
SLUG_ROOM = 16
PPC_DRAWS = 60  # replicated data sets drawn as curves in a density overlay
PPC_MAX_DRAWS = 1000  # replicated data sets behind a calibration band or a rootogram's ranges
PPC_CI = 0.9  # probability of those bands and ranges
_CHAIN_CMAP = "tab10"


@dataclass(frozen=True)
class Figure:
    """A rendered figure: a file stem, a title, a caption and PNG bytes."""

    key: str
    title: str
    caption: str
    png: bytes


def to_png(fig: MplFigure) -> bytes:
    """PNG bytes of a matplotlib figure, cropped to what is drawn (titles included)."""
    buf = io.BytesIO()
    fig.savefig(  # the generator marker: a rerun may replace the file (outputs.is_generated)
        buf,
        format="png",
        dpi=DPI,
        bbox_inches="tight",
        pad_inches=0.15,
        metadata={"generator": GENERATOR, "Software": GENERATOR},
    )
    return buf.getvalue()


def _pc_png(pc) -> bytes:
    """PNG bytes of an arviz-plots ``PlotCollection``, through its matplotlib figure."""
    import matplotlib.pyplot as plt  # arviz-plots draws through pyplot: close what it opened

    fig = pc.viz["figure"].item()
    fig.set_layout_engine("constrained")
    try:
        return to_png(fig)
    finally:
        plt.close(fig)


def _slug(name: str) -> str:
    """A file stem for a figure of ``name``, short enough for ``NAME_MAX``.

    With its prefix and ``.png`` it still fits (a 300-character spec name gets a cut name and a
    hash, :func:`short_name`).
    """
    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)
    return short_name(slug, DEFAULT_NAME_MAX - SLUG_ROOM, suffix="")


def _chain_colors(n: int) -> list:
    cmap = matplotlib.colormaps[_CHAIN_CMAP]
    return [cmap(i % 10) for i in range(n)]


# --- arviz-plots ------------------------------------------------------------------------------
def trace_caption(g, out: str, r_out: float) -> str:
    """What the trace shows, from the measured mode classes (not from R-hat alone)."""
    from bayesstack.geometry.evidence import Verdict

    heavy = [c for c in g.classes if c.mass_bearing]
    trapped = [c for c in g.classes if not c.mass_bearing and c.chains]
    best = g.classes[0].map_logp if g.classes else None
    if g.verdict == Verdict.RIDGE:
        text = (
            f"The chains lie on one orbit of the continuous symmetry {g.posterior_group}: the "
            f"weights drift along it, so {out} differs between chains (R-hat up to "
            f"{r_out:.2f}) while the fit does not."
        )
    elif g.verdict == Verdict.SYMMETRIC:
        chains = sorted(c for k in heavy for c in k.chains)
        text = (
            f"Chains {', '.join(map(str, chains))} sit in images of one mode class "
            f"(measured: MAP from each chain's best draw, classes up to the posterior group; "
            f"{g.modes_raw} raw modes in all): the same fit with hidden units relabelled or "
            f"sign-flipped, so {out} may sit at different levels (R-hat up to {r_out:.2f})."
        )
    elif g.verdict == Verdict.UNIMODAL:
        text = f"All chains sample one mode (R-hat of {out} up to {r_out:.2f})."
    else:
        parts = [
            f"class {c.index} (chains {', '.join(map(str, c.chains)) or 'none'}, mass share "
            f"{'n/a' if c.mass_share is None else f'{c.mass_share:.2g}'})"
            for c in heavy
        ]
        text = f"The chains sit in {len(heavy)} mass-bearing mode classes: {'; '.join(parts)}."
    for c in trapped:
        drop = "" if best is None or c.map_logp is None else f" {best - c.map_logp:.1f} nats down"
        text += (
            f" Chain(s) {', '.join(map(str, c.chains))} sat in a local mode{drop} holding "
            f"{c.mass_share:.1g} of the mass: trapped, they did not sample the posterior."
        )
    return text


def trace_figure(run: xr.DataTree, row: ModelRow) -> Figure:
    """Trace of the output layer's weights and the noise, one colour per chain."""
    spec = spec_of(run)
    out = f"W{spec.n_layers}"
    noise = [v for v in ("sigma", "nu", "alpha") if v in run["posterior"]]
    post = run["posterior"]
    n_panels = sum(
        int(post[v].size // (post.sizes["chain"] * post.sizes["draw"])) for v in (out, *noise)
    )
    ncol = min(n_panels, 5)
    nrow = -(-n_panels // ncol)
    pc = az.plot_trace(
        run,
        var_names=[out, *noise],
        col_wrap=ncol,
        figure_kwargs={"figsize": (2.5 * ncol + 1.2, 2.6 * nrow)},
    )
    pc.add_legend("chain", loc="outside right upper", title="chain")
    rhat = az.rhat(run, var_names=[out, *noise])
    r_out = float(rhat[out].max())
    text = f"Each colour is one of {row.chains} chains. " + trace_caption(row.geometry, out, r_out)
    if noise:
        r_n = float(max(rhat[v].max() for v in noise))
        text += f" The noise {', '.join(noise)}, a function of the fit alone, has R-hat {r_n:.2f}."
    return Figure(f"trace-{_slug(row.name)}", f"Trace plot: {row.name}", text.strip(), _pc_png(pc))


def predictive_draws(run: xr.DataTree, *, seed: int = 0) -> tuple[xr.Dataset, bool]:
    """Posterior predictive draws of ``y`` ``(chain, draw, obs)``, and whether the run stored them.

    A run fitted by this bayesstack carries a ``posterior_predictive`` group (``fit`` adds it
    by default): it is used as it is. Older runs, and runs fitted with
    ``posterior_predictive=False``, get one replicated data set per posterior draw here, drawn
    as ``fit`` draws them (the family's ``simulate`` row at the run's X) from
    ``numpy.random.default_rng([seed, 1])``.
    """
    from bayesstack.inference.sampling import add_posterior_predictive

    if "posterior_predictive" in run.children and "y" in run["posterior_predictive"]:
        return run["posterior_predictive"].to_dataset()[["y"]], True
    spec = spec_of(run)
    cd = run["constant_data"]
    trials = cd["trials"].values if "trials" in cd else None
    if trials is None and isinstance(spec.trials, int):
        trials = np.full(cd["X"].shape[0], spec.trials)
    tree = add_posterior_predictive(run.copy(), spec, cd["X"].values, trials, seed)
    return tree["posterior_predictive"].to_dataset()[["y"]], False


def _thin(ds: xr.Dataset, most: int) -> xr.Dataset:
    """At most about ``most`` draws in all, evenly spaced within each chain."""
    stride = max(1, -(-ds.sizes["chain"] * ds.sizes["draw"] // most))
    return ds.isel(draw=slice(0, None, stride))


def ppc_figure(run: xr.DataTree, name: str, *, seed: int = 0) -> Figure:
    """Posterior predictive check: the plot that fits the outcome's support.

    * real y (Gaussian, Student-t): densities of replicated data sets over the observed one
      (``az.plot_ppc_dist``);
    * binary y (Bernoulli): the PAV-adjusted calibration plot (``az.plot_ppc_pava``);
    * counts (Poisson, negative binomial, binomial successes): a rootogram
      (``az.plot_ppc_rootogram``).

    The replicated data sets are the run's stored ``posterior_predictive`` draws, or drawn now
    for a run without them (:func:`predictive_draws`).
    """
    spec = spec_of(run)
    pp, stored = predictive_draws(run, seed=seed)
    chains = pp.sizes["chain"]
    support = FAMILIES[spec.family].support.name
    draw_ppc = _PPC_PLOTS[support]
    pp = _thin(pp, PPC_DRAWS if support == "real" else PPC_MAX_DRAWS)
    k = pp.sizes["chain"] * pp.sizes["draw"]
    obs = run["observed_data"].to_dataset()[["y"]]
    if support in ("count", "binomial"):  # counts stored as floats: arviz-plots wants integers
        pp, obs = pp.astype(np.int64), obs.astype(np.int64)
    tree = xr.DataTree.from_dict({"posterior_predictive": pp, "observed_data": obs})
    pc, caption = draw_ppc(tree, k)
    pc.viz["figure"].item().suptitle(name, fontsize=10)
    source = (
        f"The replicated data sets are the run's stored posterior predictive draws (one per "
        f"posterior draw, {k} of them, evenly spaced over all {chains} chains)."
        if stored
        else f"The run stores no posterior predictive draws, so they were drawn for this report "
        f"(seed {seed}): one replicated data set per posterior draw, {k} of them, evenly "
        f"spaced over all {chains} chains."
    )
    return Figure(
        f"ppc-{_slug(name)}",
        f"Posterior predictive check: {name}",
        f"{caption} {source}",
        _pc_png(pc),
    )


def _ppc_density(tree: xr.DataTree, k: int):
    pc = az.plot_ppc_dist(tree, num_samples=k, figure_kwargs={"figsize": (5.5, 3)})
    caption = (
        f"Kernel density of each of {k} replicated data sets (thin blue curves) against the "
        "density of the observed y (black curve). Where the black curve runs outside the bundle "
        "of blue curves, the model misses the shape of the data."
    )
    return pc, caption


def _ppc_pava(tree: xr.DataTree, k: int):
    pc = az.plot_ppc_pava(
        tree,
        ci_prob=PPC_CI,
        visuals={"xlabel": {"text": "predicted P(y = 1)"}},
        figure_kwargs={"figsize": (5.5, 3.6)},
    )
    caption = (
        "PAV-adjusted calibration plot (Dimitriadis, Gneiting & Jordan 2021): on the x-axis each "
        f"observation's predicted probability that y = 1, the mean of its {k} replicated values; "
        "the blue line is the conditional event probability (CEP), the isotonic (pool adjacent "
        "violators) regression of the observed y on that probability; the shaded band is the "
        f"central {PPC_CI:.0%} range of the same regression fitted to each replicated data set in "
        "place of the observed y; the dashed diagonal is perfect calibration. Where the blue "
        "line leaves the band, the predicted probabilities are miscalibrated there: above the "
        "diagonal, events happen more often than predicted."
    )
    return pc, caption


def _ppc_rootogram(tree: xr.DataTree, k: int):
    pc = az.plot_ppc_rootogram(
        tree, ci_prob=PPC_CI, point_estimate="mean", figure_kwargs={"figsize": (5.5, 3.6)}
    )
    caption = (
        "Rootogram (Kleiber & Zeileis 2016): for each count on the x-axis, how many observations "
        "take that value, on a square-root scale: the observed frequency (black dots) and the "
        f"mean frequency over {k} replicated data sets (blue diamonds) with their central "
        f"{PPC_CI:.0%} range (light blue vertical bars). A black dot outside its bar is a "
        "count the model predicts too often or too rarely (e.g. excess zeros, overdispersion)."
    )
    return pc, caption


#: The posterior predictive check of each outcome support (``registry.SUPPORTS``).
_PPC_PLOTS = {
    "real": _ppc_density,
    "binary": _ppc_pava,
    "count": _ppc_rootogram,
    "binomial": _ppc_rootogram,
}


def compare_figure(cmp: pd.DataFrame) -> Figure:
    """ELPD-LOO of every model with its standard error (``az.plot_compare``)."""
    h = 1.0 + 0.45 * len(cmp)
    pc = az.plot_compare(cmp, figure_kwargs={"figsize": (8, h)})
    best = cmp.index[0]
    caption = (
        f"Expected log predictive density (PSIS-LOO) of each model relative to the best, "
        f"{best}, with its standard error of the difference. Higher is better; a model whose "
        "bar reaches the dashed line predicts about as well as the best."
    )
    return Figure("compare", "Model comparison (ELPD-LOO)", caption, _pc_png(pc))


# --- matplotlib -------------------------------------------------------------------------------
def _unit_coordinates(post: xr.Dataset, spec, layer: int) -> tuple[np.ndarray, str, str]:
    """Each unit's two coordinates to plot, ``(chain, draw, unit, 2)``, and the axis labels.

    The first two incoming weights; with one input, the weight and the bias (both change sign
    with the unit's), or without a bias the draw index.
    """
    d_in, d_unit = param_dims(spec)[f"W{layer}"]
    W = post[f"W{layer}"].transpose("chain", "draw", d_unit, d_in).values
    names = [str(v) for v in post[d_in].values[:2]]
    if W.shape[-1] >= 2:
        return W[..., :2], f"W{layer}[{names[0]}, ·]", f"W{layer}[{names[1]}, ·]"
    if spec.has_bias(layer):
        b = post[f"b{layer}"].transpose("chain", "draw", d_unit).values[..., None]
        return np.concatenate([W, b], axis=-1), f"W{layer}[{names[0]}, ·]", f"b{layer}[·]"
    draw = np.broadcast_to(post["draw"].values[None, :, None, None], W.shape)
    return np.concatenate([W, draw], axis=-1), f"W{layer}[{names[0]}, ·]", "draw"


def unit_pair_figure(run: xr.DataTree, name: str, *, layer: int = 1, unit: int = 0) -> Figure:
    """One hidden unit's incoming weights, raw against canonical, coloured by chain.

    The raw panel shows label ``unit`` in every chain; the canonical panel shows the canonical
    unit that chain 0's ``unit`` maps to (closest up to sign), so one cloud stays in place.
    """
    spec = spec_of(run)
    raw, xlabel, ylabel = _unit_coordinates(run["posterior"], spec, layer)
    can, _, _ = _unit_coordinates(run["canonical_posterior"], spec, layer)
    ref = raw[0, :, unit].mean(0)
    means = can.mean((0, 1))  # (units, d_in)
    k = int(
        np.argmin(
            np.minimum(np.linalg.norm(means - ref, axis=1), np.linalg.norm(means + ref, axis=1))
        )
    )
    fig = MplFigure(figsize=(9, 4.2))
    axes = fig.subplots(1, 2, sharex=True, sharey=True)
    colors = _chain_colors(raw.shape[0])
    panels = ((raw[:, :, unit], f"raw draws, unit {unit}"), (can[:, :, k], f"canonical, unit {k}"))
    for ax, (w, title) in zip(axes, panels, strict=True):
        for c in range(w.shape[0]):
            ax.scatter(
                w[c, :, 0],
                w[c, :, 1],
                s=4,
                alpha=0.35,
                color=colors[c],
                label=f"chain {c}",
                rasterized=True,
            )
        ax.axhline(0, color="0.7", lw=0.6)
        ax.axvline(0, color="0.7", lw=0.6)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
    axes[0].set_ylabel(ylabel)
    axes[1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), markerscale=3, fontsize=8)
    fig.suptitle(f"{name}: incoming weights of one hidden unit of layer {layer}")
    fig.set_layout_engine("constrained")
    n_clouds = _n_clouds(raw[:, :, unit])
    caption = (
        f"Left: the incoming weights of the unit labelled {unit}, in every chain: the chains put "
        f"them in {n_clouds} separate cloud(s); a sign flip sends a cloud through the origin and "
        "a relabelling brings in another unit's cloud. Right: the same draws after "
        f"canonicalisation, canonical unit {k}: the mirrored and relabelled clouds collapse into "
        "one; a cloud left apart would be a mode that no posterior symmetry maps onto the "
        "others (whether it matters is a question of its mass: see the mode classes)."
    )
    return Figure(
        f"pair-{_slug(name)}",
        f"One hidden unit before and after canonicalisation: {name}",
        caption,
        to_png(fig),
    )


def _n_clouds(w: np.ndarray, sds: float = 4.0) -> int:
    """Clouds formed by the chains' draws ``w (chain, draw, k)``.

    Chain means closer than ``sds`` pooled within-chain standard deviations share a cloud
    (single linkage: :func:`bayesstack.geometry.modes.components`).
    """
    from bayesstack.geometry.modes import components

    means = w.mean(1)
    scale = float(np.sqrt(np.mean(w.var(1).sum(-1))))
    near = lambda i, j: np.linalg.norm(means[i] - means[j]) < sds * scale  # noqa: E731
    return len(set(components(len(means), near).tolist()))


def path_figure(comparison: Comparison, *, seed: int = 0) -> Figure:
    """Log density along the segment between two modes, and along the orbit where one exists."""
    runs, rows = comparison.runs, _by_depth(comparison.rows)
    ncol = min(3, len(rows))
    nrow = -(-len(rows) // ncol)
    fig = MplFigure(figsize=(4.2 * ncol, 3.3 * nrow))
    axes = fig.subplots(nrow, ncol, squeeze=False)
    t = np.linspace(-0.25, 1.25, 121)
    inside = (t >= 0) & (t <= 1)
    notes = []
    for ax, row in zip(axes.flat, rows, strict=False):
        path = paths.mode_path(runs[row.name], t, seed=seed)
        top = max(path.logp_a, path.logp_b)
        rel = path.logp - top
        ax.plot(t, rel, color="C3" if row.depth else "C0", label="segment")
        orbit = paths.orbit_path_between(runs[row.name], t[inside], seed=seed)
        if orbit is not None:
            ax.plot(t[inside], orbit.logp - top, color="C2", ls="--", lw=2, label="orbit")
            ax.legend(fontsize=7, loc="lower left")
            flip = " (A sign-flipped first)" if orbit.flipped else ""
            notes.append(
                f"{row.name}: along the {row.geometry.posterior_group} orbit from A{flip} to "
                f"B's alignment the log density varies by {orbit.variation:.1e} nats "
                f"(alignment residual {orbit.residual:.2g})."
            )
        for x in (0, 1):
            ax.axvline(x, color="0.6", ls=":", lw=0.8)
        title = f"{row.name}\n" + textwrap.fill(path.label, 42)
        ax.set_title(title, fontsize=8.5)
        ax.set_xlabel("t (0 = A, 1 = B)")
        ax.set_ylabel("Δ log density (nats)")
        if path.barrier > 0:
            i = int(np.flatnonzero(inside)[np.argmin(rel[inside])])
            ax.annotate(
                f"drop along the segment {paths.nats(path.barrier)} nats",
                xy=(t[i], rel[i]),
                xytext=(0.5, 0.86),
                textcoords="axes fraction",
                ha="center",
                fontsize=8,
                arrowprops={"arrowstyle": "->", "lw": 0.7},
            )
        notes.append(f"{row.name}: {path.describe()}")
    for ax in axes.flat[len(rows) :]:
        ax.set_visible(False)
    fig.set_layout_engine("constrained")
    caption = (
        "The log posterior density (unconstrained space, as the sampler sees it) along the "
        "straight segment θ(t) = (1 − t)·A + t·B, relative to the higher endpoint. For a stack, "
        "A and B are the best draws of two chains in symmetric modes (images of each other "
        "under the symmetry group; if no two chains are, B is A's image under a random group "
        "element). A drop along the segment is a property of the straight line, not a barrier "
        "the sampler has to cross. Where a continuous posterior symmetry acts (identity layers), "
        "the dashed line follows the orbit g(t)·A, g(t) = expm(t·K) with K skew-symmetric, to "
        "B's alignment: it stays flat. For the GLM, A and B are its two most distant posterior "
        "draws. " + " ".join(notes)
    )
    return Figure("mode-path", "Log density between modes", caption, to_png(fig))


def slice_figure(run: xr.DataTree, name: str, *, seed: int = 0, n: int = 61) -> Figure:
    """The log density on the plane through three modes (or two and a random direction)."""
    sl = paths.mode_slice(run, n=n, seed=seed)
    depth = np.maximum(np.nanmax(sl.logp) - sl.logp, 0.0)  # nats below the best point
    top = float(np.nanmax(depth))
    levels = np.array([0, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4])
    levels = np.append(levels[levels < top], top * 1.001)
    norm = matplotlib.colors.BoundaryNorm(levels, 256)
    fig = MplFigure(figsize=(7, 4.8))
    ax = fig.subplots()
    cs = ax.contourf(sl.alpha, sl.beta, depth.T, levels=levels, cmap="viridis_r", norm=norm)
    ax.contour(sl.alpha, sl.beta, depth.T, levels=levels[1:-1], colors="k", linewidths=0.3)
    cb = fig.colorbar(cs, ax=ax, label="nats below the best point on the slice")
    cb.set_ticks(levels[:-1])
    cb.set_ticklabels([f"{v:g}" for v in levels[:-1]])
    for (x, y), lab in zip(sl.points, sl.point_labels, strict=True):
        ax.plot(x, y, "o", color="white", mec="black", ms=7)
        ax.annotate(
            lab,
            (x, y),
            xytext=(5, 5),
            textcoords="offset points",
            color="white",
            fontsize=9,
            weight="bold",
        )
    ax.set_xlabel("along A → B (units of |B − A|)")
    ax.set_ylabel("second direction (units of |B − A|)")
    ax.set_title(f"{name}: a 2-D slice through its modes")
    caption = (
        f"The log density on the plane through {sl.describe()}; the noise parameters stay at "
        "A's values. Contours are log-spaced in nats below the best point: bright basins "
        "around the modes, each a copy of the others under the symmetry group, and dark "
        "valleys between them on this plane (like a straight segment, a plane says nothing "
        "about paths off it)."
    )
    return Figure(f"slice-{_slug(name)}", f"2-D slice through modes: {name}", caption, to_png(fig))


def _weights(run: xr.DataTree) -> dict[str, np.ndarray]:
    """The run's network weights, ``(chain, draw, ...)`` as stored."""
    post = run["posterior"]
    return {k: post[k].transpose("chain", "draw", ...).values for k in weight_names(spec_of(run))}


def rhat_figure(comparison: Comparison) -> Figure:
    """R-hat per parameter: raw, canonical, and function space (η at every observation)."""
    rows = _by_depth(comparison.rows)
    fig = MplFigure(figsize=(11, 2.3 * len(rows)))
    axes = fig.subplots(len(rows), 1, squeeze=False)
    for ax, row in zip(axes[:, 0], rows, strict=True):
        run = comparison.runs[row.name]
        labels, raw, can = rhat_per_parameter(run)
        eta = eta_draws(spec_of(run), _weights(run), run["constant_data"]["X"].values)
        fn = np.asarray(az.rhat(xr.DataArray(eta, dims=("chain", "draw", "obs"))))
        x = np.arange(len(labels))
        band = f"function space: R-hat of η(x_i), {fn.min():.3f}–{fn.max():.3f}"
        ax.axhspan(fn.min(), fn.max(), color="C2", alpha=0.25, label=band)
        ax.plot(x, raw, "o", color="C3", ms=5, label="weights, raw")
        ax.plot(x, can, "x", color="C0", ms=6, mew=1.5, label="weights, canonical")
        ax.axhline(1.01, color="0.3", ls="--", lw=0.8, label="1.01")
        top = float(np.nanmax([*raw, *can, *fn, 1.05])) * 1.08
        ax.set_yscale("log" if top > 1.5 else "linear")
        ax.set_ylim(0.985, top)
        ticks = (1.0, 1.1, 1.5, 2, 3, 5, 10, 20, 50) if top > 1.5 else (1.0, 1.02, 1.05, 1.1, 1.2)
        ax.set_yticks([v for v in ticks if v < top], [f"{v:g}" for v in ticks if v < top])
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xticks(x, labels, rotation=90, fontsize=7)
        ax.set_xlim(-0.7, len(labels) - 0.3)
        ax.set_title(row.name, fontsize=10, loc="left")
        ax.set_ylabel("R-hat")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.set_layout_engine("constrained")
    caption = (
        "Rank-normalised R-hat of every weight, raw (red circles) and after canonicalisation "
        "(blue crosses), and the range of R-hat of the linear predictor η at the observed "
        "points (green band). Symmetric multimodality shows as raw R-hat far above 1.01 while "
        "canonical and function-space R-hat stay near 1: the chains disagree about labels, not "
        "about the fitted function."
    )
    return Figure("rhat", "R-hat in weight space and function space", caption, to_png(fig))


def rhat_per_parameter(run: xr.DataTree) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Labels and R-hat of every scalar weight, raw and canonical."""
    names = weight_names(spec_of(run))
    raw = az.rhat(run, var_names=names)
    can = az.rhat(run, var_names=names, group="canonical_posterior")
    labels, r, c = [], [], []
    for k in names:
        a, b = raw[k], can[k].transpose(*raw[k].dims)
        for idx in np.ndindex(a.shape):
            coords = ",".join(str(a[d].values[j]) for d, j in zip(a.dims, idx, strict=True))
            labels.append(f"{k}[{coords}]" if coords else k)
        r += np.ravel(a.values).tolist()
        c += np.ravel(b.values).tolist()
    return labels, np.array(r), np.array(c)


def _by_depth(rows: tuple[ModelRow, ...]) -> list[ModelRow]:
    return sorted(rows, key=lambda r: (r.depth, r.name))


# --- all of them ------------------------------------------------------------------------------
def figure_jobs(comparison: Comparison, *, seed: int = 0) -> list[tuple[str, Callable[[], Figure]]]:
    """The report's figures as ``(label, draw)`` pairs, in the order the report shows them."""
    runs, rows = comparison.runs, _by_depth(comparison.rows)
    stacks = [r for r in rows if r.depth > 0]
    jobs: list[tuple[str, Callable[[], Figure]]] = []
    if len(rows) > 1:
        jobs.append(("compare", lambda: compare_figure(comparison.compare)))
    jobs += [(f"trace {r.name}", lambda r=r: trace_figure(runs[r.name], r)) for r in rows]
    pair = _pair_model(stacks)
    if pair is not None:
        jobs.append(("pair", lambda: unit_pair_figure(runs[pair.name], pair.name)))
    jobs.append(("path", lambda: path_figure(comparison, seed=seed)))
    if pair is not None:
        jobs.append(("slice", lambda: slice_figure(runs[pair.name], pair.name, seed=seed)))
    jobs.append(("rhat", lambda: rhat_figure(comparison)))
    jobs += [
        (f"ppc {r.name}", lambda i=i, r=r: ppc_figure(runs[r.name], r.name, seed=seed + i))
        for i, r in enumerate(rows)
    ]
    return jobs


def make_figures(
    comparison: Comparison, *, seed: int = 0, on_step: Callable[[str], None] | None = None
) -> list[Figure]:
    """Every figure of the report, in the order it shows them.

    Parameters
    ----------
    comparison : Comparison
        From :func:`bayesstack.report.compare.collect`.
    seed : int
        Seed of the posterior predictive draws and of any random group element.
    on_step : callable, optional
        Called with the figure's label after each figure (progress bars).

    Returns
    -------
    list of Figure
    """
    figures = []
    for label, draw in figure_jobs(comparison, seed=seed):
        figures.append(draw())
        if on_step:
            on_step(label)
    return figures


def _pair_model(stacks: list[ModelRow]) -> ModelRow | None:
    """The stack whose hidden units to show: one hidden layer of odd units if there is one."""
    if not stacks:
        return None
    odd = [r for r in stacks if r.activations[0] == "tanh"]
    return min(odd or stacks, key=lambda r: (r.depth, -r.geometry.modes_raw))
