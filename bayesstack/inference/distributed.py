"""Chains on a Dask cluster: groups of chains become tasks, their draws merge into one run.

A chain is defined by the run seed and its index
(:func:`bayesstack.inference.backends.chain_seeds`), so a
task running chains 8-15 produces the draws that chains 8-15 of a local run produce, and the
merged DataTree is indexed as if every chain had run locally. A task that fails, or whose worker
dies, is run again on another worker (Dask's ``retries`` and its rescheduling of lost tasks):
no chain is lost. Each worker process compiles the model once and reuses it for later tasks of
the same architecture.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from bayesstack.errors import BayesstackError
from bayesstack.inference.backends import ChainRun
from bayesstack.spec import Spec

if TYPE_CHECKING:
    import pymc as pm

log = logging.getLogger(__name__)

RETRIES = 2  # extra tries of a task that raised; lost workers are handled by the scheduler


def _distributed():
    try:
        import distributed
    except ImportError:
        raise BayesstackError(
            "dask: running chains on Dask needs the package 'distributed'; "
            "install it with: pip install 'bayesstack[dask]'"
        ) from None
    return distributed


def connect(scheduler: str, timeout: float = 10.0):
    """A ``dask.distributed.Client`` connected to the scheduler at ``scheduler``.

    Parameters
    ----------
    scheduler : str
        The scheduler's address, e.g. ``"tcp://10.0.0.5:8786"``.
    timeout : float
        Seconds to wait for the connection.
    """
    distributed = _distributed()
    try:
        # not the default client: a failed connection must not leave one behind for xarray
        return distributed.Client(scheduler, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as e:
        raise BayesstackError(
            f"dask_scheduler: cannot connect to {scheduler!r} ({type(e).__name__})"
        ) from None
    except ValueError as e:  # a malformed address, e.g. no port
        raise BayesstackError(f"dask_scheduler: {e}; give the address as tcp://HOST:PORT") from None


def chain_groups(chains: int, n_groups: int) -> list[range]:
    """``range(chains)`` split into at most ``n_groups`` contiguous groups of near-equal size."""
    size = math.ceil(chains / max(1, min(n_groups, chains)))
    return [range(a, min(a + size, chains)) for a in range(0, chains, size)]


def _payload(spec: Spec, model: pm.Model, settings) -> dict:
    """Everything a worker needs to rebuild the model and run chains (plain, picklable)."""
    data = {v.name: np.asarray(v.get_value()) for v in model.data_vars}
    return {
        "spec": spec.to_json(),
        "X": data["X"],
        "y": data["y_data"],
        "trials": data.get("trials"),
        "feature_names": [str(c) for c in model.coords["feature"]],
        "settings": settings.to_dict(),
    }


def _identity(x):
    return x


def run_task(payload: dict, chain_ids: Sequence[int], cores: int = 1):
    """One Dask task: rebuild the model and run the chains ``chain_ids`` of the run.

    Returns a :class:`~bayesstack.inference.backends.ChainRun`, as
    :func:`~bayesstack.inference.backends.run_chains` does.
    """
    from bayesstack.inference.backends import run_chains
    from bayesstack.inference.settings import FitSettings
    from bayesstack.model.builder import build_model

    spec = Spec.from_json(payload["spec"])
    model = build_model(
        spec,
        payload["X"],
        payload["y"],
        trials=payload["trials"],
        feature_names=payload["feature_names"],
    )
    settings = FitSettings(**payload["settings"])
    return run_chains(model, spec, settings, list(chain_ids), cores)


def run_chains_dask(
    spec: Spec,
    model: pm.Model,
    settings,
    *,
    client=None,
    scheduler: str | None = None,
    chains_per_task: int | None = None,
    retries: int = RETRIES,
) -> ChainRun:
    """Run every chain of a fit as Dask tasks and gather them in chain order.

    Parameters
    ----------
    spec, model, settings
        The fit's spec, built model and :class:`bayesstack.inference.sampling.FitSettings`.
    client : dask.distributed.Client, optional
        The client to submit to; else one is connected to ``scheduler`` and closed after.
    scheduler : str, optional
        A scheduler address, used when ``client`` is None.
    chains_per_task : int, optional
        Chains per task (default: the chains spread evenly over the cluster's threads).
    retries : int
        Extra tries of a task that raised.

    Returns
    -------
    ChainRun
        Every chain, in order; the longest compile time of a task; the wall time of the whole
        Dask run (compilation on the workers included); the tasks' CPU time while sampling.
    """
    _distributed()
    own = client is None
    if own:
        client = connect(scheduler)
    try:
        threads = sum(client.nthreads().values()) or 1
        n_groups = (
            threads if chains_per_task is None else math.ceil(settings.chains / chains_per_task)
        )
        groups = chain_groups(settings.chains, n_groups)
        run_id = uuid.uuid4().hex[:8]
        # the data as a task, not scattered: if the worker holding them dies, Dask recomputes
        payload = client.submit(
            _identity, _payload(spec, model, settings), key=f"bayesstack-data-{run_id}", pure=False
        )
        t0 = time.perf_counter()
        futures = [
            client.submit(
                run_task,
                payload,
                list(g),
                settings.cores or 1,
                key=f"bayesstack-chains-{g.start}-{g.stop - 1}-{run_id}",
                retries=retries,
                pure=False,
            )
            for g in groups
        ]
        log.info("dask: %d chains in %d tasks on %d threads", settings.chains, len(groups), threads)
        results = client.gather(futures)
        wall = time.perf_counter() - t0
    finally:
        if own:
            client.close()
    done = sorted((c for r in results for c in r.chains), key=lambda c: c.chain)
    if [c.chain for c in done] != list(range(settings.chains)):
        raise BayesstackError("dask: the tasks did not return every chain")  # pragma: no cover
    compile_time = max(r.compile_time for r in results)
    # with init="map" every task found the same optima (all chains'): keep the first task's
    optima, warm = results[0].optima, results[0].warm_seconds
    return ChainRun(done, compile_time, wall, sum(r.cpu_time for r in results), optima, warm)
