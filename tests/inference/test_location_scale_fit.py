"""The location–scale Gaussian family fitted: recovery of a heteroscedastic regression (truth and
an independent scipy MLE), predictions with each observation's own σ, and the geometry analysis
end to end (depth 0: unimodal and affine; depth 1: the one-output group, canonical draws)."""

import json

import numpy as np
import pytest
from scipy import optimize, stats

import bayesstack as bs
from bayesstack.geometry import UNIMODAL, analyze
from bayesstack.spec import Spec

LS = "gaussian_location_scale"
N = 200
B_MU, A_MU = np.array([1.0, -0.5]), 0.3  # y's mean: A_MU + X @ B_MU
B_SIG, A_SIG = np.array([0.6, 0.0]), -0.7  # log sigma: A_SIG + X @ B_SIG


def simulate(seed=17):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, 2))
    y = A_MU + X @ B_MU + np.exp(A_SIG + X @ B_SIG) * rng.normal(size=N)
    return X, y


@pytest.fixture(scope="module")
def glm_run():
    X, y = simulate()
    spec = Spec.from_dict({"name": "ls-glm", "family": LS})
    return bs.fit(spec, X, y, chains=4, draws=500, tune=500, seed=1), X, y


def _draws(run):
    """(S, 6) draws of (b_mu, W_mu, b_sigma, W_sigma) in the truth's order."""
    post = run.posterior.to_dataset().stack(s=("chain", "draw"))
    W, b = post["W1"].transpose("s", "feature", "output").values, post["b1"].values.T
    return np.column_stack([b[:, 0], W[:, :, 0], b[:, 1], W[:, :, 1]])


def test_recovers_the_truth_and_the_scipy_mle(glm_run):
    run, X, y = glm_run
    assert run.posterior["W1"].dims == ("chain", "draw", "feature", "output")
    assert list(run.posterior["output"].values) == ["mu", "log_sigma"]
    assert "sigma" not in run.posterior
    draws = _draws(run)
    mean, sd = draws.mean(0), draws.std(0)
    truth = np.array([A_MU, *B_MU, A_SIG, *B_SIG])
    z = np.abs(mean - truth) / sd
    assert (z < 4).all(), z

    def nll(t):  # independent of bayesstack: scipy's Normal with loc = Xb, scale = exp(Xg)
        return -stats.norm.logpdf(y, t[0] + X @ t[1:3], np.exp(t[3] + X @ t[4:6])).sum()

    mle = optimize.minimize(nll, np.zeros(6), method="BFGS")
    assert np.abs(mle.jac).max() < 1e-3  # at a stationary point (BFGS may stop on precision)
    # N(0, 1) priors on 200 observations: the posterior mean sits near the MLE
    assert (np.abs(mean - mle.x) < 0.5 * sd).all(), np.abs(mean - mle.x) / sd


def test_predictions_use_each_observations_sigma(glm_run):
    run, _, _ = glm_run
    X_new = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 1.0]])  # sigma about 1.7, 0.15, 0.5
    draws = _draws(run)
    mu = draws[:, [0]] + draws[:, 1:3] @ X_new.T  # (S, 3)
    sigma = np.exp(draws[:, [3]] + draws[:, 4:6] @ X_new.T)

    mean = bs.predict(run, X_new, kind="mean", seed=3)
    got = mean["predictions"]["mu"].stack(s=("chain", "draw")).transpose("s", "obs").values
    np.testing.assert_allclose(got, mu, rtol=1e-12)

    resp = bs.predict(run, X_new, kind="response", seed=3)
    y = resp["predictions"]["y"].stack(s=("chain", "draw")).transpose("s", "obs").values
    want_sd = np.sqrt((sigma**2).mean(0) + mu.var(0))  # law of total variance
    np.testing.assert_allclose(y.std(0), want_sd, rtol=0.1)
    assert y.std(0)[0] > 5 * y.std(0)[1]  # heteroscedastic, not one shared sigma
    assert (np.abs(y.mean(0) - mu.mean(0)) < 4 * want_sd / np.sqrt(len(y))).all()
    again = bs.predict(run, X_new, kind="response", seed=3)
    np.testing.assert_array_equal(again["predictions"]["y"].values, resp["predictions"]["y"].values)

    summary = bs.predict_summary(resp)
    assert list(summary.columns) == ["mean", "sd", "lower", "upper"] and len(summary) == 3


def test_depth0_analysis_is_unimodal_and_affine(glm_run):
    run, _, _ = glm_run
    res = analyze(run, seed=0)
    d = json.loads(json.dumps(res.to_dict()))
    assert str(res.verdict) == UNIMODAL
    assert d["symmetric_images"] == 1
    assert d["rhat_max_function"] < 1.05
    # μ's η of a GLM is affine in the weights: zero Bates–Watts curvature
    assert abs(d["curvature_parameter_effects"]) < 1e-6
    assert abs(d["curvature_intrinsic"]) < 1e-6


def test_depth1_analysis_runs_end_to_end():
    X, y = simulate(23)
    spec = Spec.from_dict(
        {"name": "ls-tanh", "family": LS, "layers": [{"units": 2, "activation": "tanh"}]}
    )
    run = bs.fit(spec, X, y, chains=4, draws=200, tune=300, seed=2)
    assert run.posterior["W2"].dims == ("chain", "draw", "hidden1", "output")
    res = analyze(run, seed=0, curvature_draws=2, bridge_draws=200)
    d = json.loads(json.dumps(res.to_dict()))
    assert d["symmetric_images"] == 8  # 2! * 2^2, as for the one-output tanh [2] stack
    assert "canonical_posterior" in res.run.children
    assert res.run["canonical_posterior"]["W2"].dims == ("chain", "draw", "hidden1", "output")
    assert np.isfinite(d["rhat_max_function"]) and np.isfinite(d["curvature_parameter_effects"])
    assert d["curvature_parameter_effects"] > 1e-6  # a tanh stack's η_μ is curved
