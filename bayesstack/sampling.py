"""Fit a stacked GLM by MCMC: backends, dispersed initial points, seeds and run metadata."""

from __future__ import annotations

import json
import logging
import os
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pymc as pm
import xarray as xr

from bayesstack.builder import build_model
from bayesstack.errors import BayesstackError
from bayesstack.spec import Spec

log = logging.getLogger(__name__)

Sampler = Literal["nutpie", "pymc", "numpyro", "blackjax"]
SAMPLERS: dict[str, str] = {  # sampler -> the package it needs
    "nutpie": "nutpie",
    "pymc": "pymc",
    "numpyro": "numpyro",
    "blackjax": "blackjax",
}
INITS = ("prior", "jitter")


@dataclass(frozen=True)
class FitSettings:
    """Sampler settings, stored with the run so that it can be regenerated."""

    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    seed: int = 0
    sampler: str = "nutpie"
    init: str = "prior"
    target_accept: float = 0.8
    cores: int | None = None

    def __post_init__(self) -> None:
        for name in ("draws", "tune", "chains"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < (0 if name == "tune" else 1):
                raise BayesstackError(f"{name}: must be a positive integer, got {v!r}")
        if self.sampler not in SAMPLERS:
            raise BayesstackError(
                f"sampler: unknown sampler {self.sampler!r}; use one of {', '.join(SAMPLERS)}"
            )
        if self.init not in INITS:
            raise BayesstackError(f"init: unknown init {self.init!r}; use one of {', '.join(INITS)}")
        if not 0 < self.target_accept < 1:
            raise BayesstackError(f"target_accept: must be in (0, 1), got {self.target_accept!r}")

    @property
    def n_cores(self) -> int:
        """Cores used: ``cores`` or all available, never more than chains."""
        return max(1, min(self.chains, self.cores or os.cpu_count() or 1))

    def to_dict(self) -> dict:
        """Plain dict of the settings."""
        return dict(self.__dict__)


def _require(sampler: str) -> None:
    import importlib.util

    pkg = SAMPLERS[sampler]
    if importlib.util.find_spec(pkg) is None:
        raise BayesstackError(
            f"sampler: {sampler!r} needs the package {pkg!r}; "
            f"install it with: pip install 'bayesstack[jax]'"
        )


def chain_initial_points(model: pm.Model, seed: int, chains: int) -> list[dict]:
    """Per-chain starting points drawn from the prior (constrained values, keyed by RV name).

    Chain ``c`` uses the ``c``-th child of ``SeedSequence(seed)``, so the starts are dispersed,
    reproducible and independent of how chains are grouped.
    """
    from pymc.initial_point import make_initial_point_fn

    fn = make_initial_point_fn(
        model=model, default_strategy="prior", jitter_rvs=set(), return_transformed=False
    )
    seeds = np.random.SeedSequence(seed).spawn(chains)
    return [fn(int(s.generate_state(1)[0])) for s in seeds]


# Compiled nutpie models, keyed by architecture and data layout: repeated fits of the same
# architecture (many seeds, the demo) swap the data in instead of compiling again.
_NUTPIE_CACHE: OrderedDict[tuple, object] = OrderedDict()
_NUTPIE_CACHE_SIZE = 16


def _nutpie_compiled(model: pm.Model, spec: Spec, init: str, backend: str = "numba"):
    import nutpie

    key = (
        spec.hash,
        init,
        backend,
        tuple(model.coords["feature"]),
        model["X"].get_value().shape[0] if backend == "jax" else None,
    )
    cm = _NUTPIE_CACHE.get(key)
    data = {k: model[k].get_value() for k in ("X", "y_data", "trials") if k in model.named_vars}
    if cm is None:
        kw = {"default_initialization_strategy": "prior", "jitter_rvs": set()}
        if init == "jitter":
            kw = {}
        cm = nutpie.compile_pymc_model(model, backend=backend, **kw)
        _NUTPIE_CACHE[key] = cm
        if len(_NUTPIE_CACHE) > _NUTPIE_CACHE_SIZE:
            _NUTPIE_CACHE.popitem(last=False)
        return cm
    _NUTPIE_CACHE.move_to_end(key)
    return cm.with_data(**data) if backend == "numba" else cm


def _sample_nutpie(model: pm.Model, spec: Spec, s: FitSettings, progressbar: bool):
    import nutpie
    from pymc.backends.arviz import patch_nutpie_idata

    cm = _nutpie_compiled(model, spec, s.init)
    t0 = time.time()
    idata = nutpie.sample(
        cm,
        draws=s.draws,
        tune=max(s.tune, 1),
        chains=s.chains,
        cores=s.n_cores,
        seed=s.seed,
        save_warmup=False,
        progress_bar=progressbar,
        target_accept=s.target_accept,
    )
    patch_nutpie_idata(idata, model, sampling_time=time.time() - t0)
    return idata


def _sample_pm(model: pm.Model, s: FitSettings, progressbar: bool):
    initvals = chain_initial_points(model, s.seed, s.chains) if s.init == "prior" else None
    kw: dict = {}
    if s.sampler == "pymc":
        kw = {"init": "adapt_diag" if initvals else "jitter+adapt_diag", "cores": s.n_cores}
        if s.n_cores > 1:
            kw["mp_ctx"] = "forkserver"
    else:
        _require(s.sampler)
        if s.sampler == "numpyro":
            kw["nuts"] = {"chain_method": "parallel" if _jax_devices() >= s.chains else "vectorized"}
        if initvals:
            kw.setdefault("nuts", {})["jitter"] = False
    return pm.sample(
        draws=s.draws,
        tune=s.tune,
        chains=s.chains,
        random_seed=s.seed,
        model=model,
        nuts_sampler=s.sampler,
        initvals=initvals,
        target_accept=s.target_accept,
        progressbar=progressbar,
        quiet=True,
        **kw,
    )


def _jax_devices() -> int:
    import jax

    return jax.local_device_count()


def fit(
    spec: Spec,
    X,
    y=None,
    *,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int = 0,
    sampler: Sampler = "nutpie",
    init: Literal["prior", "jitter"] = "prior",
    target_accept: float = 0.8,
    cores: int | None = None,
    trials=None,
    feature_names=None,
    target: str | None = None,
    dataset: str | None = None,
    progressbar: bool = False,
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
    sampler : {"nutpie", "pymc", "numpyro", "blackjax"}
        NUTS implementation; the JAX ones need the ``jax`` extra.
    init : {"prior", "jitter"}
        ``"prior"``: every chain starts at its own draw from the prior (dispersed);
        ``"jitter"``: PyMC's default jittered start.
    target_accept : float
        NUTS target acceptance rate.
    cores : int, optional
        Parallel chains (default: all cores).
    trials, feature_names, target, dataset
        Binomial trials, feature names, the target's name and the dataset's name (stored).
    progressbar : bool
        Show the sampler's progress bar.

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
    _require(sampler)
    model = build_model(spec, X, y, trials=trials, feature_names=feature_names)
    log.info("fitting %s with %s: %d chains", spec.name, sampler, chains)
    if sampler == "nutpie":
        idata = _sample_nutpie(model, spec, settings, progressbar)
    else:
        idata = _sample_pm(model, settings, progressbar)
    pm.compute_log_likelihood(idata, model=model, progressbar=False)
    idata.attrs.update(
        {
            "bayesstack_spec": spec.to_json(),
            "bayesstack_version": __version__,
            "feature_names": json.dumps([str(c) for c in model.coords["feature"]]),
            "target": target or "y",
            "dataset": dataset or "",
            "fit_settings": json.dumps(settings.to_dict()),
        }
    )
    return idata


def spec_of(run: xr.DataTree) -> Spec:
    """The spec stored in a run's attributes."""
    try:
        return Spec.from_json(run.attrs["bayesstack_spec"])
    except KeyError:
        raise BayesstackError(
            "run: no 'bayesstack_spec' attribute; it was not written by bayesstack.fit"
        ) from None


def model_of(run: xr.DataTree, **kw) -> pm.Model:
    """Rebuild a run's PyMC model from its spec and stored data."""
    cd, od = run["constant_data"], run["observed_data"]
    trials = cd["trials"].values if "trials" in cd else None
    names = json.loads(run.attrs.get("feature_names", "null"))
    return build_model(spec_of(run), cd["X"].values, od["y"].values, trials=trials,
                       feature_names=names, **kw)
