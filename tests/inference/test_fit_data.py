"""fit on data frames: formulas against the matching design matrix, the binomial trials column
from the spec, the CLI and Python, the CLI's --formula/--dropna, --version and progress."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from cli_runner import run_cli

import bayesstack as bs
from bayesstack.spec import Spec

KW = {"chains": 2, "draws": 100, "tune": 100, "seed": 4}


@pytest.fixture
def regions():
    rng = np.random.default_rng(8)
    n = 90
    df = pd.DataFrame({"x1": rng.normal(size=n), "region": rng.choice(["n", "s", "e"], n)})
    df["y"] = df.x1 + (df.region == "n") - (df.region == "s") + 0.5 * rng.normal(size=n)
    return df


def test_formula_fit_equals_fit_on_the_matching_design_matrix(regions):
    spec = bs.load_spec("glm-gaussian")
    a = bs.fit(spec, data=regions, formula="y ~ x1 + C(region)", standardize=False, **KW)
    X = np.column_stack([regions.x1, regions.region == "n", regions.region == "s"]).astype(float)
    names = ["x1", "C(region)[T.n]", "C(region)[T.s]"]
    b = bs.fit(spec, X, regions.y.to_numpy(), feature_names=names, **KW)
    xr.testing.assert_equal(a.posterior.to_dataset(), b.posterior.to_dataset())
    # standardised by default, and the coding is kept for prediction
    c = bs.fit(spec, data=regions, formula="y ~ x1 + C(region)", **KW)
    prep = bs.preprocessing_of(c)
    assert prep.standardized and prep.formula["factors"]["C(region)"]["levels"] == ["e", "n", "s"]
    new = pd.DataFrame({"region": ["s", "n"], "x1": [0.0, 0.0]})
    mean = bs.predict_summary(bs.predict(c, new))["mean"].to_numpy()
    assert mean[1] - mean[0] > 1.0  # n is about 2 above s


def _binomial_frame(rng, n=80):
    trials = rng.integers(5, 30, n)
    x = rng.normal(size=n)
    k = rng.binomial(trials, 1 / (1 + np.exp(-(0.8 * x - 0.2))))
    return pd.DataFrame({"x": x, "n": trials, "k": k})


def _trials_spec(tmp_path):
    path = tmp_path / "binom.toml"
    path.write_text('name = "binom"\nfamily = "binomial"\ntrials = "n"\n')
    return path


def test_binomial_trials_column_from_the_spec_in_python(tmp_path, rng):
    df = _binomial_frame(rng)
    spec = bs.load_spec(_trials_spec(tmp_path))
    run = bs.fit(spec, data=df, target="k", **KW)
    assert list(run.constant_data["feature"].values) == ["x"]  # n is the trials, not a feature
    np.testing.assert_array_equal(run.constant_data["trials"].values, df["n"])
    assert bs.preprocessing_of(run).trials_column == "n"
    model = bs.build_model(spec, df[["x", "n"]], df["k"])  # a DataFrame holding the column
    assert list(model.coords["feature"]) == ["x"]
    new = pd.DataFrame({"x": [0.0, 0.0], "n": [10, 100]})
    mu = bs.predict_summary(bs.predict(run, new))["mean"].to_numpy()
    np.testing.assert_allclose(mu[1] / mu[0], 10.0, rtol=1e-9)  # E[k] = n p: scales with n
    with pytest.raises(bs.BayesstackError, match="lacks the trials column 'n'"):
        bs.predict(run, new[["x"]])


def test_binomial_trials_column_from_the_spec_in_the_cli(tmp_path, rng, monkeypatch, capsys):
    df = _binomial_frame(rng)
    df.to_csv(tmp_path / "d.csv", index=False)
    out = tmp_path / "run.nc"
    code, _, err = run_cli(
        [
            "fit",
            str(_trials_spec(tmp_path)),
            "--data",
            str(tmp_path / "d.csv"),
            "--target",
            "k",
            "--out",
            str(out),
            "--chains",
            "1",
            "--draws",
            "50",
            "--tune",
            "50",
        ],
        monkeypatch,
        capsys,
    )
    assert code in (None, 0), err
    run = bs.load(out)
    np.testing.assert_array_equal(run.constant_data["trials"].values, df["n"])
    df.assign(n=20).to_csv(tmp_path / "new.csv", index=False)
    code, _, err = run_cli(
        [
            "predict",
            str(out),
            "--data",
            str(tmp_path / "new.csv"),
            "--out",
            str(tmp_path / "p.csv"),
            "--kind",
            "response",
            "--seed",
            "1",
        ],
        monkeypatch,
        capsys,
    )
    assert code in (None, 0), err
    p = pd.read_csv(tmp_path / "p.csv")
    assert (p["upper"] <= 20).all() and (p["lower"] >= 0).all()


def test_cli_formula_dropna_and_nan_report(tmp_path, regions, monkeypatch, capsys):
    regions.loc[[4, 9, 30], "x1"] = np.nan
    regions.to_csv(tmp_path / "d.csv", index=False)
    spec = "glm-gaussian"
    base = [
        "fit",
        spec,
        "--data",
        str(tmp_path / "d.csv"),
        "--formula",
        "y ~ x1 + C(region)",
        "--out",
        str(tmp_path / "r.nc"),
        "--chains",
        "1",
        "--draws",
        "20",
        "--tune",
        "20",
    ]
    code, _, err = run_cli(base, monkeypatch, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "3 row(s) have missing values (rows 4, 9, 30" in err and "'x1'" in err
    assert "--dropna" in err and not (tmp_path / "r.nc").exists()
    code, _, err = run_cli([*base, "--dropna"], monkeypatch, capsys)
    assert code in (None, 0) and "3 rows with missing values dropped" in err
    run = bs.load(tmp_path / "r.nc")
    assert run.constant_data.sizes["obs"] == 87 and bs.preprocessing_of(run).n_dropped == 3


def test_version_and_progress(capsys):
    out = subprocess.run(
        [sys.executable, "-m", "bayesstack.cli", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.strip() == f"bayesstack {bs.__version__}"
    from bayesstack.data.builtin import load_dataset

    spec = Spec.from_dict({"name": "glm-progress", "family": "gaussian"})
    bs.fit(spec, load_dataset("teacher-gaussian"), chains=2, draws=20, tune=20, progressbar=True)
    err = capsys.readouterr().err
    assert "chain 0: done in" in err and "chain 1: done in" in err
    bs.fit(spec, load_dataset("teacher-gaussian"), chains=2, draws=20, tune=20)
    assert capsys.readouterr().err == ""  # not a terminal: quiet
