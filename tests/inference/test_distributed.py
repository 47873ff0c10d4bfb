"""Chains on a Dask cluster: the same draws as a local run, and no chain lost to a dead worker."""

import os
import signal
import sys
import threading
import time

import numpy as np
import pytest

import bayesstack as bs
from bayesstack.data.builtin import load_dataset
from bayesstack.inference.distributed import chain_groups

distributed = pytest.importorskip("distributed")
pytest.importorskip("numpyro")

KW = {"chains": 4, "tune": 60, "draws": 40, "seed": 5}


@pytest.fixture(scope="module")
def spec():
    return bs.load_spec("models/stack1-tanh.toml")


@pytest.fixture(scope="module")
def data():
    return load_dataset("teacher-gaussian")


@pytest.fixture(scope="module")
def local(spec, data):
    return bs.fit(spec, data, **KW)


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cl:
        yield cl


def _same_draws(a, b):
    for group in ("posterior", "log_likelihood"):
        for k in a[group].data_vars:
            np.testing.assert_array_equal(a[group][k].values, b[group][k].values)
    np.testing.assert_array_equal(a.posterior["chain"].values, np.arange(KW["chains"]))


def test_groups():
    assert chain_groups(10, 3) == [range(0, 4), range(4, 8), range(8, 10)]
    assert chain_groups(2, 8) == [range(0, 1), range(1, 2)]


def test_same_draws_as_local(cluster, local, spec, data):
    """Same seed: the Dask run's DataTree has the local run's draws, chain for chain."""
    with distributed.Client(cluster) as client:
        remote = bs.fit(spec, data, client=client, **KW)
    _same_draws(local, remote)
    assert set(remote.children) == set(local.children)
    assert remote.attrs["fit_settings"] == local.attrs["fit_settings"]


def test_scheduler_address(cluster, local, spec, data):
    remote = bs.fit(spec, data, dask_scheduler=cluster.scheduler_address, chains_per_task=1, **KW)
    _same_draws(local, remote)


def test_killed_worker_loses_no_chain(cluster, local, spec, data):
    """SIGKILL a worker while it runs a task: Dask reruns the task, every chain comes back."""
    with distributed.Client(cluster) as client:
        out, errors = {}, []

        def run():
            try:
                out["run"] = bs.fit(spec, data, client=client, chains_per_task=1, **KW)
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        t = threading.Thread(target=run)
        t.start()
        victim = None
        deadline = time.monotonic() + 60
        while victim is None and time.monotonic() < deadline:
            busy = [
                w
                for w, tasks in client.processing().items()
                if any(str(k).startswith("bayesstack-chains") for k in tasks)
            ]
            if busy:
                victim = busy[0]
            time.sleep(0.05)
        assert victim is not None, "no task started"
        pid = client.run(os.getpid, workers=[victim])[victim]
        os.kill(pid, signal.SIGKILL)
        t.join(timeout=300)
        assert not errors, errors
    _same_draws(local, out["run"])


def test_bad_scheduler_is_one_line():
    from bayesstack.inference.distributed import connect

    with pytest.raises(bs.BayesstackError, match="cannot connect") as e:
        connect("tcp://127.0.0.1:9", timeout=1)
    assert "\n" not in str(e.value)


def test_missing_dask_names_the_extra(spec, data, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(bs.BayesstackError, match=r"bayesstack\[dask\]"):
        bs.fit(spec, data, dask_scheduler="tcp://127.0.0.1:9", **KW)
