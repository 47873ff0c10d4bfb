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
from bayesstack.inference.settings import DEFAULT_SAMPLER, PER_CHAIN, FitSettings, require
from bayesstack.limits import check_size
from bayesstack.model.builder import build_model
from bayesstack.spec import Spec

log = logging.getLogger(__name__)

Sampler = Literal["numpyro", "nutpie", "pymc", "blackjax"]


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
    init: Literal["uniform", "prior", "jitter"] = "uniform",
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
    allow_large: bool = False,
) -> xr.DataTree:
    """Fit ``spec`` to data by NUTS and return an ArviZ ``DataTree``.

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
    sampler : {"numpyro", "nutpie", "pymc", "blackjax"}
        NUTS implementation. ``"numpyro"`` (default, the fastest: ``docs/performance.md``)
        samples the PyMC model's JAX graph with numpyro's NUTS; ``"nutpie"`` its numba graph.
        Both run each chain as its own sampler with seeds derived from ``seed``, so the draws
        of chain ``c`` are the same whatever ``chains``, ``cores`` or Dask.
    init : {"uniform", "prior", "jitter"}
        ``"uniform"``: every chain starts at its own U(-2, 2) draw on the unconstrained scale
        (Stan's dispersed default); ``"prior"``: at its own draw from the prior (very
        dispersed; unwise with wide priors);
        ``"jitter"``: PyMC's default jittered start.
    target_accept : float
        NUTS target acceptance rate.
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
    allow_large : bool
        Fit a spec over the size limits of :mod:`bayesstack.limits` (depth, units, parameters,
        memory), which are otherwise refused before the model is built.

    Returns
    -------
    xarray.DataTree
        Groups ``posterior``, ``sample_stats``, ``log_likelihood``, ``observed_data`` and
        ``constant_data``; attrs ``bayesstack_spec`` (JSON), ``feature_names`` (JSON),
        ``target``, ``dataset``, ``bayesstack_version`` and ``fit_settings`` (JSON).
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
    check_size(spec, X, chains=chains, draws=draws, allow_large=allow_large)
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
        return sample_pm(model, settings, progressbar)
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
    return to_datatree(model, run, library=settings.sampler, tune=settings.tune)
