"""The ``bayesstack`` command line: parses arguments and calls the library, nothing more."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bayesstack.errors import BayesstackError

app = typer.Typer(
    help="Stacked GLMs as PyMC models: fit them, examine their posterior geometry, report.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
NO_VERIFY = "Read runs whose checksums do not match (recovering a damaged file)"
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)


def _fmt(v: float, digits: int = 3) -> str:
    return f"{v:.{digits}g}" if isinstance(v, float) else str(v)


def _load_data(
    data: Path | None,
    target: str | None,
    dataset: str | None,
    standardize: bool,
    trials: str | None,
    *,
    formula: str | None = None,
    dropna: bool = False,
    spec=None,
):
    from bayesstack.data import from_csv
    from bayesstack.data.builtin import load_dataset

    if (data is None) == (dataset is None):
        raise BayesstackError(
            "data: give either --data FILE.csv with --target COL, or --dataset NAME"
        )
    if dataset is not None:
        extra = [o for o, v in (("--trials", trials), ("--formula", formula)) if v is not None]
        if extra or dropna:
            raise BayesstackError(
                f"{(extra or ['--dropna'])[0]}: only with --data; a built-in dataset carries its "
                "own features and trials"
            )
        return load_dataset(dataset, standardize=standardize)
    if not target and not formula:
        raise BayesstackError("--target: name the response column of --data (or give --formula)")
    if trials is None and spec is not None and isinstance(spec.trials, str):
        trials = spec.trials  # the spec's trials column
    tr = int(trials) if trials is not None and trials.isdigit() else trials
    family = spec.family if spec is not None else None
    if tr is not None and family is not None and family != "binomial":
        raise BayesstackError(
            f"--trials: only binomial specs take trials; this spec's family is {family!r}"
        )
    return from_csv(
        data,
        target,
        trials=tr,
        standardize=standardize,
        formula=formula,
        dropna=dropna,
        family=family,
    )


def _version(value: bool) -> None:
    if value:
        from bayesstack._version import __version__

        out.print(f"bayesstack {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version"),
    ] = False,
) -> None:
    """Stacked GLMs as PyMC models: fit them, examine their posterior geometry, report."""


@app.command()
def fit(
    spec: Annotated[
        Path,
        typer.Argument(help="Model spec: a TOML file, or a built-in name such as stack1-tanh"),
    ],
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Output run file (.nc or .zarr)")],
    data: Annotated[Path | None, typer.Option(help="CSV file with a header row")] = None,
    target: Annotated[str | None, typer.Option(help="Response column of --data")] = None,
    dataset: Annotated[str | None, typer.Option(help="Built-in dataset (see `datasets`)")] = None,
    trials: Annotated[
        str | None, typer.Option(help="Binomial trials: a column or an integer")
    ] = None,
    standardize: Annotated[
        bool, typer.Option(help="Z-score the features (recorded in the run for predict)")
    ] = True,
    formula: Annotated[
        str | None,
        typer.Option(help="Formula for --data, e.g. 'y ~ x1 + C(region)' (formulaic)"),
    ] = None,
    dropna: Annotated[
        bool, typer.Option("--dropna", help="Drop rows of --data with missing values")
    ] = False,
    posterior_predictive: Annotated[
        bool, typer.Option(help="Store posterior predictive draws of y")
    ] = True,
    prior_predictive: Annotated[
        bool, typer.Option("--prior-predictive", help="Also store prior and prior predictive")
    ] = False,
    chains: Annotated[int, typer.Option(help="Chains, each from its own dispersed start")] = 4,
    draws: Annotated[int, typer.Option(help="Kept draws per chain")] = 1000,
    tune: Annotated[int, typer.Option(help="Tuning steps per chain")] = 1000,
    seed: Annotated[int, typer.Option(help="Run seed")] = 0,
    sampler: Annotated[
        str | None,
        typer.Option(help="numpyro (default) | adjusted_mclmc | mclmc | nutpie | pymc"),
    ] = None,
    init: Annotated[
        str | None,
        typer.Option(help="uniform (U(-2,2); default) | map (its optimum) | prior | jitter"),
    ] = None,
    target_accept: Annotated[float, typer.Option(help="Target acceptance rate")] = 0.8,
    cores: Annotated[int | None, typer.Option(help="Parallel chains (default: all cores)")] = None,
    dask_scheduler: Annotated[
        str | None, typer.Option(help="Run chain groups on a Dask cluster: tcp://HOST:PORT")
    ] = None,
    allow_large: Annotated[
        bool, typer.Option("--allow-large", help="Fit a spec over the size limits too")
    ] = False,
) -> None:
    """Fit a model spec by MCMC and save the run."""
    import bayesstack as bs
    from bayesstack.inference.io import check_run_path

    check_run_path(out_path, "--out")
    model_spec = bs.load_spec(spec)
    ds = _load_data(
        data,
        target,
        dataset,
        standardize,
        trials,
        formula=formula,
        dropna=dropna,
        spec=model_spec,
    )
    kw = {} if sampler is None else {"sampler": sampler}
    if init is not None:
        kw["init"] = init
    run = bs.fit(
        model_spec,
        ds,
        chains=chains,
        draws=draws,
        tune=tune,
        seed=seed,
        target_accept=target_accept,
        cores=cores,
        dask_scheduler=dask_scheduler,
        posterior_predictive=posterior_predictive,
        prior_predictive=prior_predictive,
        progressbar=sys.stderr.isatty(),
        allow_large=allow_large,
        **kw,
    )
    bs.save(run, out_path, field="--out")
    div = int(run["sample_stats"]["diverging"].sum())
    dropped = f", {ds.n_dropped} rows with missing values dropped" if ds.n_dropped else ""
    err.print(
        f"wrote {out_path} ({chains} chains x {draws} draws, {div} divergences{dropped})",
        highlight=False,
    )


def _read_csv(path: Path, field: str):
    import pandas as pd

    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "not found"
        raise BayesstackError(f"{field}: '{path}' {what}; check the path")
    try:
        df = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise BayesstackError(f"{field}: '{path}' is empty; it needs a header row") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        msg = " ".join(str(exc).split())
        raise BayesstackError(f"{field}: '{path}' is not valid CSV ({msg})") from None
    if df.shape[0] == 0:
        raise BayesstackError(f"{field}: '{path}' has a header but no rows")
    return df


@app.command()
def predict(
    run_path: Annotated[Path, typer.Argument(help="A run file written by `fit`")],
    data: Annotated[
        Path, typer.Option(help="CSV of new rows, with the raw columns the run was fitted on")
    ],
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Summary CSV to write")],
    kind: Annotated[
        str, typer.Option(help="mean (E[y | x]) | response (posterior predictive y)")
    ] = "mean",
    interval: Annotated[float, typer.Option(help="Equal-tailed interval probability")] = 0.9,
    weights: Annotated[
        str, typer.Option(help="stacking (the run's chain weights, when it has them) | equal")
    ] = "stacking",
    seed: Annotated[int | None, typer.Option(help="Seed of the response draws")] = None,
    no_verify: Annotated[bool, typer.Option("--no-verify", help=NO_VERIFY)] = False,
) -> None:
    """Predict at new data: one row per new row (obs, mean, sd, lower, upper)."""
    import bayesstack as bs
    from bayesstack.inference.prediction import check_summary_path, predict_summary, write_summary

    check_summary_path(out_path, "--out")
    run = bs.load(run_path, verify=not no_verify)
    df = _read_csv(data, "--data")
    pred = bs.predict(run, df, kind=kind, interval=interval, weights=weights, seed=seed)
    write_summary(predict_summary(pred), out_path)
    err.print(
        f"wrote {out_path} ({len(df)} rows; {kind}; {interval:g} equal-tailed intervals; "
        f"{pred.attrs['weights_note']})",
        markup=False,
        highlight=False,
    )


@app.command()
def summary(
    run_path: Annotated[Path, typer.Argument(help="A run file written by `fit`")],
    group: Annotated[str, typer.Option(help="posterior | canonical_posterior")] = "posterior",
    rhat_max: Annotated[float, typer.Option(help="Flag R-hat above this")] = 1.01,
    weights: Annotated[
        str,
        typer.Option(
            help="stacking: only chains with stacking weight (from `geometry`); equal: all"
        ),
    ] = "stacking",
    no_verify: Annotated[bool, typer.Option("--no-verify", help=NO_VERIFY)] = False,
    var_names: Annotated[
        str | None,
        typer.Option("--var-names", help="Only these variables, comma-separated (e.g. W1,b1)"),
    ] = None,
    scale: Annotated[
        str,
        typer.Option(
            help="fitted: as sampled; raw: a GLM's coefficients per raw unit of each feature"
        ),
    ] = "fitted",
) -> None:
    """Print the ArviZ summary of a run, flagging divergences, R-hat, ESS and NaN/inf values."""
    import bayesstack as bs
    from bayesstack.report.summary import summarize

    run = bs.load(run_path, verify=not no_verify)
    spec = bs.spec_of(run)
    if weights not in ("stacking", "equal"):
        raise BayesstackError(f"--weights: use stacking or equal, got {weights!r}")
    s = summarize(
        run, var_names=var_names, group=group, rhat_max=rhat_max, weights=weights, scale=scale
    )
    table = Table(
        title=f"{spec.name} on {run.attrs.get('dataset') or 'data'}: "
        f"{s.chains} chains x {s.draws} draws"
        + (", coefficients on the raw scale of the features" if s.scale == "raw" else "")
    )
    cols = ["mean", "sd", "eti89_lb", "eti89_ub", "ess_bulk", "ess_tail", "r_hat"]
    table.add_column("parameter")
    for c in [*cols, "flag"]:
        table.add_column(c, justify="right")
    for name, row in s.table.iterrows():
        style = "bold red" if row["flag"] else None
        table.add_row(
            escape(str(name)), *(_fmt(float(row[c])) for c in cols), row["flag"], style=style
        )
    out.print(table)
    div_style = "bold red" if s.divergences else ("yellow" if s.divergences is None else "green")
    div = (
        "n/a (the run records no sample_stats.diverging)"
        if s.divergences is None
        else s.divergences
    )
    nonfinite = (
        f"[bold red]{s.n_nonfinite} with NaN or infinite values[/], " if s.n_nonfinite else ""
    )
    out.print(
        f"[{div_style}]divergences: {div}[/]; flagged parameters: {s.n_flagged} "
        f"({nonfinite}R-hat > {s.rhat_max}, or bulk/tail ESS < {s.ess_min:.0f})"
    )
    if s.excluded_chains:
        left = ", ".join(map(str, s.excluded_chains))
        out.print(
            f"[bold red]left out chain(s) {left}: no stacking weight (trapped in a local mode, "
            f"they did not sample the posterior); "
            f"{'n/a' if s.divergences_all is None else s.divergences_all} divergences over all "
            "chains; --weights equal shows every chain[/]"
        )
    elif s.weights == "stacking":
        out.print("stacking weights: every chain carries weight")


@app.command()
def datasets(
    long: Annotated[
        bool, typer.Option("--long", help="Full descriptions, sources, licences")
    ] = False,
) -> None:
    """List the built-in datasets."""
    from bayesstack.data.builtin import DEFAULT_DATASET, list_datasets

    table = Table(title=f"built-in datasets (default: {DEFAULT_DATASET})")
    cols = ["name", "kind", "family", "n", "d", "description"]
    for c in cols + (["source", "licence"] if long else []):
        table.add_column(c, no_wrap=c == "name")
    for i in list_datasets():
        desc = i.description if long else i.description.split(":")[0].split(". ")[0]
        extra = [i.source, i.licence] if long else []
        table.add_row(i.name, i.kind, i.family, str(i.n), str(i.d), desc, *extra)
    out.print(table)


@app.command()
def geometry(
    run_path: Annotated[Path, typer.Argument(help="A run file written by `fit`")],
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the results as JSON")
    ] = None,
    save_canonical: Annotated[
        Path | None,
        typer.Option(help="Save the run with its canonical_posterior and chain_weights groups"),
    ] = None,
    method: Annotated[str, typer.Option(help="Canonicaliser: align | sort")] = "align",
    map_starts: Annotated[
        int, typer.Option(help="Dispersed MAP starts, besides each chain's best draw")
    ] = 0,
    map_from_chains: Annotated[
        bool, typer.Option(help="Start the MAP from each chain's best draw")
    ] = True,
    seed: Annotated[int, typer.Option(help="Seed of the dispersed MAP starts")] = 0,
    min_mass: Annotated[
        float, typer.Option(help="Share of the posterior mass from which a mode class counts")
    ] = 1e-3,
    no_verify: Annotated[bool, typer.Option("--no-verify", help=NO_VERIFY)] = False,
) -> None:
    """Posterior geometry of a run: symmetry, modes and their mass, verdict, curvature."""
    import bayesstack as bs
    from bayesstack.geometry import analyze
    from bayesstack.inference.io import (
        check_output_path,
        check_run_path,
        with_generator,
        write_output,
    )

    if json_out is not None:
        check_output_path(json_out, "--json")
    if save_canonical is not None:
        check_run_path(save_canonical, "--save-canonical")
    if method not in ("align", "sort"):
        raise BayesstackError(f"--method: unknown method {method!r}; use align or sort")
    if not 0.0 < min_mass < 1.0:
        raise BayesstackError(f"--min-mass: must be a number in (0, 1), got {min_mass!r}")
    run = bs.load(run_path, verify=not no_verify)
    with err.status("analysing posterior geometry") as status:
        result = analyze(
            run,
            canonical_method=method,
            n_map_starts=map_starts,
            map_from_chains=map_from_chains,
            seed=seed,
            min_mass=min_mass,
            progress=lambda stage: status.update(f"geometry: {stage}"),
        )
    out.print(result.to_table())
    if json_out is not None:
        text = json.dumps(with_generator(result.to_dict()), indent=2)
        write_output(json_out, text.encode(), "--json")
        err.print(f"wrote {json_out}")
    if save_canonical is not None:
        bs.save(result.run, save_canonical, field="--save-canonical")
        err.print(f"wrote {save_canonical}")


@app.command()
def compare(
    runs: Annotated[list[Path], typer.Argument(help="Run files written by `fit`")],
    out_path: Annotated[Path, typer.Option("--out", "-o", help="report.html to write")] = Path(
        "report.html"
    ),
    seed: Annotated[int, typer.Option(help="Seed of MAP starts and predictive draws")] = 0,
    title: Annotated[str, typer.Option(help="Report title")] = "bayesstack comparison report",
    no_verify: Annotated[bool, typer.Option("--no-verify", help=NO_VERIFY)] = False,
) -> None:
    """Compare runs: ELPD-LOO, convergence, geometry evidence and plots (HTML + Markdown)."""
    from bayesstack.inference.io import verification
    from bayesstack.report import compare_runs
    from bayesstack.report.render import output_paths

    output_paths(out_path)
    with verification(not no_verify):
        report = compare_runs(
            [str(r) for r in runs], out_path, seed=seed, title=title, progress=sys.stderr.isatty()
        )
    out.print(report.paragraph)
    err.print(f"wrote {report.html} and {report.markdown}")


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for runs and report")] = Path(
        "demo-out"
    ),
    quick: Annotated[bool, typer.Option(help="A reduced run (under 2 minutes)")] = False,
    seed: Annotated[int, typer.Option(help="Run seed")] = 0,
) -> None:
    """The main job: fit a GLM and stacks on the default data, analyse them, write the report."""
    from bayesstack.demo import run_demo
    from bayesstack.inference.io import check_folder

    check_folder(out_dir, "--out")
    html = run_demo(out_dir, quick=quick, seed=seed, progress=True)
    err.print(f"report: {html}")


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def bench(ctx: typer.Context) -> None:
    """Run the benchmarks of a checkout: ``python -m benchmarks {backends,geometry,bde,mclmc}``."""
    root = Path(__file__).resolve().parents[1]
    if not (root / "benchmarks" / "__main__.py").is_file():
        raise BayesstackError(
            "bench: the benchmarks live in a source checkout (benchmarks/), not in the installed "
            "package; clone the repository and run `python -m benchmarks --help` there"
        )
    args = ctx.args
    if not args or args[0].startswith("-"):  # `bayesstack bench --sizes a` times the backends
        args = ["backends", *args]
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from benchmarks.__main__ import main as run_benchmarks

    raise typer.Exit(run_benchmarks(args))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line on ``argv`` (default ``sys.argv[1:]``) and return the exit code.

    User errors become one line on stderr and exit code 2; an interrupt gives 130.
    """
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app(args=None if argv is None else list(argv), prog_name="bayesstack")
    except SystemExit as e:  # typer exits on its own: --help, usage errors, typer.Exit
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BayesstackError as e:
        err.print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)
        return 2
    except MemoryError as e:
        err.print(
            f"error: not enough memory ({e}); use a smaller model or less data",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return 2
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
