"""Fit a stacked GLM by MCMC: backends, dispersed initial points, seeds and run metadata."""

from __future__ import annotations

import json
import logging
from typing import Literal

import pymc as pm
import xarray as xr

from bayesstack.errors import BayesstackError
from bayesstack.inference.backends import run_chains, sample_pm, to_datatree
from bayesstack.inference.io import SPEC_ATTR
from bayesstack.inference.progress import fit_progress
from bayesstack.inference.settings import (
    DEFAULT_INIT,
    DEFAULT_SAMPLER,
    PER_CHAIN,
    SAMPLERS,
    FitSettings,
    require,
)
from bayesstack.limits import check_size
from bayesstack.model.builder import build_model
from bayesstack.registry import FAMILIES
from bayesstack.spec import Spec

log = logging.getLogger(__name__)

Sampler = Literal["numpyro", "adjusted_mclmc", "mclmc", "nutpie", "pymc"]


def fit(
    spec: Spec,
    X=None,
    y=None,
    *,
    data=None,
    formula: str | None = None,
    standardize: bool | None = None,
    dropna: bool = False,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int = 0,
    sampler: Sampler = DEFAULT_SAMPLER,
    init: Literal["uniform", "map", "prior", "jitter"] = DEFAULT_INIT,
    target_accept: float = 0.8,
    cores: int | None = None,
    trials=None,
    feature_names=None,
    target: str | None = None,
    dataset: str | None = None,
    posterior_predictive: bool = True,
    prior_predictive: bool = False,
    progressbar: bool | None = None,
    client=None,
    dask_scheduler: str | None = None,
    chains_per_task: int | None = None,
    allow_large: bool = False,
) -> xr.DataTree:
    """Fit ``spec`` to data by MCMC and return an ArviZ ``DataTree``.

    Parameters
    ----------
    spec : Spec
        The model spec.
    X : array-like (N, D), DataFrame or :class:`bayesstack.data.Dataset`
        A design matrix (used as it is unless ``standardize=True``), or a whole dataset (then
        ``y`` is omitted; its preprocessing is recorded).
    y : array-like (N,), optional
        Response.
    data : pandas.DataFrame, optional
        Raw data instead of ``X``/``y``: the response is ``target`` or the formula's left-hand
        side, the features every other column or the formula's right-hand side. Standardised
        by default, like the CLI (:data:`bayesstack.data.preprocessing.STANDARDIZE`).
    formula : str, optional
        With ``data``: e.g. ``"y ~ x1 + C(region)"``, coded by formulaic; the intercept column
        is dropped (the network has its own bias); the coding is stored for prediction.
    standardize : bool, optional
        Z-score the features. Default: ``True`` with ``data``, as given otherwise (a design
        matrix or a :class:`~bayesstack.data.Dataset` is used unchanged).
    dropna : bool
        With ``data``: drop rows with missing values instead of the one-line error.
    draws, tune, chains : int
        Kept draws, tuning steps and chains per run (PyMC's names).
    seed : int
        Run seed; chain starts, sampler streams and predictive draws derive from it.
    sampler : {"numpyro", "adjusted_mclmc", "mclmc", "nutpie", "pymc"}
        ``"numpyro"`` (default: ``docs/performance.md``) samples the PyMC model's JAX graph
        with numpyro's NUTS; ``"adjusted_mclmc"`` with blackjax's Metropolis-adjusted
        microcanonical sampler (exact); ``"mclmc"`` with unadjusted MCLMC (MILE's sampler:
        fast, with a small discretisation bias); ``"nutpie"`` samples its numba graph with
        nutpie's NUTS; ``"pymc"`` with PyMC's NUTS. All but ``"pymc"`` run each chain as its
        own sampler with seeds derived from ``seed``, so the draws of chain ``c`` are the same
        whatever ``cores`` or Dask (and, except with ``init="map"``, ``chains``).
    init : {"uniform", "map", "prior", "jitter"}
        ``"uniform"``: every chain starts at its own U(-2, 2) draw on the unconstrained scale
        (Stan's dispersed default); ``"map"``: at the optimum L-BFGS reaches from that draw,
        restarting from a new draw when the optimum is light (far below the other chains'
        best; the run's ``warm_start`` group records every chain's optimum,
        :mod:`bayesstack.inference.warmstart`); ``"prior"``: at its own draw from the prior
        (very dispersed; unwise with wide priors); ``"jitter"``: PyMC's default jittered
        start.
    target_accept : float
        Target acceptance rate (NUTS; the step size of ``"adjusted_mclmc"``).
    cores : int, optional
        Parallel chains (default: all cores). With Dask: chains running at once per task.
    trials, feature_names, target, dataset
        Binomial trials (a count, one per row, or with ``data`` a column name; default: the
        spec's ``trials``), feature names, the target's name and the dataset's name (stored).
    posterior_predictive : bool
        Add a ``posterior_predictive`` group (``y`` at every draw, seeded from ``seed``); the
        posterior draws are the same with or without it.
    prior_predictive : bool
        Add ``prior`` and ``prior_predictive`` groups (``draws`` prior draws).
    progressbar : bool, optional
        Show progress on stderr (rich): a status line while compiling, then one line per
        chain (the JAX route runs a chain as one XLA call, so progress is per chain;
        ``pm.sample`` samplers show their own bar). Default: on when stderr is a terminal.
    client : dask.distributed.Client, optional
        Run groups of chains as Dask tasks on this client (``"numpyro"``, ``"nutpie"``).
    dask_scheduler : str, optional
        Address of a Dask scheduler (``"tcp://HOST:PORT"``) to connect to instead of ``client``.
    chains_per_task : int, optional
        Chains per Dask task (default: spread the chains evenly over the workers' threads).
    allow_large : bool
        Fit a spec over the size limits of :mod:`bayesstack.limits` (depth, units, parameters,
        memory), which are otherwise refused before the model is built.

    Returns
    -------
    xarray.DataTree
        Groups ``posterior``, ``sample_stats``, ``log_likelihood``, ``posterior_predictive``,
        ``observed_data`` and ``constant_data`` (and ``prior``, ``prior_predictive`` on
        request, ``warm_start`` with ``init="map"``); attrs ``bayesstack_spec`` (JSON),
        ``feature_names`` (JSON), ``target``, ``dataset``, ``preprocessing`` (JSON),
        ``bayesstack_version`` and ``fit_settings`` (JSON).
    """
    import sys

    from bayesstack._version import __version__
    from bayesstack.data.dataset import Dataset, from_frame
    from bayesstack.data.preprocessing import PREPROCESSING_ATTR, STANDARDIZE

    if data is not None:
        if X is not None or y is not None:
            raise BayesstackError("data: give either data= (a DataFrame) or X and y, not both")
        if isinstance(data, Dataset):
            X = data
        else:
            tr = trials if trials is not None else spec.trials
            X = from_frame(
                data,
                target,
                formula=formula,
                trials=tr if FAMILIES[spec.family].support.needs_trials else None,
                standardize=STANDARDIZE if standardize is None else standardize,
                dropna=dropna,
                family=spec.family,
                name=dataset or "data",
            )
            trials = None
    elif formula is not None:
        raise BayesstackError(
            "formula: give the data frame as data=, e.g. fit(spec, data=df, formula=...)"
        )
    if not isinstance(X, Dataset):
        X = dataset_of(
            spec, X, y, trials=trials, feature_names=feature_names, target=target, dataset=dataset
        )
        trials = None
    data = X.standardize() if standardize and X.standardization is None else X
    if isinstance(spec.trials, str) and FAMILIES[spec.family].support.needs_trials:
        if data.trials is None:
            raise BayesstackError(
                f"trials: the spec reads trials from column {spec.trials!r}, but the data "
                f"have none; build them with trials={spec.trials!r} (--trials {spec.trials})"
            )
    settings = FitSettings(draws, tune, chains, seed, sampler, init, target_accept, cores)
    require(sampler)
    if (client is not None or dask_scheduler is not None) and sampler not in PER_CHAIN:
        raise BayesstackError(
            f"sampler: Dask runs the samplers {', '.join(PER_CHAIN)}, not {sampler!r}"
        )
    check_size(spec, data.X, chains=chains, draws=draws, allow_large=allow_large)
    model = build_model(spec, data, trials=trials, feature_names=feature_names)
    log.info("fitting %s with %s: %d chains", spec.name, sampler, chains)
    show = sys.stderr.isatty() if progressbar is None else bool(progressbar)
    idata = _sample(model, spec, settings, show, client, dask_scheduler, chains_per_task)
    if "log_likelihood" not in idata.children:  # the JAX route computes it while sampling
        pm.compute_log_likelihood(idata, model=model, progressbar=False)
    if posterior_predictive:
        add_posterior_predictive(idata, spec, data.X, data.trials, seed)
    if prior_predictive:
        add_prior_predictive(idata, model, draws, seed)
    idata.attrs.update(
        {
            SPEC_ATTR: spec.to_json(),
            "bayesstack_version": __version__,
            "feature_names": json.dumps([str(c) for c in model.coords["feature"]]),
            "target": target or data.target or "y",
            "dataset": dataset or data.name or "",
            PREPROCESSING_ATTR: data.preprocessing.to_json(),
            "fit_settings": json.dumps(settings.to_dict()),
        }
    )
    return idata


def dataset_of(spec: Spec, X, y, *, trials=None, feature_names=None, target=None, dataset=None):
    """A design matrix and response as a :class:`~bayesstack.data.Dataset`, unchanged."""
    from bayesstack.data.dataset import Dataset, validate, validate_trials

    if X is None or y is None:
        raise BayesstackError("data: give X and y, a Dataset, or data= (a DataFrame)")
    names = feature_names
    if names is None:
        names = [str(c) for c in getattr(X, "columns", [])] or None
    needs = FAMILIES[spec.family].support.needs_trials
    if needs and trials is None and isinstance(spec.trials, int):
        trials = spec.trials
    if needs and trials is None and isinstance(spec.trials, str) and hasattr(X, "columns"):
        if spec.trials in X.columns:  # the spec's trials column, not a feature
            trials, X = X[spec.trials], X.drop(columns=[spec.trials])
            names = [n for n in (names or []) if n != spec.trials] or None
    Xa, ya = validate(X, y, spec.family, trials=trials)
    tr = validate_trials(trials, len(ya)) if trials is not None else None
    names = list(names or [f"x{i + 1}" for i in range(Xa.shape[1])])
    return Dataset(
        X=Xa,
        y=ya,
        feature_names=tuple(names),
        target=target or (str(y.name) if getattr(y, "name", None) is not None else "y"),
        name=dataset or "",
        trials=tr,
        source=dataset or "arrays",
    )


def _sample(model, spec, settings, show, client, scheduler, chains_per_task):
    """The chains, here or on Dask, as a DataTree (log-likelihood only from the JAX route)."""
    if settings.sampler not in PER_CHAIN:
        return sample_pm(model, settings, show, spec)  # pm.sample's own progress bar
    dask = client is not None or scheduler is not None
    with fit_progress(show, 0 if dask else settings.chains, spec.name, settings.sampler) as pr:
        if dask:
            pr.status("sampling on Dask")
        return _sample_per_chain(model, spec, settings, pr, client, scheduler, chains_per_task)


def _sample_per_chain(model, spec, settings, progress, client, scheduler, chains_per_task):
    if client is not None or scheduler is not None:
        from bayesstack.inference.distributed import run_chains_dask

        run = run_chains_dask(
            spec,
            model,
            settings,
            client=client,
            scheduler=scheduler,
            chains_per_task=chains_per_task,
        )
    else:
        run = run_chains(model, spec, settings, range(settings.chains), settings.n_cores, progress)
    return to_datatree(model, run, library=SAMPLERS[settings.sampler], tune=settings.tune)


#: Streams of the run seed beside the chains': ``default_rng([seed, stream])``.
PPC_STREAM, PRIOR_STREAM = 1, 2


def add_posterior_predictive(idata: xr.DataTree, spec: Spec, X, trials, seed: int) -> xr.DataTree:
    """Add ``posterior_predictive/y``: one draw of y per posterior draw, at the training X.

    Drawn with the family's ``simulate`` row (as :func:`bayesstack.predict` does) from
    ``numpy.random.default_rng([seed, 1])``, after sampling: the posterior draws do not depend
    on it. ``trials``: the binomial trials per row, else None.
    """
    import numpy as np

    from bayesstack.inference.prediction import draw_outcomes

    post = idata["posterior"].to_dataset()
    y = draw_outcomes(
        spec, post, X, kind="response", trials=trials, rng=np.random.default_rng([seed, PPC_STREAM])
    )
    coords = {"chain": post["chain"].values, "draw": post["draw"].values}
    coords["obs"] = idata["observed_data"]["obs"].values
    ds = xr.Dataset({"y": (("chain", "draw", "obs"), y)}, coords=coords)
    ds.attrs.update({"inference_library": "bayesstack", "seed": f"[{seed}, {PPC_STREAM}]"})
    idata["posterior_predictive"] = xr.DataTree(ds)
    return idata


def add_prior_predictive(idata: xr.DataTree, model, draws: int, seed: int) -> xr.DataTree:
    """Add ``prior`` and ``prior_predictive`` groups (``draws`` draws, PyMC's forward sampler)."""
    import numpy as np

    rng = np.random.default_rng([seed, PRIOR_STREAM])
    prior = pm.sample_prior_predictive(draws, model=model, random_seed=rng)
    for group in ("prior", "prior_predictive"):
        idata[group] = xr.DataTree(prior[group].to_dataset())
    return idata
