"""Tests for bayesstack.data.builtin: the catalogue, the teachers and the real data."""

from __future__ import annotations

import numpy as np
import pytest

from bayesstack.data import validate
from bayesstack.data.builtin import (
    DEFAULT_DATASET,
    dataset_info,
    list_datasets,
    load_dataset,
    teacher_params,
)
from bayesstack.errors import DataError
from bayesstack.registry import FAMILIES

# a teacher is a 2-3-1 network: one per family with one output (no location-scale teacher)
TEACHERS = [f"teacher-{f}" for f, row in FAMILIES.items() if len(row.outputs) == 1]
REAL = {
    # name: (family, n, d, target)
    "anes96": ("bernoulli", 944, 6, "vote"),
    "spector": ("bernoulli", 32, 3, "GRADE"),
    "randhie": ("negative_binomial", 1000, 9, "mdvis"),
    "engel": ("gaussian", 235, 1, "log_foodexp"),
    "stackloss": ("student_t", 21, 3, "STACKLOSS"),
    "star98": ("binomial", 303, 6, "NABOVE"),
}


def test_catalogue():
    infos = list_datasets()
    names = [i.name for i in infos]
    assert len(set(names)) == len(names)
    assert set(names) == set(TEACHERS) | set(REAL)
    assert DEFAULT_DATASET in names
    for info in infos:
        assert info.kind in ("synthetic", "real")
        assert info.family in FAMILIES
        assert info.source and info.licence and info.description
        assert (info.kind == "synthetic") == info.name.startswith("teacher-")


def test_unknown_dataset_lists_names():
    with pytest.raises(DataError) as exc:
        load_dataset("iris")
    msg = str(exc.value)
    assert "'iris'" in msg and "teacher-gaussian" in msg and "randhie" in msg and "\n" not in msg


@pytest.mark.parametrize("name", [i.name for i in list_datasets()])
def test_loads_match_catalogue(name):
    info = dataset_info(name)
    ds = load_dataset(name)
    assert ds.name == name
    assert (ds.n, ds.d) == (info.n, info.d)
    assert len(ds.feature_names) == ds.d
    assert np.isfinite(ds.X).all() and np.isfinite(ds.y).all()
    # standardised by default
    np.testing.assert_allclose(ds.X.mean(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(ds.X.std(axis=0), 1.0, rtol=1e-10)
    assert ds.standardization is not None
    # y fits the catalogue's family
    validate(ds.X, ds.y, info.family, trials=ds.trials)
    assert (ds.trials is not None) == (info.family == "binomial")


@pytest.mark.parametrize("name", list(REAL))
def test_real_shapes_and_raw_scale(name):
    family, n, d, target = REAL[name]
    ds = load_dataset(name, standardize=False)
    assert dataset_info(name).family == family
    assert ds.X.shape == (n, d) and ds.y.shape == (n,) and ds.target == target
    assert ds.standardization is None
    # real features are not already z-scored
    assert not np.allclose(ds.X.std(axis=0), 1.0)


def test_anes96_coding():
    ds = load_dataset("anes96", standardize=False)
    assert ds.feature_names == ("logpopul", "TVnews", "selfLR", "age", "educ", "income")
    assert set(np.unique(ds.y)) == {0.0, 1.0}
    assert int(ds.y.sum()) == 393  # 393 Dole (1), 551 Clinton (0)
    assert "1 = Dole" in ds.description


def test_randhie_subsample_fixed():
    a = load_dataset("randhie", standardize=False)
    b = load_dataset("randhie", standardize=False)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert a.y.min() == 0 and (a.y == np.round(a.y)).all()
    assert a.y.var() > 3 * a.y.mean()  # overdispersed: why negative_binomial


def test_engel_is_log_log():
    import statsmodels.datasets as smd

    raw = smd.engel.load_pandas().data
    ds = load_dataset("engel", standardize=False)
    np.testing.assert_allclose(ds.X[:, 0], np.log(raw["income"]))
    np.testing.assert_allclose(ds.y, np.log(raw["foodexp"]))


def test_star98_trials():
    ds = load_dataset("star98", standardize=False)
    assert ds.trials is not None and ds.trials.dtype == np.int64
    assert (ds.y <= ds.trials).all() and (ds.trials >= 1).all()
    assert (ds.trials[:3] == [807, 184, 571]).all()


# --- teachers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TEACHERS)
def test_teacher_bit_for_bit(name):
    a = load_dataset(name)
    b = load_dataset(name)
    assert a.X.tobytes() == b.X.tobytes() and a.y.tobytes() == b.y.tobytes()
    raw = load_dataset(name, standardize=False)
    assert raw.X.tobytes() == load_dataset(name, standardize=False).X.tobytes()
    # the teacher X is already z-scored, so standardising barely moves it
    np.testing.assert_allclose(a.X, raw.X, atol=1e-12)


def test_teachers_share_X_but_not_noise():
    Xs = [load_dataset(n, standardize=False).X for n in TEACHERS]
    for X in Xs[1:]:
        np.testing.assert_array_equal(X, Xs[0])
    g = load_dataset("teacher-gaussian").y
    t = load_dataset("teacher-student_t").y
    assert not np.allclose(g, t)


def test_teacher_params_names_and_shapes():
    p = teacher_params("teacher-student_t")
    assert set(p) == {"W1", "b1", "W2", "b2", "sigma", "nu"}
    assert p["W1"].shape == (2, 3) and p["b1"].shape == (3,)
    assert p["W2"].shape == (3,) and p["b2"].shape == ()
    assert float(p["nu"]) == 4.0 and float(p["sigma"]) == 0.3
    assert set(teacher_params("teacher-negative_binomial")) == {"W1", "b1", "W2", "b2", "alpha"}
    assert set(teacher_params("teacher-poisson")) == {"W1", "b1", "W2", "b2"}
    # fresh copies
    p["W1"][0, 0] = 99.0
    assert teacher_params("teacher-student_t")["W1"][0, 0] != 99.0


def test_teacher_params_unknown():
    with pytest.raises(DataError, match="not a teacher dataset"):
        teacher_params("spector")


def test_teacher_weights_well_separated():
    p = teacher_params("teacher-gaussian")
    assert (np.abs(p["W2"]) >= 1).all()
    # hidden units (w_j, b_j) are far from each other and from each other's sign flips
    units = np.vstack([p["W1"], p["b1"]]).T
    for i in range(3):
        for j in range(i + 1, 3):
            d = min(np.linalg.norm(units[i] - units[j]), np.linalg.norm(units[i] + units[j]))
            assert d > 1.0
    # |W2| values distinct, so permutations give distinct modes
    assert len(np.unique(np.abs(p["W2"]))) == 3


def _teacher_eta(name, X):
    p = teacher_params(name)
    return np.tanh(X @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]


def test_teacher_gaussian_residuals_match_sigma():
    ds = load_dataset("teacher-gaussian", standardize=False)
    r = ds.y - _teacher_eta("teacher-gaussian", ds.X)
    assert abs(r.std() - 0.3) < 0.05 and abs(r.mean()) < 0.06


def test_teacher_student_t_residuals_heavier_tailed():
    ds = load_dataset("teacher-student_t", standardize=False)
    r = ds.y - _teacher_eta("teacher-student_t", ds.X)
    assert abs(np.median(r)) < 0.08
    # tails: P(|r| > 3 scale) is 0.040 for t(4) against 0.0027 for a Normal of that scale, so
    # about 8 of 200 against 0.5 (the data have 15 and, for the Gaussian teacher, 1)
    far = int(np.sum(np.abs(r) > 3 * 0.3))
    assert far >= 4
    g = load_dataset("teacher-gaussian", standardize=False)
    assert int(np.sum(np.abs(g.y - _teacher_eta("teacher-gaussian", g.X)) > 3 * 0.3)) <= 1


@pytest.mark.parametrize(
    ("name", "inv_link", "trials"),
    [
        ("teacher-bernoulli", lambda e: 1 / (1 + np.exp(-e)), 1),
        ("teacher-binomial", lambda e: 1 / (1 + np.exp(-e)), 10),
        ("teacher-poisson", np.exp, 1),
        ("teacher-negative_binomial", np.exp, 1),
    ],
)
def test_teacher_means_follow_link(name, inv_link, trials):
    ds = load_dataset(name, standardize=False)
    mu = trials * inv_link(_teacher_eta(name, ds.X))
    # the mean of y tracks the teacher's mean: correlation well above chance
    assert np.corrcoef(mu, ds.y)[0, 1] > 0.4
    assert abs(ds.y.mean() - mu.mean()) < 0.1 * mu.mean() + 0.05
    if name == "teacher-binomial":
        np.testing.assert_array_equal(ds.trials, np.full(200, 10))


def test_teacher_negative_binomial_overdispersed():
    ds = load_dataset("teacher-negative_binomial", standardize=False)
    mu = np.exp(_teacher_eta("teacher-negative_binomial", ds.X))
    # Pearson dispersion: ~1 for Poisson, larger with alpha = 5
    pearson = np.mean((ds.y - mu) ** 2 / mu)
    pois = load_dataset("teacher-poisson", standardize=False)
    pearson_pois = np.mean((pois.y - mu) ** 2 / mu)
    assert pearson > 1.2 and 0.7 < pearson_pois < 1.3
