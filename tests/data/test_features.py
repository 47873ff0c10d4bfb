import json

import numpy as np
import xarray as xr

from bayesstack.data.features import (
    FEATURE_MAP_ATTR,
    feature_map_of,
    polynomial_features,
    polynomial_map,
    polynomial_names,
)


def test_polynomial_features(rng):
    X = rng.normal(size=(5, 2))
    P = polynomial_features(X, 3)
    np.testing.assert_array_equal(P[:, :2], X)
    np.testing.assert_allclose(P[:, 2:4], X**2)
    np.testing.assert_allclose(P[:, 4:], X**3)
    assert polynomial_names(["a", "b"], 2) == ["a", "b", "a^2", "b^2"]


def test_feature_map_round_trip(rng):
    X = rng.normal(size=(6, 2))
    run = xr.DataTree.from_dict(
        {"constant_data": xr.Dataset({"X": (("obs", "feature"), polynomial_features(X, 2))})}
    )
    assert feature_map_of(run) is None
    run.attrs[FEATURE_MAP_ATTR] = json.dumps(polynomial_map(2, ["x1", "x2"]))
    phi, X_raw = feature_map_of(run)
    np.testing.assert_array_equal(X_raw, X)
    np.testing.assert_allclose(phi(X_raw), polynomial_features(X, 2))
