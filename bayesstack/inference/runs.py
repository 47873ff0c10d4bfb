"""What a run records beyond its draws: preprocessing, GLM coefficients, specs, its command.

:func:`attach_spec` gives a run sampled with plain ``pm.sample`` what :func:`bayesstack.fit`
would have stored; :func:`fit_command` rebuilds the ``bayesstack fit`` command line of a run
(the report prints it).
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import xarray as xr

from bayesstack.data.preprocessing import PREPROCESSING_ATTR, Preprocessing, data_hash
from bayesstack.errors import BayesstackError
from bayesstack.inference.io import SPEC_ATTR, spec_of
from bayesstack.inference.outputs import short_name
from bayesstack.model.network import param_shapes, weight_names
from bayesstack.spec import Spec

__all__ = [
    "COMMAND_ATTR",
    "attach_spec",
    "fit_command",
    "preprocessing_of",
    "raw_coefficients",
    "spec_toml",
]


def preprocessing_of(run: xr.DataTree) -> Preprocessing:
    """The preprocessing a run was fitted with (``attrs["preprocessing"]``).

    Raises
    ------
    BayesstackError
        When the run records none (fitted by an older bayesstack, or sampled with plain PyMC):
        its features may have been standardised without a record, so predictions would be
        silently wrong.
    """
    text = run.attrs.get(PREPROCESSING_ATTR)
    if not text:
        raise BayesstackError(
            f"run: no {PREPROCESSING_ATTR!r} attribute, so the map from raw data to its "
            "features is unknown; fit it again with this bayesstack, or record it with "
            "bs.attach_spec(run, spec, X, y)"
        )
    return Preprocessing.from_json(text)


def raw_coefficients(run: xr.DataTree) -> xr.DataTree:
    """A GLM's coefficients on the raw scale of its features, draw by draw.

    With standardised features ``z = (x - m) / s`` the linear predictor
    ``b + sum_j w_j z_j`` equals ``(b - sum_j w_j m_j / s_j) + sum_j (w_j / s_j) x_j``: exactly,
    for every draw. Only depth-0 models (GLMs) have coefficients in this sense.

    Parameters
    ----------
    run : xarray.DataTree
        A run of a depth-0 spec, fitted by :func:`bayesstack.fit`.

    Returns
    -------
    xarray.DataTree
        A ``posterior`` group with ``W1`` (``chain, draw, feature``) per raw unit of each
        feature, ``b1`` the intercept at raw ``x = 0``, and the noise parameters unchanged; so
        ``az.summary(bs.raw_coefficients(run))`` reads on the raw scale. Unstandardised runs
        come back unchanged.
    """
    spec = spec_of(run)
    if spec.depth != 0:
        raise BayesstackError(
            f"raw_coefficients: {spec.name!r} has {spec.depth} hidden layer(s); only a GLM "
            "(depth 0) has one coefficient per feature"
        )
    prep = preprocessing_of(run)
    post = run["posterior"].to_dataset()
    w = post["W1"]
    b = post["b1"] if "b1" in post else xr.zeros_like(w.isel(feature=0, drop=True))
    if prep.standardized:
        mean = xr.DataArray(np.asarray(prep.mean), dims="feature", coords={"feature": w.feature})
        sd = xr.DataArray(np.asarray(prep.sd), dims="feature", coords={"feature": w.feature})
        w = w / sd
        b = b - (w * mean).sum("feature")
    out = post[[v for v in post.data_vars if v not in ("W1", "b1")]].assign(W1=w, b1=b)
    out.attrs.update(post.attrs, scale="raw" if prep.standardized else "as fitted")
    return xr.DataTree.from_dict({"posterior": out})


def attach_spec(
    idata: xr.DataTree,
    spec: Spec,
    X,
    y,
    *,
    trials=None,
    feature_names=None,
    target: str = "y",
    dataset: str = "",
) -> xr.DataTree:
    """Record a spec and its data in a run sampled with plain ``pm.sample``.

    ``pm.sample`` on ``bs.build_model(spec, X, y)`` gives the right draws but not the
    attributes bayesstack reads (the spec, the feature names, the preprocessing). This adds
    them, and the ``constant_data``/``observed_data`` groups, in place.

    Parameters
    ----------
    idata : xarray.DataTree
        The run; its posterior must hold the spec's weights (``W1, b1, ...``) with matching
        shapes.
    spec : Spec
        The spec the model was built from.
    X, y : array-like
        The design matrix and response the model was fitted on, as the model saw them (no
        standardisation is recorded: predictions take new X on the same scale).
    trials : int or array-like, optional
        Binomial trials.
    feature_names : sequence of str, optional
        Default: DataFrame columns or ``x1..xD``.
    target, dataset : str
        Stored names.

    Returns
    -------
    xarray.DataTree
        ``idata``, with the attributes and groups added.
    """
    from bayesstack._version import __version__
    from bayesstack.data.dataset import validate, validate_trials
    from bayesstack.registry import FAMILIES

    if feature_names is None:
        feature_names = [str(c) for c in getattr(X, "columns", [])] or None
    needs = FAMILIES[spec.family].support.needs_trials if spec.family in FAMILIES else False
    if trials is None and isinstance(spec.trials, int):
        trials = spec.trials
    Xa, ya = validate(X, y, spec.family, trials=trials if needs else None)
    names = list(feature_names or [f"x{i + 1}" for i in range(Xa.shape[1])])
    if "posterior" not in idata.children:
        raise BayesstackError("attach_spec: the run has no posterior group")
    post = idata["posterior"]
    want = param_shapes(spec, Xa.shape[1])
    bad = [
        f"{k} {tuple(post[k].shape[2:]) if k in post else 'missing'} (need {want[k]})"
        for k in weight_names(spec)
        if k not in post or tuple(post[k].shape[2:]) != want[k]
    ]
    if bad:
        raise BayesstackError(
            f"attach_spec: the posterior does not hold the weights of {spec.name!r}: "
            f"{'; '.join(bad)}; build the model with bs.build_model(spec, X, y)"
        )
    tr = validate_trials(trials, len(ya)) if needs else None
    obs = np.arange(len(ya))
    const = {"X": (("obs", "feature"), Xa)}
    if tr is not None:
        const["trials"] = ("obs", tr)
    idata["constant_data"] = xr.DataTree(xr.Dataset(const, coords={"obs": obs, "feature": names}))
    idata["observed_data"] = xr.DataTree(xr.Dataset({"y": ("obs", ya)}, coords={"obs": obs}))
    tv = int(tr[0]) if tr is not None and np.unique(tr).size == 1 else None
    prep = Preprocessing(
        features=tuple(names),
        target=target,
        trials_value=tv,
        source=dataset or "attach_spec",
        sha256=data_hash(Xa, ya, tr),
    )
    idata.attrs.update(
        {
            SPEC_ATTR: spec.to_json(),
            "bayesstack_version": __version__,
            "feature_names": json.dumps(names),
            "target": target,
            "dataset": dataset,
            PREPROCESSING_ATTR: prep.to_json(),
        }
    )
    return idata


# --- the command that regenerates a run ---------------------------------------------------------
#: Attribute holding a command that regenerates a run ``bayesstack fit`` cannot make (the demo
#: sets it on its GLM on polynomial features, which it builds in Python).
COMMAND_ATTR = "bayesstack_command"
#: Fit settings the command always states (defaults change between versions).
ALWAYS = ("sampler", "init", "seed", "chains", "draws", "tune")


def fit_command(run: xr.DataTree, path: str | Path | None = None) -> str:
    """The shell command that regenerates ``run``, or a ``#`` line saying why none does.

    ``bayesstack fit`` is rebuilt from what the run records: the spec (a built-in name when
    the run's spec is that built-in spec, else the spec's TOML text, fed through
    ``/dev/stdin``), the data (``--dataset NAME`` for a built-in dataset whose data hash
    matches; ``--data FILE --target COL`` with ``--formula``, ``--trials``,
    ``--no-standardize`` and ``--dropna`` from ``attrs["preprocessing"]``), and
    ``attrs["fit_settings"]`` (the sampler, init, seed, chains, draws and tune always; any
    other setting that differs from the default). Run where the run was fitted, the command
    gives the same draws: the default sampler is deterministic for a seed on one machine.

    Parameters
    ----------
    run : xarray.DataTree
        A run written by ``bayesstack fit`` or :func:`bayesstack.fit`.
    path : str or Path, optional
        Where the run is (the command's ``--out``); default ``SPECNAME.nc``.

    Returns
    -------
    str
        One command (a here-document for a spec that is not built in), or a comment line
        starting with ``#`` when no ``bayesstack fit`` command can regenerate the run (it was
        fitted from Python on arrays or a data frame, on a feature map, or with plain PyMC).
        A CSV file that is missing from here, or whose data changed since the fit, gets a
        comment line above the command.
    """
    if run.attrs.get(COMMAND_ATTR):
        return str(run.attrs[COMMAND_ATTR])
    spec = spec_of(run)
    settings = json.loads(run.attrs.get("fit_settings") or "null")
    if not isinstance(settings, dict):
        return (
            "# no fit settings recorded (sampled with plain PyMC and bs.attach_spec?): "
            "no bayesstack fit command regenerates this run"
        )
    if run.attrs.get("feature_map"):
        return (
            "# fitted in Python on a feature map of the data (attrs['feature_map']): "
            "no bayesstack fit command regenerates this run"
        )
    try:
        prep = preprocessing_of(run)
    except BayesstackError:
        return "# no preprocessing recorded: no bayesstack fit command regenerates this run"
    data, note = _data_args(run, spec, prep)
    if data is None:
        return note
    spec_arg, heredoc = _spec_arg(spec)
    out = str(path) if path else short_name(f"{_file_slug(spec.name)}.nc")
    args = ["bayesstack", "fit", spec_arg, *data, "--out", out, *_settings_args(settings)]
    if "posterior_predictive" not in run.children:
        args.append("--no-posterior-predictive")
    if "prior" in run.children:
        args.append("--prior-predictive")
    if _needs_allow_large(spec, run, settings):
        args.append("--allow-large")
    cmd = shlex.join(args)
    if heredoc:
        cmd += f" <<'{heredoc[0]}'\n{heredoc[1]}{heredoc[0]}"
    return f"{note}\n{cmd}" if note else cmd


def _settings_args(settings: dict) -> list[str]:
    from bayesstack.inference.settings import FitSettings

    defaults = FitSettings().to_dict()
    args = []
    for key in ALWAYS:
        if key in settings:
            args += [f"--{key}", str(settings[key])]
    for key, default in defaults.items():
        if key not in ALWAYS and key in settings and settings[key] != default:
            args += [f"--{key.replace('_', '-')}", str(settings[key])]
    return args


def _data_args(run: xr.DataTree, spec: Spec, prep: Preprocessing) -> tuple[list | None, str]:
    """``--dataset``/``--data`` arguments, and a comment line (or ``""``)."""
    from bayesstack.data.builtin import list_datasets, load_dataset

    std = [] if prep.standardized else ["--no-standardize"]
    if prep.source in {d.name for d in list_datasets()} and prep.formula is None:
        ds = load_dataset(prep.source, standardize=prep.standardized)
        if ds.preprocessing.sha256 == prep.sha256:
            return ["--dataset", prep.source, *std], ""
    name = str(run.attrs.get("dataset", ""))
    if prep.source and prep.source != name and Path(prep.source).stem == name:  # a data file
        args = ["--data", prep.source, "--target", prep.target]
        if prep.formula is not None:
            args += ["--formula", str(prep.formula["formula"])]
        trials = prep.trials_column or prep.trials_value
        if trials is not None:
            args += ["--trials", str(trials)]
        args += std + (["--dropna"] if prep.n_dropped else [])
        return args, _file_note(prep, spec)
    return None, (
        f"# fitted from Python on {_source_words(prep.source)}: no bayesstack fit command "
        "regenerates this run; fit it again with bayesstack.fit"
    )


def _file_note(prep: Preprocessing, spec: Spec) -> str:
    """A comment when the data file is not where the command reads it, or has changed."""
    from bayesstack.data.dataset import from_csv

    if not Path(prep.source).is_file():
        return (
            "# the data file is not found from this folder: run the command in the folder the "
            "run was fitted in"
        )
    try:
        now = from_csv(
            prep.source,
            prep.target,
            formula=None if prep.formula is None else prep.formula["formula"],
            trials=prep.trials_column or prep.trials_value,
            standardize=prep.standardized,
            dropna=bool(prep.n_dropped),
            family=spec.family,
        )
    except BayesstackError:
        now = None
    if now is None or now.preprocessing.sha256 != prep.sha256:
        return "# the data file has changed since the fit: this command fits it as it is now"
    return ""


def _source_words(source: str) -> str:
    if source in ("", "arrays"):
        return "arrays"
    return f"data {source!r} (no data file or built-in dataset recorded)"


def _spec_arg(spec: Spec) -> tuple[str, tuple[str, str] | None]:
    """The spec argument: a built-in name, or ``/dev/stdin`` and (delimiter, TOML text)."""
    from bayesstack.spec import builtin_specs, load_spec, loads_spec

    if spec.name in builtin_specs() and load_spec(spec.name) == spec:
        return spec.name, None
    text = spec_toml(spec)
    if loads_spec(text) != spec:  # pragma: no cover - spec_toml writes every field
        raise BayesstackError(f"spec {spec.name!r}: its TOML form does not read back the same")
    delim = "SPEC"
    while any(line == delim for line in text.splitlines()):
        delim += "_"
    return "/dev/stdin", (delim, text)


def spec_toml(spec: Spec) -> str:
    """The TOML text of ``spec``: ``loads_spec(spec_toml(spec)) == spec``."""
    import tomli_w

    return tomli_w.dumps(spec.to_dict())


def _file_slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip(".") or "run"


def _needs_allow_large(spec: Spec, run: xr.DataTree, settings: dict) -> bool:
    from bayesstack.limits import check_size

    X = run["constant_data"]["X"]
    try:
        check_size(spec, X.values, chains=settings.get("chains"), draws=settings.get("draws"))
    except BayesstackError:
        return True
    return False
