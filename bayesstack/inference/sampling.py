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
from bayesstack.inference.settings import (
    DEFAULT_INIT,
    DEFAULT_SAMPLER,
    PER_CHAIN,
    SAMPLERS,
    FitSettings,
    require,
)
from bayesstack.model.builder import build_model
from bayesstack.spec import Spec

log = logging.getLogger(__name__)

Sampler = Literal["numpyro", "adjusted_mclmc", "mclmc", "nutpie", "pymc"]


def fit(
    spec: Spec,
    X,
    y=None,
    *,
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
    progressbar: bool = False,
    client=None,
    dask_scheduler: str | None = None,
    chains_per_task: int | None = None,
) -> xr.DataTree:
    """Fit ``spec`` to data by MCMC and return an ArviZ ``DataTree``.

    Parameters
    ----------
    spec : Spec
        The model spec.
    X : array-like (N, D), DataFrame or :class:`bayesstack.data.Dataset`
        Features, or a whole dataset (then ``y`` is omitted).
    y : array-like (N,), optional
        Response.
    draws, tune, chains : int
        Kept draws, tuning steps and chains per run (PyMC's names).
    seed : int
        Run seed; chain starts and sampler streams derive from it.
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
        Binomial trials, feature names, the target's name and the dataset's name (stored).
    progressbar : bool
        Show the sampler's progress bar (``pm.sample`` samplers; the per-chain samplers log
        each finished chain at INFO level).
    client : dask.distributed.Client, optional
        Run groups of chains as Dask tasks on this client (``"numpyro"``, ``"nutpie"``).
    dask_scheduler : str, optional
        Address of a Dask scheduler (``"tcp://HOST:PORT"``) to connect to instead of ``client``.
    chains_per_task : int, optional
        Chains per Dask task (default: spread the chains evenly over the workers' threads).

    Returns
    -------
    xarray.DataTree
        Groups ``posterior``, ``sample_stats``, ``log_likelihood``, ``observed_data`` and
        ``constant_data`` (and ``warm_start`` with ``init="map"``); attrs ``bayesstack_spec``
        (JSON), ``feature_names`` (JSON), ``target``, ``dataset``, ``bayesstack_version`` and
        ``fit_settings`` (JSON).
    """
    from bayesstack._version import __version__
    from bayesstack.data.dataset import Dataset

    if isinstance(X, Dataset):
        data = X
        X, y, trials = data.X, data.y, data.trials if trials is None else trials
        feature_names = feature_names or list(data.feature_names)
        target = target or data.target
        dataset = dataset or data.name
    settings = FitSettings(draws, tune, chains, seed, sampler, init, target_accept, cores)
    require(sampler)
    if (client is not None or dask_scheduler is not None) and sampler not in PER_CHAIN:
        raise BayesstackError(
            f"sampler: Dask runs the samplers {', '.join(PER_CHAIN)}, not {sampler!r}"
        )
    model = build_model(spec, X, y, trials=trials, feature_names=feature_names)
    log.info("fitting %s with %s: %d chains", spec.name, sampler, chains)
    idata = _sample(model, spec, settings, progressbar, client, dask_scheduler, chains_per_task)
    if "log_likelihood" not in idata.children:  # the JAX route computes it while sampling
        pm.compute_log_likelihood(idata, model=model, progressbar=False)
    idata.attrs.update(
        {
            SPEC_ATTR: spec.to_json(),
            "bayesstack_version": __version__,
            "feature_names": json.dumps([str(c) for c in model.coords["feature"]]),
            "target": target or "y",
            "dataset": dataset or "",
            "fit_settings": json.dumps(settings.to_dict()),
        }
    )
    return idata


def _sample(model, spec, settings, progressbar, client, scheduler, chains_per_task):
    """The chains, here or on Dask, as a DataTree (log-likelihood only from the JAX route)."""
    if settings.sampler not in PER_CHAIN:
        return sample_pm(model, settings, progressbar, spec)
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
        run = run_chains(model, spec, settings, range(settings.chains), settings.n_cores)
    return to_datatree(model, run, library=SAMPLERS[settings.sampler], tune=settings.tune)
