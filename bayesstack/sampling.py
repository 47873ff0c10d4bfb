"""Fit a stacked GLM by MCMC: backends, dispersed initial points, seeds and run metadata."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import Literal

import pymc as pm
import xarray as xr

from bayesstack.backends import (
    DEFAULT_SAMPLER,
    PER_CHAIN,
    SAMPLERS,
    require,
    run_chains,
    sample_pm,
    to_datatree,
)
from bayesstack.builder import build_model
from bayesstack.errors import BayesstackError, check_int
from bayesstack.io import SPEC_ATTR, spec_of
from bayesstack.limits import check_size
from bayesstack.spec import Spec

log = logging.getLogger(__name__)

Sampler = Literal["numpyro", "nutpie", "pymc", "blackjax"]
INITS = ("uniform", "prior", "jitter")


@dataclass(frozen=True)
class FitSettings:
    """Sampler settings, stored with the run so that it can be regenerated."""

    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    seed: int = 0
    sampler: str = DEFAULT_SAMPLER
    init: str = "uniform"
    target_accept: float = 0.8
    cores: int | None = None

    def __post_init__(self) -> None:
        lowest = {"draws": 1, "tune": 0, "chains": 1, "seed": 0, "cores": 1}
        for name, low in lowest.items():
            v = getattr(self, name)
            if name == "cores" and v is None:
                continue
            object.__setattr__(self, name, check_int(name, v, low))  # numpy integers too
        if self.sampler not in SAMPLERS:
            raise BayesstackError(
                f"sampler: unknown sampler {self.sampler!r}; use one of {', '.join(SAMPLERS)}"
            )
        if self.init not in INITS:
            raise BayesstackError(
                f"init: unknown init {self.init!r}; use one of {', '.join(INITS)}"
            )
        if not 0 < self.target_accept < 1:
            raise BayesstackError(f"target_accept: must be in (0, 1), got {self.target_accept!r}")

    @property
    def n_cores(self) -> int:
        """Cores used: ``cores`` or all available, never more than chains."""
        return max(1, min(self.chains, self.cores or os.cpu_count() or 1))

    def to_dict(self) -> dict:
        """Plain dict of the settings."""
        return dict(self.__dict__)


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
    from bayesstack import __version__
    from bayesstack.data import Dataset

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
        from bayesstack.distributed import run_chains_dask

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


def model_of(run: xr.DataTree, **kw) -> pm.Model:
    """Rebuild a run's PyMC model from its spec and stored data."""
    missing = [g for g in ("constant_data", "observed_data") if g not in run.children]
    if missing:
        raise BayesstackError(
            f"run: no {' or '.join(map(repr, missing))} group; it was not written by "
            "bayesstack.fit, or the file is damaged"
        )
    cd, od = run["constant_data"], run["observed_data"]
    trials = cd["trials"].values if "trials" in cd else None
    names = json.loads(run.attrs.get("feature_names", "null"))
    return build_model(
        spec_of(run), cd["X"].values, od["y"].values, trials=trials, feature_names=names, **kw
    )
