"""Fitting: the DataTree layout, attributes, reproducibility and save/load."""

import json

import numpy as np
import pytest
import xarray as xr

import bayesstack as bs
from bayesstack.data.builtin import load_dataset
from bayesstack.inference import backends

GROUPS = {"posterior", "sample_stats", "log_likelihood", "observed_data", "constant_data"}


@pytest.fixture(scope="module")
def tanh_run():
    spec = bs.load_spec("models/stack1-tanh.toml")
    return bs.fit(spec, load_dataset("teacher-gaussian"), chains=2, draws=100, tune=100, seed=11)


def test_layout_and_attrs(tanh_run):
    run = tanh_run
    assert GROUPS <= set(run.children)
    post = run.posterior
    assert post["W1"].dims == ("chain", "draw", "feature", "hidden1")
    assert post["W2"].dims == ("chain", "draw", "hidden1")
    assert run.log_likelihood["y"].dims == ("chain", "draw", "obs")
    assert bs.Spec.from_json(run.attrs["bayesstack_spec"]) == bs.load_spec(
        "models/stack1-tanh.toml"
    )
    assert json.loads(run.attrs["feature_names"]) == list(post["feature"].values)
    assert run.attrs["bayesstack_version"] == bs.__version__
    assert run.attrs["dataset"] == "teacher-gaussian"
    assert json.loads(run.attrs["fit_settings"])["seed"] == 11


def test_same_seed_same_draws(tanh_run):
    """Same seed, same machine, the model compiled again from scratch: identical draws."""
    backends.clear_caches()  # every compiled program (numpyro's and nutpie's) is gone
    spec = bs.load_spec("models/stack1-tanh.toml")
    again = bs.fit(spec, load_dataset("teacher-gaussian"), chains=2, draws=100, tune=100, seed=11)
    assert again.posterior.attrs["compile_time"] > 0  # it did compile, not reuse
    xr.testing.assert_equal(again.posterior.to_dataset(), tanh_run.posterior.to_dataset())
    other = bs.fit(spec, load_dataset("teacher-gaussian"), chains=2, draws=100, tune=100, seed=12)
    assert not np.array_equal(other.posterior["W1"].values, tanh_run.posterior["W1"].values)


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_save_load_identical(tanh_run, tmp_path, suffix):
    path = bs.save(tanh_run, tmp_path / f"run{suffix}")
    back = bs.load(path)
    assert set(back.children) == set(tanh_run.children)
    for g in tanh_run.children:
        xr.testing.assert_identical(back[g].to_dataset(), tanh_run[g].to_dataset())
    assert back.attrs == tanh_run.attrs
    assert [p.name for p in tmp_path.iterdir()] == [f"run{suffix}"]  # no temp files left


def test_save_into_missing_folder(tanh_run, tmp_path):
    with pytest.raises(bs.BayesstackError, match="does not exist") as e:
        bs.save(tanh_run, tmp_path / "no" / "run.nc")
    assert "\n" not in str(e.value)


def test_load_garbage(tmp_path):
    p = tmp_path / "bad.nc"
    p.write_text("not a netcdf file")
    with pytest.raises(bs.BayesstackError, match="cannot be read"):
        bs.load(p)


def test_model_of_rebuilds_the_model(tanh_run):
    m = bs.model_from_run(tanh_run)
    assert m["X"].get_value().shape == (200, 2)


@pytest.mark.parametrize("sampler", ["pymc", "numpyro", "nutpie", "adjusted_mclmc", "mclmc"])
def test_other_samplers_same_layout(sampler):
    spec = bs.load_spec("models/glm-gaussian.toml")
    run = bs.fit(
        spec,
        load_dataset("teacher-gaussian"),
        chains=2,
        draws=100,
        tune=100,
        seed=1,
        sampler=sampler,
        cores=1,
    )
    assert GROUPS <= set(run.children)
    assert run.posterior["W1"].shape == (2, 100, 2)
    stats = set(run.sample_stats.data_vars)
    assert "diverging" in stats and stats & {"lp", "logp"}  # nutpie's name is logp


def test_blackjax_nuts_route_is_gone():
    """``pm.sample(nuts_sampler="blackjax")`` breaks with blackjax >= 1.6: not offered."""
    spec = bs.load_spec("models/glm-gaussian.toml")
    with pytest.raises(bs.BayesstackError, match=r"unknown sampler 'blackjax'.*mclmc"):
        bs.fit(spec, load_dataset("teacher-gaussian"), sampler="blackjax")


def test_bad_settings():
    spec = bs.load_spec("models/glm-gaussian.toml")
    ds = load_dataset("teacher-gaussian")
    with pytest.raises(bs.BayesstackError, match="sampler"):
        bs.fit(spec, ds, sampler="hmc")
    with pytest.raises(bs.BayesstackError, match="chains"):
        bs.fit(spec, ds, chains=0)
    for kw, words in (
        ({"seed": -1}, "seed: must be an integer >= 0, got -1"),
        ({"cores": 0}, "cores: must be an integer >= 1, got 0"),
        ({"draws": 2.5}, "draws: must be an integer >= 1, got 2.5"),
        ({"dask_scheduler": "nonsense"}, "dask_scheduler: .*tcp://HOST:PORT"),
    ):
        with pytest.raises(bs.BayesstackError, match=words) as e:
            bs.fit(spec, ds, **kw)
        assert "\n" not in str(e.value)


def test_numpy_integer_settings_are_plain_ints():
    """Seeds and counts from numpy (``rng.integers``) are accepted and stored as ints."""
    from bayesstack.inference.settings import FitSettings

    s = FitSettings(draws=np.int64(10), tune=np.int32(0), chains=np.int64(2), seed=np.uint32(7))
    assert (s.draws, s.tune, s.chains, s.seed) == (10, 0, 2, 7)
    assert all(type(v) is int for v in (s.draws, s.tune, s.chains, s.seed))
    assert json.loads(json.dumps(s.to_dict()))["tune"] == 0  # the run's attrs hold it as JSON
