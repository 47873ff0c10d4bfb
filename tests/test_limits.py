"""Bounded work (issue 18): a spec's size is checked on its data before any model is built."""

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayesstack as bs
from bayesstack import limits
from bayesstack.errors import BayesstackError, SizeError, SpecError
from bayesstack.inference import sampling
from bayesstack.limits import check_size, data_shape, estimate
from bayesstack.model.network import n_weights
from bayesstack.spec import Spec, load_spec

MODELS = sorted(Path(__file__).parents[1].joinpath("models").glob("*.toml"))
OVERRIDE = "pass allow_large=True to fit() or --allow-large to `bayesstack fit` to fit it anyway"


def stack(*units, family="gaussian", **kw) -> Spec:
    layers = [{"units": u, "activation": "tanh"} for u in units]
    return Spec.from_dict({"name": "s", "family": family, "layers": layers, **kw})


def data(n, d):
    """Features of shape (n, d) without allocating them."""
    return np.broadcast_to(0.0, (n, d))


class Reached(BayesstackError):
    """Raised instead of sampling: the model was built, the size check passed."""


@pytest.fixture
def no_sampling(monkeypatch):
    def stop(model, *args):
        raise Reached(f"built a model with {len(model.free_RVs)} variables")

    monkeypatch.setattr(sampling, "_sample", stop)


@pytest.fixture
def no_build(monkeypatch):
    def fail(*args, **kw):
        raise AssertionError("build_model was called")

    monkeypatch.setattr(sampling, "build_model", fail)


# --- the estimate -----------------------------------------------------------------------


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_parameter_count_is_the_models(path):
    from bayesstack.model.builder import build_model

    spec = load_spec(path)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 3))
    y = {"gaussian": rng.normal(size=12), "student_t": rng.normal(size=12)}.get(
        spec.family, rng.integers(0, 2, size=12).astype(float)
    )
    model = build_model(spec, X, y, trials=1 if spec.family == "binomial" else None)
    free = sum(int(np.prod(v.shape)) for v in model.initial_point().values())
    assert estimate(spec, 12, 3).n_params == free
    assert estimate(spec, 12, 3).n_params >= n_weights(spec, 3)


def test_estimate_counts():
    spec = stack(5, 4, priors={"weights": {"dist": "hierarchical"}})
    e = estimate(spec, 1000, 3, chains=4, draws=500)
    weights = 3 * 5 + 5 + 5 * 4 + 4 + 4 + 1  # W1 b1 W2 b2 W3 b3
    assert e.n_params == weights + 3 + 1  # a hierarchical scale per W, and sigma
    assert e.widest == 5 and e.depth == 2
    assert e.intermediate_bytes == 1000 * 5 * 8
    assert e.draws_bytes == 4 * 500 * (e.n_params + 1000) * 8
    assert estimate(stack(5), 10, 50).widest == 50  # the features, when wider
    assert estimate(stack(5), 10, 3).draws_bytes is None


def test_fixed_noise_is_no_parameter():
    fixed = stack(2, priors={"noise": {"dist": "fixed", "value": 1.0}})
    assert estimate(fixed, 10, 1).n_params == estimate(stack(2), 10, 1).n_params - 1


def test_graph_nodes_bound_by_the_depth_cap():
    worst = stack(
        *[1] * limits.MAX_DEPTH,
        priors={"weights": {"dist": "hierarchical"}, "bias": {"dist": "hierarchical"}},
        family="student_t",
    )
    assert estimate(worst, 10, 1).graph_nodes <= limits.MAX_GRAPH_NODES
    assert estimate(stack(*[1] * 40), 10, 1).graph_nodes > limits.MAX_GRAPH_NODES


@pytest.mark.parametrize(
    "X,shape",
    [
        (np.zeros((7, 3)), (7, 3)),
        (pd.DataFrame({"a": [1, 2], "b": [3, 4]}), (2, 2)),
        ([[1, 2], [3, 4], [5, 6]], (3, 2)),
        ([[1, 2], [3]], (1, 1)),  # ragged: the data checks report it
        (np.zeros(5), (5, 1)),
        (None, (1, 1)),
        (3.0, (1, 1)),
    ],
)
def test_data_shape_never_fails(X, shape):
    assert data_shape(X) == shape


# --- the limits -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec,n,d,kw,msg",
    [
        (stack(*[1] * 21), 100, 2, {}, "depth: 21 hidden layers is over the limit of 20"),
        (stack(3, 5000), 100, 2, {}, "layers[2].units: 5000 units is over the limit of 4096"),
        (stack(1000, 1001), 10, 2, {}, "parameters: 1006004 on 2 features is over the limit"),
        (stack(4000), 40_000, 2, {}, "memory: the largest intermediate, 40000 observations x 4000"),
        (
            stack(10),
            100_000,
            5,
            {"chains": 4, "draws": 2000},
            "draws: 4 chains x 2000 draws x (72 parameters + 100000 log-likelihood values)",
        ),
    ],
)
def test_over_a_limit(spec, n, d, kw, msg):
    with pytest.raises(SizeError) as e:
        check_size(spec, data(n, d), **kw)
    text = str(e.value)
    assert text.startswith(msg) and text.endswith(OVERRIDE)
    assert "\n" not in text and len(text) < 300
    check_size(spec, data(n, d), allow_large=True, **kw)  # the override lifts it


@pytest.mark.parametrize(
    "spec,n,d,kw,msg",
    [
        (stack(10_000), 10, 20_000, {}, "parameters: 200020002 on 20000 features is more than any"),
        (stack(500_000), 300_000, 2, {}, "memory: the largest intermediate would take 1.1 TiB"),
        (stack(3), 10, 2, {"chains": 4, "draws": 10**12}, "memory: the draws would take"),
    ],
)
def test_hard_limits_hold_with_the_override(spec, n, d, kw, msg):
    with pytest.raises(SizeError) as e:
        check_size(spec, data(n, d), allow_large=True, **kw)
    assert str(e.value).startswith(msg)
    assert "even with allow_large=True or --allow-large" in str(e.value)
    assert len(str(e.value)) < 300


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_shipped_specs_are_within_the_limits(path):
    from bayesstack.data.builtin import list_datasets

    # every built-in data set, ten times over, at the default settings
    n = 10 * max(i.n for i in list_datasets())
    d = 10 * max(i.d for i in list_datasets())
    check_size(load_spec(path), data(n, d), chains=4, draws=1000)


def test_bench_sizes_are_within_the_limits():
    from benchmarks.models import SIZES

    for size in SIZES.values():
        check_size(size.spec(), data(size.n, size.d), chains=4, draws=1000)


# --- fit and the CLI --------------------------------------------------------------------


def test_300_layers_refused_before_the_model_is_built(no_build):
    # was: compiling for over 6 minutes at 15.7 GB
    spec = stack(*[1] * 300)
    start = time.perf_counter()
    with pytest.raises(SizeError) as e:
        bs.fit(spec, data(100, 2), np.zeros(100))
    assert time.perf_counter() - start < 0.5
    assert str(e.value) == (
        "depth: 300 hidden layers is over the limit of 20 (compile time and memory grow with "
        f"depth); {OVERRIDE}"
    )


def test_a_billion_units_refused_when_read(tmp_path):
    # was: running past 60 s
    p = tmp_path / "wide.toml"
    p.write_text(
        'name = "w"\nfamily = "gaussian"\n[[layers]]\nunits = 1000000000\nactivation = "tanh"\n'
    )
    start = time.perf_counter()
    with pytest.raises(SpecError) as e:
        load_spec(p)
    assert time.perf_counter() - start < 0.5
    assert str(e.value) == (
        "layers[1].units: 1000000000 units is more than any machine can fit (at most 1000000 "
        "per layer, even with allow_large=True or --allow-large)"
    )


def test_a_wide_layer_refused_in_fit_with_the_override_named(no_build):
    start = time.perf_counter()
    with pytest.raises(SizeError, match=r"^layers\[1\]\.units: 100000 units is over the limit"):
        bs.fit(stack(100_000), data(100, 2), np.zeros(100))
    assert time.perf_counter() - start < 0.5


def test_the_override_lets_a_deep_cheap_spec_through(no_sampling):
    spec = stack(*[1] * 25)  # over the depth limit, yet quick to build
    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(SizeError, match=r"^depth: 25 hidden layers"):
        bs.fit(spec, X, np.zeros(20), chains=1, draws=10, tune=10)
    with pytest.raises(Reached, match="built a model with 53 variables"):  # 26 x (W, b), sigma
        bs.fit(spec, X, np.zeros(20), chains=1, draws=10, tune=10, allow_large=True)


def run_cli(args, monkeypatch, capsys):
    from bayesstack.cli import main

    code = main(args)
    return code, capsys.readouterr().err


def test_cli_refuses_and_allow_large_passes_through(tmp_path, monkeypatch, capsys, no_sampling):
    layers = '[[layers]]\nunits = 1\nactivation = "tanh"\n' * 25
    spec = tmp_path / "deep.toml"
    spec.write_text(f'name = "deep"\nfamily = "gaussian"\n{layers}')
    csv = tmp_path / "d.csv"
    pd.DataFrame({"a": np.arange(20.0), "y": np.zeros(20)}).to_csv(csv, index=False)
    args = ["fit", str(spec), "--data", str(csv), "--target", "y", "--out", str(tmp_path / "r.nc")]
    code, err = run_cli(args, monkeypatch, capsys)
    assert code == 2
    assert err.strip() == (
        "error: depth: 25 hidden layers is over the limit of 20 (compile time and memory grow "
        f"with depth); {OVERRIDE}"
    )
    code, err = run_cli([*args, "--allow-large"], monkeypatch, capsys)
    assert code == 2 and "error: built a model with 53 variables" in err
    assert not (tmp_path / "r.nc").exists()
