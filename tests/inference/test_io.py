"""Output paths and damaged inputs: one line, exit code 2, before any work, nothing overwritten."""

import json
import os

import numpy as np
import pytest
import xarray as xr

import bayesstack as bs
from bayesstack.cli import main
from bayesstack.errors import BayesstackError
from bayesstack.inference.io import check_run_path
from bayesstack.model.network import forward
from bayesstack.spec import Layer, Spec
from bayesstack.testing import run_from_draws

TANH2 = Spec(name="tanh2", family="gaussian", layers=(Layer(2, "tanh"),))
W = {"W1": np.array([[1.0, -1.0]]), "b1": np.array([0.2, -0.3]), "W2": np.array([1.5, -0.5])}


def synthetic_run(seed=0):
    """A small run (2 chains x 20 draws) made without MCMC."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(15, 1))
    w = {**W, "b2": np.array(0.1)}
    y = forward(TANH2, w, X) + 0.3 * rng.normal(size=15)
    draws = {k: v + 0.05 * rng.normal(size=(2, 20, *np.shape(v))) for k, v in w.items()}
    draws["sigma"] = 0.3 * np.exp(0.05 * rng.normal(size=(2, 20)))
    return run_from_draws(TANH2, X, y, draws, logp=rng.normal(size=(2, 20)))


def cli(args, monkeypatch, capsys):
    code = main([str(a) for a in args])
    cap = capsys.readouterr()
    assert code == 2, cap.err
    assert cap.err.startswith("error: ") and cap.err.count("\n") == 1, cap.err
    return cap.err


@pytest.mark.parametrize(
    ("name", "words"),
    [("r.txt", "suffix '.txt'"), ("run", "no suffix"), ("d.csv", "name the run file .nc")],
)
def test_run_files_are_nc_or_zarr(tmp_path, name, words):
    with pytest.raises(BayesstackError, match=words):
        check_run_path(tmp_path / name, "--out")


def test_a_folder_or_someone_elses_zarr_is_never_replaced(tmp_path):
    (tmp_path / "dir.nc").mkdir()
    with pytest.raises(BayesstackError, match="is a folder"):
        check_run_path(tmp_path / "dir.nc")
    (tmp_path / "f.zarr").write_text("mine")
    store = tmp_path / "data.zarr"
    store.mkdir()
    (store / "keep").write_text("mine")
    for path in (tmp_path / "f.zarr", store):
        with pytest.raises(BayesstackError, match="not a bayesstack run"):
            bs.save(synthetic_run(), path)
    assert (store / "keep").read_text() == "mine"
    assert (tmp_path / "f.zarr").read_text() == "mine"


def test_a_saved_zarr_run_can_be_replaced(tmp_path):
    pytest.importorskip("zarr")
    path = tmp_path / "run.zarr"
    bs.save(synthetic_run(0), path)
    bs.save(synthetic_run(1), path)
    np.testing.assert_array_equal(
        bs.load(path)["observed_data"]["y"].values,
        synthetic_run(1)["observed_data"]["y"].values,
    )


def test_run_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = bs.save(synthetic_run(), tmp_path / "run.nc")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_fit_rejects_bad_outputs_before_fitting(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dir.nc").mkdir()
    victim = tmp_path / "victim.csv"
    victim.write_text("x,y\n1,2\n")
    fit = ["fit", "stack1-tanh", "--dataset", "teacher-gaussian", "--out"]
    assert "is a folder" in cli([*fit, "dir.nc"], monkeypatch, capsys)
    assert "suffix '.csv'" in cli([*fit, "victim.csv"], monkeypatch, capsys)
    assert victim.read_text() == "x,y\n1,2\n"
    err = cli([*fit, "r.nc", "--trials", "3"], monkeypatch, capsys)
    assert "--trials: only with --data" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.nc", "victim.csv"]


def test_geometry_compare_summary_demo_bad_options(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    run = bs.save(synthetic_run(0), tmp_path / "a.nc")
    other = bs.save(synthetic_run(1), tmp_path / "b.nc")
    (tmp_path / "jdir").mkdir()
    (tmp_path / "rep.html").mkdir()
    (tmp_path / "afile").write_text("")
    assert "is a folder" in cli(["geometry", run, "--json", "jdir"], monkeypatch, capsys)
    assert "suffix" in cli(["geometry", run, "--save-canonical", "c.txt"], monkeypatch, capsys)
    assert "seed: must be an integer >= 0" in cli(
        ["geometry", run, "--seed", "-1"], monkeypatch, capsys
    )
    assert "is a folder" in cli(["compare", run, run, "--out", "rep.html"], monkeypatch, capsys)
    assert not (tmp_path / "rep.md").exists() and not (tmp_path / "rep_files").exists()
    err = cli(["compare", run, other, "--out", "r.html"], monkeypatch, capsys)
    assert "different observations" in err
    assert "seed" in cli(["compare", run, run, "--seed", "-1"], monkeypatch, capsys)
    assert "is a file; give a folder" in cli(["demo", "--out", "afile"], monkeypatch, capsys)
    assert "rhat_max" in cli(["summary", run, "--rhat-max", "nan"], monkeypatch, capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a.nc",
        "afile",
        "b.nc",
        "jdir",
        "rep.html",
    ]


def test_files_that_are_not_runs(tmp_path, monkeypatch, capsys):
    xr.Dataset({"v": ("x", np.arange(3.0))}).to_netcdf(tmp_path / "other.nc")
    err = cli(["summary", tmp_path / "other.nc"], monkeypatch, capsys)
    assert "not written by bayesstack.fit" in err
    run = synthetic_run()
    run.attrs["bayesstack_spec"] = "{"
    bs.save(run, tmp_path / "badspec.nc")
    assert "not a valid spec" in cli(["summary", tmp_path / "badspec.nc"], monkeypatch, capsys)
    run = synthetic_run()
    spec = json.loads(run.attrs["bayesstack_spec"])
    spec["layers"][0]["units"] = 5
    run.attrs["bayesstack_spec"] = json.dumps(spec)
    bs.save(run, tmp_path / "units.nc")
    err = cli(["geometry", tmp_path / "units.nc"], monkeypatch, capsys)
    assert "2 units in hidden1 where its spec has 5" in err
    run = synthetic_run()
    del run["observed_data"]
    bs.save(run, tmp_path / "noobs.nc")
    assert "'observed_data'" in cli(["geometry", tmp_path / "noobs.nc"], monkeypatch, capsys)


def test_out_of_memory_is_one_line(monkeypatch, capsys, tmp_path):
    def huge(*a, **k):
        raise MemoryError("Unable to allocate 745. GiB for an array")

    monkeypatch.setattr(bs, "load_spec", huge)
    err = cli(["fit", "stack1-tanh", "--dataset", "teacher-gaussian", "--out", tmp_path / "r.nc"],
              monkeypatch, capsys)  # fmt: skip
    assert "not enough memory (Unable to allocate 745. GiB" in err


@pytest.mark.parametrize("kind", ["netcdf", "text", "csv", "empty"])
def test_a_nc_file_that_is_not_a_run_is_never_replaced(tmp_path, kind):
    path = tmp_path / "notes.nc"
    if kind == "netcdf":  # a user's own NetCDF data, written by xarray
        xr.Dataset({"t": ("x", np.arange(3.0))}).to_netcdf(path, engine="h5netcdf")
    else:
        path.write_bytes({"text": b"my notes\n", "csv": b"a,b\n1,2\n", "empty": b""}[kind])
    before = path.read_bytes()
    with pytest.raises(BayesstackError, match="exists and is not a bayesstack run"):
        bs.save(synthetic_run(), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.nc"]  # no temporary left


def test_fit_refuses_a_nc_that_is_not_a_run_before_any_work(tmp_path, monkeypatch, capsys):
    path = tmp_path / "data.nc"
    path.write_text("x,y\n1,2\n")
    monkeypatch.setattr(bs, "fit", lambda *a, **k: pytest.fail("fitted before checking --out"))
    msg = cli(["fit", "glm-gaussian", "--dataset", "teacher-gaussian", "--out", path],
              monkeypatch, capsys)  # fmt: skip
    assert "is not a bayesstack run" in msg
    assert path.read_text() == "x,y\n1,2\n"


def test_a_saved_nc_run_can_be_replaced(tmp_path):
    path = tmp_path / "run.nc"
    bs.save(synthetic_run(0), path)
    bs.save(synthetic_run(1), path)
    np.testing.assert_array_equal(
        bs.load(path)["observed_data"]["y"].values,
        synthetic_run(1)["observed_data"]["y"].values,
    )


def test_names_too_long_are_refused_before_any_work(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(bs, "fit", lambda *a, **k: pytest.fail("fitted before checking --out"))
    long = "n" * 300
    fit = ["fit", "glm-gaussian", "--dataset", "teacher-gaussian", "--out", f"{long}.nc"]
    assert "bytes long; this file system takes at most" in cli(fit, monkeypatch, capsys)
    run = bs.save(synthetic_run(0), tmp_path / "a.nc")
    for args in (
        ["geometry", run, "--json", f"{long}.json"],
        ["compare", run, "--out", f"{long}.html"],
    ):
        err = cli(args, monkeypatch, capsys)
        assert "choose a shorter name" in err and len(err) < 300
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.nc"]


def test_outputs_bayesstack_did_not_write_are_never_replaced(tmp_path, monkeypatch, capsys):
    import bayesstack.geometry

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(bayesstack.geometry, "analyze", lambda *a, **k: pytest.fail("analysed"))
    run = bs.save(synthetic_run(0), tmp_path / "a.nc")
    (tmp_path / "notes.json").write_text('{"mine": 1}')
    (tmp_path / "page.html").write_text("<p>my page</p>")
    (tmp_path / "page2.md").write_text("my notes")
    err = cli(["geometry", run, "--json", "notes.json"], monkeypatch, capsys)
    assert "'notes.json' exists and was not written by bayesstack" in err
    for out in ("page.html", "page2.html"):  # the report or the Markdown beside it
        err = cli(["compare", run, run, "--out", out], monkeypatch, capsys)
        assert "exists and was not written by bayesstack" in err
    assert (tmp_path / "notes.json").read_text() == '{"mine": 1}'
    assert (tmp_path / "page.html").read_text() == "<p>my page</p>"
    assert (tmp_path / "page2.md").read_text() == "my notes"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a.nc",
        "notes.json",
        "page.html",
        "page2.md",
    ]
