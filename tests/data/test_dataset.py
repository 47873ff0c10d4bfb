"""Tests for bayesstack.data: validation, loading, standardisation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayesstack.data import Dataset, from_csv, from_frame, validate, validate_trials
from bayesstack.errors import BayesstackError, DataError
from bayesstack.registry import FAMILIES


@pytest.fixture
def Xy(rng):
    X = rng.normal(size=(20, 3))
    y = rng.normal(size=20)
    return X, y


def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


# --- validate: shapes and finiteness ----------------------------------------------------------


def test_validate_returns_float64(Xy):
    X, y = Xy
    Xa, ya = validate(X.astype(np.float32), y.tolist(), "gaussian")
    assert Xa.dtype == np.float64 and ya.dtype == np.float64
    assert Xa.shape == (20, 3) and ya.shape == (20,)
    np.testing.assert_allclose(Xa, X.astype(np.float32))


def test_validate_1d_X_becomes_one_column(rng):
    Xa, _ = validate(rng.normal(size=7), np.zeros(7), "gaussian")
    assert Xa.shape == (7, 1)


def test_validate_accepts_pandas(Xy):
    X, y = Xy
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    Xa, ya = validate(df, pd.Series(y, name="resp"), "gaussian")
    np.testing.assert_array_equal(Xa, X)
    np.testing.assert_array_equal(ya, y)


def test_error_is_value_error_subclass():
    assert issubclass(DataError, BayesstackError) and issubclass(DataError, ValueError)


def test_nan_in_X_names_column_and_row(Xy):
    X, y = Xy
    X[5, 2] = np.nan
    X[7, 1] = np.nan
    with pytest.raises(DataError) as exc:
        validate(X, y, "gaussian")
    msg = _one_line(exc)
    # first bad column (1), then its first bad row (7)
    assert "X column 1" in msg and "row 7" in msg and "nan" in msg


def test_inf_in_X_dataframe_names_column(Xy):
    X, y = Xy
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    df.loc[3, "c"] = np.inf
    with pytest.raises(DataError) as exc:
        validate(df, y, "gaussian")
    msg = _one_line(exc)
    assert "'c'" in msg and "row 3" in msg and "inf" in msg


def test_nan_in_y_names_row(Xy):
    X, y = Xy
    y[4] = np.nan
    with pytest.raises(DataError) as exc:
        validate(X, pd.Series(y, name="resp"), "gaussian")
    msg = _one_line(exc)
    assert msg.startswith("y ('resp')") and "row 4" in msg


def test_length_mismatch_names_both_lengths(Xy):
    X, y = Xy
    with pytest.raises(DataError) as exc:
        validate(X, y[:-2], "gaussian")
    msg = _one_line(exc)
    assert "20 rows" in msg and "18 values" in msg


@pytest.mark.parametrize("shape", [(4, 2, 2), ()])
def test_bad_X_rank(shape):
    with pytest.raises(DataError, match="X must be 2-D"):
        validate(np.zeros(shape), np.zeros(4), "gaussian")


def test_y_2d_rejected_but_column_flattened(Xy):
    X, y = Xy
    _, ya = validate(X, y[:, None], "gaussian")
    assert ya.shape == (20,)
    with pytest.raises(DataError, match="y must be 1-D"):
        validate(X, np.zeros((20, 2)), "gaussian")


def test_non_numeric_X():
    with pytest.raises(DataError, match="X is not numeric"):
        validate(np.array([["a", "b"], ["c", "d"]]), [0.0, 1.0], "gaussian")


def test_empty_X():
    with pytest.raises(DataError, match="no rows"):
        validate(np.zeros((0, 2)), np.zeros(0), "gaussian")


# --- validate: family support -----------------------------------------------------------------


def test_unknown_family_lists_valid_ones(Xy):
    X, y = Xy
    with pytest.raises(DataError) as exc:
        validate(X, y, "gamma")
    msg = _one_line(exc)
    assert "'gamma'" in msg
    assert all(f in msg for f in FAMILIES)


@pytest.mark.parametrize("family", ["gaussian", "student_t", "gaussian_location_scale"])
def test_real_families_take_any_real(family, Xy):
    X, y = Xy
    validate(X, y * 1e6 - 3.5, family)


def test_bernoulli_accepts_01_and_bool():
    X = np.arange(4.0)
    _, y = validate(X, np.array([True, False, True, True]), "bernoulli")
    np.testing.assert_array_equal(y, [1.0, 0.0, 1.0, 1.0])


@pytest.mark.parametrize("bad", [2.0, -1.0, 0.5])
def test_bernoulli_rejects_non_binary(bad):
    y = np.array([0.0, 1.0, bad, 0.0])
    with pytest.raises(DataError) as exc:
        validate(np.arange(4.0), y, "bernoulli")
    msg = _one_line(exc)
    assert "row 2" in msg and repr(bad) in msg and "'bernoulli'" in msg and "0 or 1" in msg


@pytest.mark.parametrize("family", ["poisson", "negative_binomial"])
@pytest.mark.parametrize("bad", [-1.0, 2.5])
def test_counts_reject_negative_and_non_integer(family, bad):
    y = np.array([0.0, 3.0, 7.0, bad])
    with pytest.raises(DataError) as exc:
        validate(np.arange(4.0), y, family)
    msg = _one_line(exc)
    assert "row 3" in msg and repr(bad) in msg and repr(family) in msg


@pytest.mark.parametrize("family", ["poisson", "negative_binomial"])
def test_counts_accept_zero_and_large(family):
    validate(np.arange(3.0), [0, 1, 10**6], family)


def test_binomial_scalar_and_per_row_trials():
    validate(np.arange(3.0), [0, 5, 10], "binomial", trials=10)
    validate(np.arange(3.0), [0, 5, 3], "binomial", trials=[1, 5, 3])


def test_binomial_y_above_trials():
    with pytest.raises(DataError) as exc:
        validate(np.arange(3.0), [0, 6, 3], "binomial", trials=[1, 5, 3])
    msg = _one_line(exc)
    assert "y = 6.0" in msg and "row 1" in msg and "trials (5)" in msg


def test_binomial_needs_trials():
    with pytest.raises(DataError, match="needs trials"):
        validate(np.arange(3.0), [0, 1, 1], "binomial")


def test_binomial_negative_y():
    with pytest.raises(DataError, match="row 0"):
        validate(np.arange(2.0), [-1, 1], "binomial", trials=3)


@pytest.mark.parametrize("trials", [0, -3, 2.5, np.nan, [3, 3], 2**70, [3, 3, 1e30]])
def test_bad_trials(trials):
    with pytest.raises(DataError) as exc:
        validate(np.arange(3.0), [0, 1, 1], "binomial", trials=trials)
    assert "trials" in _one_line(exc)


def test_trials_rejected_for_other_families():
    with pytest.raises(DataError, match="only used by family 'binomial'"):
        validate(np.arange(3.0), [0, 1, 1], "poisson", trials=3)


def test_validate_trials_broadcasts():
    t = validate_trials(4, 3)
    assert t.dtype == np.int64
    np.testing.assert_array_equal(t, [4, 4, 4])


# --- Dataset and standardisation --------------------------------------------------------------


def _dataset(rng) -> Dataset:
    X = rng.normal(loc=[1.0, -5.0, 100.0], scale=[0.5, 2.0, 30.0], size=(50, 3))
    return Dataset(X=X, y=rng.normal(size=50), feature_names=("a", "b", "c"), target="y", name="t")


def test_dataset_shape_properties(rng):
    ds = _dataset(rng)
    assert (ds.n, ds.d) == (50, 3)
    assert ds.trials is None and ds.standardization is None


def test_dataset_checks_consistency(rng):
    with pytest.raises(DataError, match="feature_names"):
        Dataset(X=np.zeros((3, 2)), y=np.zeros(3), feature_names=("a",), target="y", name="t")
    with pytest.raises(DataError, match=r"Dataset\.y"):
        Dataset(X=np.zeros((3, 2)), y=np.zeros(4), feature_names=("a", "b"), target="y", name="t")


def test_standardize_mean0_sd1_and_transform_reproduces(rng):
    ds = _dataset(rng)
    st = ds.standardize()
    np.testing.assert_allclose(st.X.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(st.X.std(axis=0), 1.0, rtol=1e-12)
    np.testing.assert_allclose(st.standardization["mean"], ds.X.mean(axis=0))
    np.testing.assert_allclose(st.standardization["sd"], ds.X.std(axis=0))
    np.testing.assert_allclose(st.transform(ds.X), st.X, atol=1e-12)
    # the original is untouched (frozen, new arrays)
    assert ds.standardization is None and abs(ds.X[:, 2].mean() - 100) < 20


def test_standardize_twice_composes(rng):
    ds = _dataset(rng)
    st1 = ds.standardize()
    st2 = st1.standardize()
    np.testing.assert_allclose(st2.transform(ds.X), st2.X, atol=1e-12)
    np.testing.assert_allclose(st2.X, st1.X, atol=1e-12)


def test_transform_new_data_and_dataframe(rng):
    st = _dataset(rng).standardize()
    Xnew = np.array([[1.0, -5.0, 100.0], [2.0, 0.0, 0.0]])
    mean = np.array(st.standardization["mean"])
    sd = np.array(st.standardization["sd"])
    np.testing.assert_allclose(st.transform(Xnew), (Xnew - mean) / sd)
    df = pd.DataFrame(Xnew, columns=["a", "b", "c"])[["c", "a", "b"]]  # shuffled columns
    np.testing.assert_allclose(st.transform(df), (Xnew - mean) / sd)


def test_transform_errors(rng):
    st = _dataset(rng).standardize()
    with pytest.raises(DataError, match=r"shape \(2, 2\); the run needs \(rows, 3\)"):
        st.transform(np.zeros((2, 2)))
    with pytest.raises(DataError, match=r"lacks column\(s\) \['c'\]"):
        st.transform(pd.DataFrame({"a": [1.0], "b": [2.0]}))
    with pytest.raises(DataError, match="rows 1, 0-based"):
        st.transform(np.array([[0.0, 0.0, 0.0], [np.nan, 0.0, 0.0]]))


def test_transform_identity_without_standardization(rng):
    ds = _dataset(rng)
    np.testing.assert_array_equal(ds.transform(ds.X), ds.X)


def test_standardize_constant_column_raises(rng):
    X = rng.normal(size=(10, 2))
    X[:, 1] = 3.0
    ds = Dataset(X=X, y=np.zeros(10), feature_names=("a", "k"), target="y", name="t")
    with pytest.raises(DataError) as exc:
        ds.standardize()
    msg = _one_line(exc)
    assert "'k'" in msg and "constant" in msg and "3.0" in msg


# --- from_frame / from_csv --------------------------------------------------------------------


@pytest.fixture
def frame(rng):
    return pd.DataFrame(
        {
            "x1": rng.normal(size=12),
            "x2": rng.integers(0, 5, size=12),
            "n": np.full(12, 8),
            "k": rng.integers(0, 9, size=12),
        }
    )


def test_from_frame_defaults(frame):
    ds = from_frame(frame, "k", name="f", standardize=False)
    assert ds.feature_names == ("x1", "x2", "n") and ds.target == "k" and ds.name == "f"
    np.testing.assert_array_equal(ds.y, frame["k"].to_numpy(dtype=float))
    assert ds.X.dtype == np.float64 and ds.standardization is None


def test_from_frame_standardizes_by_default_like_the_cli(frame):
    ds = from_frame(frame, "k", trials="n")
    assert ds.standardization is not None
    np.testing.assert_allclose(ds.X.std(axis=0), 1.0)
    # the constant column n is a feature when it is not the trials: refused by name
    with pytest.raises(DataError, match="feature 'n' is constant"):
        from_frame(frame, "k")


def test_from_frame_trials_column_excluded_from_features(frame):
    ds = from_frame(frame, "k", trials="n")
    assert ds.feature_names == ("x1", "x2")
    np.testing.assert_array_equal(ds.trials, np.full(12, 8))


def test_from_frame_trials_int(frame):
    ds = from_frame(frame, "k", features=["x1"], trials=8)
    assert ds.trials.dtype == np.int64 and ds.trials.shape == (12,)


def test_from_frame_binomial_check(frame):
    with pytest.raises(DataError, match="exceeds its trials"):
        from_frame(frame.assign(k=9), "k", trials="n")


def test_from_frame_family_check(frame):
    with pytest.raises(DataError, match="'bernoulli'"):
        from_frame(frame, "k", family="bernoulli")


def test_from_frame_standardize(frame):
    ds = from_frame(frame, "k", features=["x1", "x2"], standardize=True)
    np.testing.assert_allclose(ds.X.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(ds.transform(frame[["x1", "x2"]]), ds.X, atol=1e-12)


def test_from_frame_missing_target_lists_columns(frame):
    with pytest.raises(DataError) as exc:
        from_frame(frame, "outcome")
    msg = _one_line(exc)
    assert "'outcome'" in msg and "x1, x2, n, k" in msg


def test_from_frame_missing_features_and_trials(frame):
    with pytest.raises(DataError, match=r"\['zz'\] not found"):
        from_frame(frame, "k", features=["x1", "zz"])
    with pytest.raises(DataError, match="trials column 'm' not found"):
        from_frame(frame, "k", trials="m")
    with pytest.raises(DataError, match="also listed in features"):
        from_frame(frame, "k", features=["x1", "k"])


def test_from_frame_non_numeric_feature(frame):
    with pytest.raises(DataError) as exc:
        from_frame(frame.assign(colour=["red"] * 12), "k")
    msg = _one_line(exc)
    assert "'colour'" in msg and "encode" in msg


def test_from_frame_non_numeric_target(frame):
    with pytest.raises(DataError, match="target column 'c' is not numeric"):
        from_frame(frame.assign(c=["yes"] * 12), "c")


def test_from_frame_nan_in_feature_column(frame):
    frame.loc[6, "x1"] = np.nan
    with pytest.raises(DataError) as exc:
        from_frame(frame, "k")
    msg = _one_line(exc)
    assert "'x1'" in msg and "1 row(s)" in msg and "row 6," in msg and "dropna" in msg
    ds = from_frame(frame, "k", dropna=True, standardize=False)
    assert ds.n == 11 and ds.preprocessing.n_dropped == 1


def test_from_frame_nullable_na_in_target(frame):
    frame["k"] = pd.array([1] * 11 + [None], dtype="Int64")
    with pytest.raises(DataError, match=r"row 11, 0-based; in column\(s\) 'k'"):
        from_frame(frame, "k")


def test_from_csv_roundtrip(tmp_path, frame):
    path = tmp_path / "counts.csv"
    frame.to_csv(path, index=False)
    ds = from_csv(path, "k", trials="n", standardize=False)
    assert ds.name == "counts" and ds.n == 12 and ds.feature_names == ("x1", "x2")
    assert ds.preprocessing.source == str(path) and ds.preprocessing.trials_column == "n"
    np.testing.assert_allclose(ds.X[:, 0], frame["x1"])


def test_from_csv_missing_file(tmp_path):
    with pytest.raises(DataError) as exc:
        from_csv(tmp_path / "nope.csv", "y")
    msg = _one_line(exc)
    assert "nope.csv" in msg and "not found" in msg


def test_from_csv_directory(tmp_path):
    with pytest.raises(DataError, match="is a directory"):
        from_csv(tmp_path, "y")


def test_from_csv_malformed(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n3,4,5,6\n")
    with pytest.raises(DataError) as exc:
        from_csv(path, "a")
    msg = _one_line(exc)
    assert "bad.csv" in msg and "not valid CSV" in msg


def test_from_csv_empty_and_header_only(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="is empty"):
        from_csv(empty, "y")
    header = tmp_path / "header.csv"
    header.write_text("x,y\n")
    with pytest.raises(DataError, match="no rows"):
        from_csv(header, "y")


def test_from_csv_missing_target(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("x,z\n1,2\n3,4\n")
    with pytest.raises(DataError, match="target column 'y' not found; available columns: x, z"):
        from_csv(path, "y")


@pytest.mark.parametrize("header,dupe", [("x1,y,y", "y"), ("x1,x1,y", "x1"), ('"y",x1,y', "y")])
def test_from_csv_duplicate_column_names(tmp_path, header, dupe):
    path = tmp_path / "f.csv"
    path.write_text(f"{header}\n1,2,3\n4,5,6\n")
    with pytest.raises(DataError) as exc:
        from_csv(path, "y")
    assert str(exc.value) == f"data file '{path}': duplicate column name {dupe!r}; rename it"


def test_from_csv_column_named_like_a_renamed_duplicate(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("x1,y.1,y\n1,2,3\n4,5,7\n")
    ds = from_csv(path, "y")
    assert ds.feature_names == ("x1", "y.1")
    np.testing.assert_array_equal(ds.y, [3.0, 7.0])


@pytest.mark.parametrize("trials", ["-3", "2.5", "0", "nan", 0, -3, 2.5])
def test_from_csv_trials_not_a_positive_integer(tmp_path, frame, trials):
    # the CLI passes --trials as a string unless it is all digits
    path = tmp_path / "counts.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError) as exc:
        from_csv(path, "k", trials=trials)
    assert str(exc.value) == (
        f"trials: must be a positive integer or a column name, got {trials!r}"
    )


def test_from_frame_trials_as_integer_string_or_numeric_column_name(frame):
    ds = from_frame(frame, "k", features=["x1"], trials="8")
    np.testing.assert_array_equal(ds.trials, np.full(12, 8))
    ds = from_frame(frame.rename(columns={"n": "-3"}), "k", trials="-3")
    assert ds.feature_names == ("x1", "x2")
    np.testing.assert_array_equal(ds.trials, np.full(12, 8))


def test_messages_fit_cli_and_python(frame):
    with pytest.raises(DataError) as exc:
        validate(np.arange(3.0), [0, 1, 1], "binomial")
    assert "--trials N or a column name" in str(exc.value) and "trials=" not in str(exc.value)
    with pytest.raises(DataError) as exc:
        from_frame(frame.assign(colour=["red"] * 12), "k")
    assert "features=" not in str(exc.value) and "remove them from the data" in str(exc.value)
