"""The one-command demo: fit a GLM and three stacks, analyse their geometry, write the report.

On the default data set (a 2-3-1 tanh teacher with Gaussian noise) it fits

* the Gaussian GLM (``models/glm-gaussian.toml``), a stack of depth 0;
* the same GLM on polynomial features ``[x, x²]``: linear in θ, not in x;
* the deep linear stack (``models/deep-linear.toml``): linear in x, not in θ;
* the one- and two-layer tanh stacks (``models/stack1-tanh.toml``, ``stack2-tanh.toml``),

each with several chains from dispersed starting points, then runs the geometry analysis and
writes ``report.html`` and ``report.md``. ``quick=True`` runs fewer, shorter chains (tests).
"""

from __future__ import annotations

import json
import logging
import shlex
from dataclasses import dataclass
from pathlib import Path

import xarray as xr

from bayesstack.data.features import (
    FEATURE_MAP_ATTR,
    polynomial_features,
    polynomial_map,
    polynomial_names,
)
from bayesstack.inference.io import save
from bayesstack.inference.outputs import (
    check_folder,
    check_replaceable_output,
    with_generator,
    write_output,
)
from bayesstack.inference.runs import COMMAND_ATTR
from bayesstack.report import render_report
from bayesstack.report.compare import collect
from bayesstack.report.progress import stages
from bayesstack.report.render import output_paths
from bayesstack.spec import Spec, load_spec

log = logging.getLogger(__name__)

#: Model specs of the demo, from ``models/``, in the order they are fitted.
MODELS = ("glm-gaussian", "deep-linear", "stack1-tanh", "stack2-tanh")
#: Name of the GLM on polynomial features that the demo builds from ``glm-gaussian``.
POLY_NAME = "glm-gaussian-poly2"
#: Title of the demo's report.
TITLE = "Are neural networks linear models? bayesstack demo"


@dataclass(frozen=True)
class DemoSettings:
    """Chains and draws of every demo fit."""

    chains: int
    draws: int
    tune: int
    seed: int = 0


#: Full demo: 8 dispersed chains per model (about 10 minutes on 2 cores).
FULL = DemoSettings(chains=8, draws=1000, tune=1000)
#: Quick demo: enough to exercise every stage (under 2 minutes on 2 cores).
QUICK = DemoSettings(chains=4, draws=100, tune=150)


def poly_spec(glm: Spec) -> Spec:
    """The GLM of ``glm`` renamed for polynomial features (same priors, likelihood, link)."""
    d = glm.to_dict()
    d["name"] = POLY_NAME
    d["description"] = f"{glm.description} on polynomial features [x, x²]"
    return Spec.from_dict(d)


def _demo_command(out_dir: Path, quick: bool, seed: int) -> str:
    return shlex.join(
        [
            "bayesstack",
            "demo",
            "--out",
            str(out_dir),
            *(["--quick"] if quick else []),
            *(["--seed", str(seed)] if seed else []),
        ]
    )


def fit_demo_runs(
    out_dir: Path, settings: DemoSettings, *, dataset: str, quick: bool, on_step=None
) -> dict[str, Path]:
    """Fit every demo model and save the runs as ``out_dir/runs/<name>.nc``.

    Returns
    -------
    dict of str to Path
        Run files keyed by model name.
    """
    import bayesstack as bs
    from bayesstack.data.builtin import load_dataset

    ds = load_dataset(dataset)
    runs_dir = out_dir / "runs"
    runs_dir.mkdir(exist_ok=True)
    fit_kw = {
        "draws": settings.draws,
        "tune": settings.tune,
        "chains": settings.chains,
        "seed": settings.seed,
    }
    paths: dict[str, Path] = {}
    specs = {name: load_spec(name) for name in MODELS}
    for name, spec in specs.items():
        path = runs_dir / f"{name}.nc"
        run = bs.fit(spec, ds, **fit_kw)  # the report rebuilds its command (fit_command)
        paths[name] = bs.save(run, path)
        if on_step:
            on_step(name)
        if name == "glm-gaussian":  # the same GLM on [x, x²] right after it
            paths[POLY_NAME] = _fit_poly(spec, ds, runs_dir, fit_kw, out_dir, quick)
            if on_step:
                on_step(POLY_NAME)
    return paths


def _fit_poly(glm: Spec, ds, runs_dir: Path, fit_kw: dict, out_dir: Path, quick: bool) -> Path:
    import bayesstack as bs

    X = polynomial_features(ds.X, 2)
    run = bs.fit(
        poly_spec(glm),
        X,
        ds.y,
        feature_names=polynomial_names(ds.feature_names, 2),
        target=ds.target,
        dataset=ds.name,
        **fit_kw,
    )
    run.attrs[FEATURE_MAP_ATTR] = json.dumps(polynomial_map(2, ds.feature_names))
    from bayesstack.data.builtin import DEFAULT_DATASET

    seed = fit_kw["seed"]
    if ds.name == DEFAULT_DATASET:
        run.attrs[COMMAND_ATTR] = _demo_command(out_dir, quick, seed) + (
            f"  # builds [x, x²] of {ds.name} with bayesstack.data.features.polynomial_features"
        )
    else:  # the command line's demo has no --dataset
        run.attrs[COMMAND_ATTR] = (
            f"# bayesstack.demo.run_demo({str(out_dir)!r}, quick={quick}, seed={seed}, "
            f"dataset={ds.name!r}) in Python builds [x, x²] of {ds.name} and fits this run"
        )
    return save(run, runs_dir / f"{POLY_NAME}.nc")


def run_demo(
    out_dir: str | Path = "bayesstack-demo",
    *,
    quick: bool = False,
    progress: bool = True,
    dataset: str | None = None,
    seed: int = 0,
) -> Path:
    """Fit the demo's models, analyse their posterior geometry and write the report.

    Parameters
    ----------
    out_dir : str or Path
        Output folder, created if missing (its parent must exist). It receives ``runs/*.nc``
        (saved again after the analysis, with their ``canonical_posterior`` and
        ``chain_weights`` groups), ``runs/*.geometry.json``, ``report.html``, ``report.md``
        and ``report_files/``.
    quick : bool
        Fewer and shorter chains (:data:`QUICK` instead of :data:`FULL`), for tests.
    progress : bool
        Show a progress bar per stage (stderr).
    dataset : str, optional
        A built-in dataset with a Gaussian response (default: ``DEFAULT_DATASET``).
    seed : int
        Seed of the fits, the geometry analysis and the report.

    Returns
    -------
    Path
        The report's HTML file.
    """
    from bayesstack.data.builtin import DEFAULT_DATASET

    out_dir = check_folder(Path(out_dir), "--out")  # before any work: one line, nothing written
    for name in (*MODELS, POLY_NAME):  # files a rerun may replace: only bayesstack's own
        check_replaceable_output(out_dir / "runs" / f"{name}.geometry.json", "--out")
    out_dir.mkdir(exist_ok=True)
    check_folder(out_dir / "runs", "--out")
    output_paths(out_dir / "report.html")
    dataset = dataset or DEFAULT_DATASET
    base = QUICK if quick else FULL
    settings = DemoSettings(base.chains, base.draws, base.tune, seed)
    with stages(progress) as st:
        paths = fit_demo_runs(
            out_dir,
            settings,
            dataset=dataset,
            quick=quick,
            on_step=st.stage(f"fit ({settings.chains} chains)", len(MODELS) + 1),
        )
        runs = _load_all(paths)
        comparison = collect(
            runs, paths=paths, seed=seed, on_step=st.stage("geometry and LOO", len(runs))
        )
        for name, geo in comparison.geometry.items():
            text = json.dumps(with_generator(geo), indent=1, sort_keys=True) + "\n"
            write_output(out_dir / "runs" / f"{name}.geometry.json", text.encode(), "--out")
            # the analysed run: log-likelihood, canonical posterior and chain weights
            save(comparison.runs[name], paths[name])
        report = render_report(
            comparison,
            out_dir / "report.html",
            st,
            seed=seed,
            title=TITLE,
        )
    log.info("demo report: %s", report.html)
    return report.html


def _load_all(paths: dict[str, Path]) -> dict[str, xr.DataTree]:
    import bayesstack as bs

    return {name: bs.load(p) for name, p in paths.items()}
