"""NUTS backends: nutpie (compiled once per architecture), PyMC's NUTS, numpyro and blackjax.

Every backend takes a built PyMC model and returns a DataTree with ``posterior``,
``sample_stats``, ``observed_data`` and ``constant_data``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import time
from collections import OrderedDict

import numpy as np
import pymc as pm

from bayesstack.errors import BayesstackError
from bayesstack.spec import Spec

SAMPLERS: dict[str, str] = {  # sampler -> the package it needs
    "nutpie": "nutpie",
    "pymc": "pymc",
    "numpyro": "numpyro",
    "blackjax": "blackjax",
}


def require(sampler: str) -> None:
    """Raise a one-line error naming the extra to install when ``sampler`` is missing."""
    pkg = SAMPLERS[sampler]
    if importlib.util.find_spec(pkg) is None:
        raise BayesstackError(
            f"sampler: {sampler!r} needs the package {pkg!r}; "
            f"install it with: pip install 'bayesstack[jax]'"
        )


INIT_RADIUS = 2.0  # "uniform" starts: U(-2, 2) on the unconstrained scale, as Stan does


def uniform_start(n_dim: int):
    """A seeded function drawing a flat unconstrained start from U(-2, 2)^n_dim."""

    def start(seed) -> np.ndarray:
        return np.random.default_rng(seed).uniform(-INIT_RADIUS, INIT_RADIUS, n_dim)

    return start


def chain_initial_points(model: pm.Model, seed: int, chains: int, init: str) -> list[dict] | None:
    """Per-chain starting points (constrained values keyed by RV name) for ``pm.sample``.

    Chain ``c`` uses the ``c``-th child of ``SeedSequence(seed)``: the starts are dispersed,
    reproducible and independent of how chains are grouped. ``init="jitter"`` returns None
    (PyMC's own jittered start).
    """
    from pymc.initial_point import make_initial_point_fn

    if init == "jitter":
        return None
    seeds = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(chains)]
    if init == "prior":
        fn = make_initial_point_fn(
            model=model, default_strategy="prior", jitter_rvs=set(), return_transformed=False
        )
        return [fn(s) for s in seeds]
    points = []
    for s in seeds:
        rng = np.random.default_rng(s)
        point = {}
        for rv in model.free_RVs:
            value = model.rvs_to_values[rv]
            u = rng.uniform(-INIT_RADIUS, INIT_RADIUS, model.initial_point()[value.name].shape)
            tr = model.rvs_to_transforms.get(rv)
            point[rv.name] = u if tr is None else tr.backward(u, *rv.owner.inputs).eval()
        points.append(point)
    return points


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
        if init == "uniform":
            cm = dataclasses.replace(cm, initial_point_func=uniform_start(cm.n_dim))
        _NUTPIE_CACHE[key] = cm
        if len(_NUTPIE_CACHE) > _NUTPIE_CACHE_SIZE:
            _NUTPIE_CACHE.popitem(last=False)
        return cm
    _NUTPIE_CACHE.move_to_end(key)
    return cm.with_data(**data) if backend == "numba" else cm


def sample_nutpie(model: pm.Model, spec: Spec, s, progressbar: bool):
    """Sample with nutpie, reusing the compiled model of the same architecture."""
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


def sample_pm(model: pm.Model, s, progressbar: bool):
    """Sample through ``pm.sample`` (PyMC's NUTS, numpyro, blackjax) with per-chain starts."""
    initvals = chain_initial_points(model, s.seed, s.chains, s.init)
    kw: dict = {}
    if s.sampler == "pymc":
        kw = {"init": "adapt_diag" if initvals else "jitter+adapt_diag", "cores": s.n_cores}
        if s.n_cores > 1:
            kw["mp_ctx"] = "forkserver"
    else:
        require(s.sampler)
        if s.sampler == "numpyro":
            kw["nuts"] = {
                "chain_method": "parallel" if _jax_devices() >= s.chains else "vectorized"
            }
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
