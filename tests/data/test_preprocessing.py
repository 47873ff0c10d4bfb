"""Recorded preprocessing: robust scales, JSON round trip, new data, formulas and missing values."""

import numpy as np
import pandas as pd
import pytest

from bayesstack.data import from_frame
from bayesstack.data.preprocessing import Preprocessing, data_hash, scales
from bayesstack.errors import DataError


def test_huge_feature_gets_its_true_scale_not_zeros(rng):
    x = 1e300 * (3 + rng.normal(size=50))
    with np.errstate(over="ignore"):
        assert not np.isfinite(np.std(x))  # what the naive route does
    mean, sd = scales(x[:, None], ["big"])
    np.testing.assert_allclose(
        [mean[0], sd[0]], [np.mean(x / 1e300) * 1e300, np.std(x / 1e300) * 1e300]
    )
    ds = from_frame(pd.DataFrame({"big": x, "y": rng.normal(size=50)}), "y")
    np.testing.assert_allclose(ds.X.std(axis=0), 1.0)
    assert np.isfinite(ds.X).all() and np.abs(ds.X).max() > 0.5


def test_tiny_scale_is_not_constant_but_subnormal_is_refused(rng):
    x = 1e-13 * rng.normal(size=40)
    ds = from_frame(pd.DataFrame({"small": x, "y": rng.normal(size=40)}), "y")
    np.testing.assert_allclose(ds.X.std(axis=0), 1.0)
    with pytest.raises(DataError, match=r"feature 'sub' has scale .*subnormal"):
        scales(1e-310 * rng.normal(size=(40, 1)), ["sub"])


def test_constant_relative_to_size(rng):
    x = 1000.0 + 1e-11 * rng.normal(size=30)  # variation at rounding level of 1000
    with pytest.raises(DataError, match="feature 'k' is constant"):
        scales(x[:, None], ["k"])
    with pytest.raises(DataError, match=r"feature 'z' is constant \(all 0\)"):
        scales(np.zeros((5, 1)), ["z"])


@pytest.fixture
def regions(rng):
    n = 40
    return pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "region": rng.choice(["n", "s", "e"], size=n),
            "y": rng.normal(size=n),
        }
    )


def test_json_round_trip_and_hash(regions):
    ds = from_frame(regions, formula="y ~ x1 + C(region)")
    prep = ds.preprocessing
    back = Preprocessing.from_json(prep.to_json())
    assert back == prep
    assert prep.inputs == ("region", "x1") and prep.target == "y"
    assert prep.features == ("x1", "C(region)[T.n]", "C(region)[T.s]")  # no Intercept
    assert prep.sha256 == data_hash(ds.X, ds.y) and len(prep.sha256) == 64
    with pytest.raises(DataError, match="damaged"):
        Preprocessing.from_json("[[[[")


def test_formula_equals_hand_coded_design(regions):
    ds = from_frame(regions, formula="y ~ x1 + C(region)", standardize=False)
    hand = np.column_stack(
        [regions["x1"], regions["region"] == "n", regions["region"] == "s"]
    ).astype(float)
    np.testing.assert_array_equal(ds.X, hand)
    # new data with one level only still gets every column, in the training coding
    new = pd.DataFrame({"region": ["s"], "x1": [0.5]})
    np.testing.assert_array_equal(ds.transform(new), [[0.5, 0.0, 1.0]])


def test_new_data_errors(regions):
    ds = from_frame(regions, formula="y ~ x1 + C(region)")
    with pytest.raises(DataError, match=r"lacks column\(s\) \['region'\]"):
        ds.transform(regions[["x1"]])
    with pytest.raises(DataError, match=r"column\(s\) \['id'\] the run was not fitted on"):
        ds.transform(regions.assign(id=1))
    with pytest.raises(DataError, match=r"level\(s\) \['w'\] not seen"):
        ds.transform(pd.DataFrame({"x1": [0.0], "region": ["w"]}))
    with pytest.raises(DataError, match="pass a DataFrame"):
        ds.transform(np.zeros((2, 3)))
    gap = regions.copy()
    gap.loc[[3, 7], "x1"] = np.nan
    with pytest.raises(DataError, match=r"new data: 2 row\(s\) have missing values \(rows 3, 7"):
        ds.transform(gap)


def test_reordered_dataframe_columns_are_matched_by_name(rng):
    df = pd.DataFrame({"a": rng.normal(size=20), "b": 5 + rng.normal(size=20), "y": 1.0})
    ds = from_frame(df.assign(y=rng.normal(size=20)), "y")
    np.testing.assert_allclose(ds.transform(df[["b", "a"]]), ds.transform(df[["a", "b"]]))
    with pytest.raises(DataError, match=r"column\(s\) \['a'\] are not numeric"):
        ds.transform(df.assign(a="x"))


def test_stateful_formula_transforms_are_refused(regions):
    with pytest.raises(DataError, match="learn from the training data"):
        from_frame(regions, formula="y ~ scale(x1)")


def test_bad_formulas_are_one_line_errors(regions):
    for formula, words in [
        ("y ~ (x1", "cannot be parsed"),
        ("y ~ zz", "['zz'] not found"),
        ("y + x1 ~ region", "left-hand side"),
        ("y ~ y", "also on the right-hand side"),
    ]:
        with pytest.raises(DataError) as exc:
            from_frame(regions, formula=formula)
        assert words in str(exc.value) and "\n" not in str(exc.value)
