"""Predictions against known answers: statsmodels OLS and GLM on a held-out split, refits on raw
data with matched priors, every family, chain weights, the CLI and bad new data."""

import arviz as az
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import xarray as xr
from cli_runner import run_cli

import bayesstack as bs
from bayesstack.spec import Spec

WIDE = {"weights": {"dist": "normal", "sigma": 100.0}, "bias": {"dist": "normal", "sigma": 100.0}}
FIT = {"chains": 4, "draws": 1000, "tune": 500, "seed": 3}
INTERVAL = 0.9


def _split(family, seed=11, n=160, m=40):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n + m, 3)) * [1.0, 4.0, 0.5] + [0.0, 10.0, -2.0]
    eta = 0.4 + X @ np.array([0.5, -0.1, 0.6]) + 0.4
    if family == "gaussian":
        y = eta + 0.8 * rng.normal(size=n + m)
    else:
        y = rng.poisson(np.exp(0.3 * (eta - eta.mean()) + 1.0)).astype(float)
    df = pd.DataFrame(X, columns=["a", "b", "c"]).assign(y=y)
    return df.iloc[:n].reset_index(drop=True), df.iloc[n:].reset_index(drop=True)


def _spec(family):
    priors = dict(WIDE, noise={"dist": "halfnormal", "sigma": 10.0})
    return Spec.from_dict({"name": f"wide-{family}", "family": family, "priors": priors})


def _reference(family, train, test):
    Xtr = sm.add_constant(train[["a", "b", "c"]])
    Xte = sm.add_constant(test[["a", "b", "c"]], has_constant="add")
    if family == "gaussian":
        res = sm.OLS(train["y"], Xtr).fit()
    else:
        res = sm.GLM(train["y"], Xtr, family=sm.families.Poisson()).fit()
    frame = res.get_prediction(Xte).summary_frame(alpha=1 - INTERVAL)
    return frame["mean"].to_numpy(), (frame["mean_ci_upper"] - frame["mean_ci_lower"]).to_numpy()


def _check_against(summary, pred, ref_mean, ref_width):
    mu = pred["predictions"]["mu"]
    mcse = np.array([float(az.mcse(mu.values[..., j])) for j in range(mu.sizes["obs"])])
    err = np.abs(summary["mean"].to_numpy() - ref_mean)
    assert (err < 4 * mcse + 0.05 * summary["sd"].to_numpy()).all(), err.max()
    width = (summary["upper"] - summary["lower"]).to_numpy()
    np.testing.assert_allclose(width, ref_width, rtol=0.10)
    return float(np.max(err / summary["sd"].to_numpy())), float(
        np.max(np.abs(width / ref_width - 1))
    )


@pytest.mark.parametrize("family", ["gaussian", "poisson"])
@pytest.mark.parametrize("standardize", [True, False])
def test_glm_predictions_match_statsmodels(family, standardize):
    train, test = _split(family)
    run = bs.fit(_spec(family), data=train, target="y", standardize=standardize, **FIT)
    assert bs.preprocessing_of(run).standardized is standardize
    pred = bs.predict(run, test.drop(columns="y"), interval=INTERVAL)
    ref_mean, ref_width = _reference(family, train, test)
    dev, dwidth = _check_against(bs.predict_summary(pred), pred, ref_mean, ref_width)
    print(
        f"{family} standardize={standardize}: max |mean - ref| / sd {dev:.3f}, width {dwidth:.3f}"
    )


def test_cli_predictions_match_statsmodels(tmp_path, monkeypatch, capsys):
    train, test = _split("gaussian")
    train.to_csv(tmp_path / "train.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)  # the held-out y may stay in the file
    spec = tmp_path / "wide.toml"
    spec.write_text(
        'name = "wide"\nfamily = "gaussian"\n[priors]\n'
        'weights = { dist = "normal", sigma = 100.0 }\n'
        'bias = { dist = "normal", sigma = 100.0 }\n'
        'noise = { dist = "halfnormal", sigma = 10.0 }\n'
    )
    run_path, pred_path = tmp_path / "run.nc", tmp_path / "pred.csv"
    fit_args = ["--draws", "1000", "--tune", "500", "--chains", "4", "--seed", "3"]
    code, _, err = run_cli(
        [
            "fit",
            str(spec),
            "--data",
            str(tmp_path / "train.csv"),
            "--target",
            "y",
            "--out",
            str(run_path),
            *fit_args,
        ],
        monkeypatch,
        capsys,
    )
    assert code is None or code == 0, err
    args = ["predict", str(run_path), "--data", str(tmp_path / "test.csv"), "--out", str(pred_path)]
    code, _, err = run_cli(args, monkeypatch, capsys)
    assert code in (None, 0), err
    assert "chains weighted equally" in err
    summary = pd.read_csv(pred_path)
    assert list(summary.columns) == ["obs", "mean", "sd", "lower", "upper"]
    ref_mean, ref_width = _reference("gaussian", train, test)
    err_ = np.abs(summary["mean"].to_numpy() - ref_mean)
    assert (err_ < 0.1 * summary["sd"].to_numpy()).all()
    np.testing.assert_allclose(summary["upper"] - summary["lower"], ref_width, rtol=0.10)
    # the same rows again, in another column order: the same predictions (matched by name)
    test[["c", "y", "a", "b"]].to_csv(tmp_path / "shuffled.csv", index=False)
    args[3] = str(tmp_path / "shuffled.csv")
    assert run_cli(args, monkeypatch, capsys)[0] in (None, 0)
    pd.testing.assert_frame_equal(pd.read_csv(pred_path), summary)


def test_standardised_run_predicts_as_a_raw_refit_with_matched_priors():
    """Features with one common sd s: a N(0, 1) prior per sd is a N(0, 1/s) prior per unit."""
    rng = np.random.default_rng(5)
    n, s = 120, 3.0
    Z = rng.normal(size=(n + 20, 2))
    Z = (Z - Z[:n].mean(0)) / Z[:n].std(0)
    X = s * Z + [4.0, -7.0]  # raw features: both with sd exactly s on the training rows
    y = 1.0 + Z @ [0.7, -0.4] + 0.5 * rng.normal(size=n + 20)
    df = pd.DataFrame(X, columns=["a", "b"]).assign(y=y)
    train, test = df.iloc[:n], df.iloc[n:][["a", "b"]]
    base = {
        "bias": {"dist": "normal", "sigma": 100.0},
        "noise": {"dist": "halfnormal", "sigma": 1.0},
    }
    std_spec = Spec.from_dict({"name": "std", "family": "gaussian", "priors": base})
    raw_spec = Spec.from_dict(
        {
            "name": "raw",
            "family": "gaussian",
            "priors": dict(base, weights={"dist": "normal", "sigma": 1.0 / s}),
        }
    )
    kw = {"chains": 4, "draws": 1500, "tune": 500, "seed": 2}
    a = bs.predict_summary(bs.predict(bs.fit(std_spec, data=train, target="y", **kw), test))
    raw_run = bs.fit(raw_spec, data=train, target="y", standardize=False, **kw)
    b = bs.predict_summary(bs.predict(raw_run, test))
    sd = np.maximum(a["sd"], b["sd"]).to_numpy()
    assert (np.abs(a["mean"] - b["mean"]).to_numpy() < 0.15 * sd).all()
    np.testing.assert_allclose(a["upper"] - a["lower"], b["upper"] - b["lower"], rtol=0.10)


def test_raw_coefficients_are_exact_for_a_glm(rng):
    df = pd.DataFrame({"a": 5 + 3 * rng.normal(size=60), "b": rng.normal(size=60)})
    df["y"] = 2 + 0.5 * df.a - df.b + rng.normal(size=60)
    run = bs.fit(bs.load_spec("glm-gaussian"), data=df, target="y", chains=2, draws=50, tune=50)
    raw = bs.raw_coefficients(run)["posterior"]
    eta_raw = (raw["W1"].values @ df[["a", "b"]].to_numpy().T) + raw["b1"].values[..., None]
    mu = bs.predict(run, df[["a", "b"]])["predictions"]["mu"].values
    np.testing.assert_allclose(eta_raw, mu, rtol=1e-10, atol=1e-10)
    with pytest.raises(bs.BayesstackError, match="only a GLM"):
        bs.raw_coefficients(
            bs.fit(bs.load_spec("stack1-tanh"), data=df, target="y", chains=1, draws=5, tune=5)
        )


@pytest.fixture(scope="module")
def teacher_runs():
    from bayesstack.data.builtin import load_dataset

    out = {}
    for fam in ("gaussian", "student_t", "bernoulli", "binomial", "poisson", "negative_binomial"):
        spec = Spec.from_dict({"name": f"glm-{fam}", "family": fam})
        out[fam] = (
            bs.fit(spec, load_dataset(f"teacher-{fam}"), chains=2, draws=100, tune=100),
            spec,
        )
    return out


def test_every_family_predicts_on_its_scale(teacher_runs):
    X = np.random.default_rng(1).normal(size=(7, 2))
    for fam, (run, _) in teacher_runs.items():
        mu = bs.predict(run, X)["predictions"]["mu"].values
        y = bs.predict(run, X, kind="response", seed=1)["predictions"]["y"].values
        assert mu.shape == y.shape == (2, 100, 7)
        if fam == "bernoulli":
            assert ((mu > 0) & (mu < 1)).all() and set(np.unique(y)) <= {0.0, 1.0}
        if fam in ("poisson", "negative_binomial", "binomial"):
            assert (mu > 0).all() and (y >= 0).all() and (y == np.round(y)).all()
        if fam == "binomial":  # 10 trials per row in the teacher data
            assert (mu < 10).all() and (y <= 10).all()
            y3 = bs.predict(run, X, kind="response", trials=3, seed=1)["predictions"]["y"]
            assert int(y3.max()) <= 3
    again = bs.predict(teacher_runs["poisson"][0], X, kind="response", seed=1)
    same = bs.predict(teacher_runs["poisson"][0], X, kind="response", seed=1)
    xr.testing.assert_equal(again["predictions"].to_dataset(), same["predictions"].to_dataset())


def test_stacking_weights_are_used_by_default_and_equal_on_request(teacher_runs):
    run = teacher_runs["gaussian"][0].copy()
    X = np.zeros((3, 2))
    equal = bs.predict_summary(bs.predict(run, X))
    run["chain_weights"] = xr.DataTree(xr.Dataset({"stacking": ("chain", [1.0, 0.0])}))
    pred = bs.predict(run, X)
    assert pred.attrs["weights"] == "stacking" and "stacking" in pred.attrs["weights_note"]
    chain0 = bs.predict_summary(bs.predict(run.isel(chain=[0]), X, weights="equal"))
    pd.testing.assert_frame_equal(bs.predict_summary(pred), chain0, rtol=1e-9)
    back = bs.predict_summary(bs.predict(run, X, weights="equal"))
    pd.testing.assert_frame_equal(back, equal)
    run["chain_weights"] = xr.DataTree(xr.Dataset({"stacking": ("chain", [0.7, 0.7])}))
    with pytest.raises(bs.BayesstackError, match=r"sums to 1\.4"):
        bs.predict(run, X)


def test_fit_adds_predictive_groups_without_changing_the_draws(teacher_runs):
    from bayesstack.data.builtin import load_dataset

    run, spec = teacher_runs["bernoulli"]
    assert "posterior_predictive" in run.children
    bare = bs.fit(
        spec,
        load_dataset("teacher-bernoulli"),
        chains=2,
        draws=100,
        tune=100,
        posterior_predictive=False,
        prior_predictive=True,
    )
    assert "posterior_predictive" not in bare.children
    assert {"prior", "prior_predictive"} <= set(bare.children)
    xr.testing.assert_equal(bare.posterior.to_dataset(), run.posterior.to_dataset())
    # ArviZ on the run as fit returns it
    gauss = teacher_runs["gaussian"][0]
    az.plot_ppc_dist(gauss, num_samples=20)
    assert az.loo_pit(gauss)["y"].shape == (200,)
    r2 = az.loo_r2(gauss, var_name="y")
    assert 0 < r2.mean < 1


def test_bad_new_data_one_line_exit_2(tmp_path, monkeypatch, capsys):
    run, _ = (
        bs.fit(
            bs.load_spec("glm-gaussian"),
            data=_split("gaussian")[0],
            target="y",
            chains=1,
            draws=20,
            tune=20,
        ),
        None,
    )
    run_path = bs.save(run, tmp_path / "run.nc")
    good = _split("gaussian")[1]
    cases = {
        "missing": (good.drop(columns="b"), ["lacks column(s) ['b']"]),
        "extra": (good.assign(id=1), ["['id']", "not fitted on"]),
        "nan": (good.assign(a=[np.nan] + [0.0] * (len(good) - 1)), ["1 row(s)", "row 0,", "'a'"]),
        "type": (good.assign(c="x"), ["['c'] are not numeric"]),
    }
    out = tmp_path / "pred.csv"
    for name, (df, words) in cases.items():
        df.to_csv(tmp_path / f"{name}.csv", index=False)
        code, _, err = run_cli(
            ["predict", str(run_path), "--data", str(tmp_path / f"{name}.csv"), "--out", str(out)],
            monkeypatch,
            capsys,
        )
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (name, err)
        assert all(w in lines[0] for w in words), (name, lines[0])
        assert not out.exists()
    good.to_csv(tmp_path / "good.csv", index=False)
    notes = tmp_path / "notes.csv"
    notes.write_text("my,own\n1,2\n")
    for kw, words in [
        (["--out", str(notes)], ["exists and was not written by bayesstack"]),
        (["--out", str(out), "--kind", "median"], ["kind", "mean, response"]),
        (["--out", str(out), "--interval", "1.5"], ["interval"]),
        (["--out", str(out), "--weights", "best"], ["weights"]),
    ]:
        code, _, err = run_cli(
            ["predict", str(run_path), "--data", str(tmp_path / "good.csv"), *kw],
            monkeypatch,
            capsys,
        )
        assert code == 2 and all(w in err for w in words), err
    assert notes.read_text() == "my,own\n1,2\n" and not out.exists()
    # a previous prediction may be replaced
    args = ["predict", str(run_path), "--data", str(tmp_path / "good.csv"), "--out", str(out)]
    for _ in range(2):
        assert run_cli(args, monkeypatch, capsys)[0] in (None, 0)
    assert len(pd.read_csv(out)) == len(good)


def test_run_without_recorded_preprocessing_is_refused(teacher_runs):
    run = teacher_runs["gaussian"][0].copy()
    del run.attrs["preprocessing"]
    with pytest.raises(bs.BayesstackError, match="no 'preprocessing' attribute"):
        bs.predict(run, np.zeros((2, 2)))


def test_attach_spec_to_a_plain_pm_sample_run():
    import pymc as pm

    from bayesstack.data.builtin import load_dataset

    spec = bs.load_spec("glm-gaussian")
    ds = load_dataset("teacher-gaussian", standardize=False)
    model = bs.build_model(spec, ds)
    assert list(model.coords["feature"]) == ["x1", "x2"]
    idata = pm.sample(
        50, tune=50, chains=1, model=model, random_seed=1, progressbar=False, quiet=True
    )
    with pytest.raises(bs.BayesstackError, match="no 'preprocessing'"):
        bs.predict(idata, ds.X[:3])
    bs.attach_spec(idata, spec, ds.X, ds.y, feature_names=ds.feature_names)
    assert bs.spec_of(idata) == spec
    s = bs.predict_summary(bs.predict(idata, ds.X[:3]))
    assert s.shape == (3, 4)
    from bayesstack.geometry import analyze

    assert analyze(idata).to_dict()  # the geometry analysis reads the attached spec too
    with pytest.raises(bs.BayesstackError, match="does not hold the weights"):
        bs.attach_spec(idata.copy(), bs.load_spec("stack1-tanh"), ds.X, ds.y)


def test_weighted_summary_equals_the_summary_of_replicated_draws():
    """Chain weights 3/4 and 1/4 weigh like three copies of chain 0 beside one of chain 1."""
    rng = np.random.default_rng(0)
    v = rng.normal(size=(2, 4000, 3)) + np.array([0.0, 2.0])[:, None, None]
    tree = xr.DataTree.from_dict(
        {
            "predictions": xr.Dataset({"mu": (("chain", "draw", "obs"), v)}),
            "chain_weights": xr.Dataset({"weight": ("chain", [0.75, 0.25])}),
        }
    )
    tree.attrs["interval"] = 0.9
    s = bs.predict_summary(tree)
    rep = np.concatenate([v[0], v[0], v[0], v[1]])
    np.testing.assert_allclose(s["mean"], rep.mean(0), rtol=1e-12)
    np.testing.assert_allclose(s["sd"], rep.std(0), rtol=1e-12)
    q = np.quantile(rep, [0.05, 0.95], axis=0)
    np.testing.assert_allclose(s[["lower", "upper"]].to_numpy().T, q, atol=0.01)


# --- draws in blocks -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "family",
    ["gaussian", "bernoulli", "poisson", "binomial", "student_t", "gaussian_location_scale"],
)
def test_blocks_of_draws_give_the_draws_of_one_block(family, monkeypatch):
    """Memory is bounded by computing draws in blocks; the values do not depend on the blocks."""
    from bayesstack.inference import prediction
    from bayesstack.model.network import param_shapes

    spec = Spec.from_dict(
        {"name": "b", "family": family, "layers": [{"units": 3, "activation": "tanh"}]}
    )
    rng = np.random.default_rng(5)
    X = rng.normal(size=(7, 2))
    dims = ("chain", "draw")
    post = {
        k: (dims + tuple(f"{k}_{i}" for i in range(len(s))), 0.5 * rng.normal(size=(2, 9, *s)))
        for k, s in param_shapes(spec, 2).items()
    }
    post.update({"sigma": (dims, np.full((2, 9), 0.7)), "nu": (dims, np.full((2, 9), 5.0))})
    post = xr.Dataset(post)
    trials = np.arange(1, 8) if family == "binomial" else None

    def draws(block_elements):
        monkeypatch.setattr(prediction, "BLOCK_ELEMENTS", block_elements)
        return prediction.draw_outcomes(
            spec, post, X, kind="response", trials=trials, rng=np.random.default_rng(1)
        )

    one = draws(10**9)
    assert one.shape == (2, 9, 7)
    np.testing.assert_array_equal(draws(1), one)  # 18 blocks of one draw each
    np.testing.assert_array_equal(draws(7 * 3 * 4), one)  # blocks of 4 draws and a remainder
