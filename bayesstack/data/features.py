"""Feature maps x -> phi(x) that a run was fitted on, stored in the run's attributes.

A GLM fitted on polynomial features is linear in its parameters but not in its raw inputs x.
The run records the map (``attrs["feature_map"]``, JSON) so that the curvature in the raw
inputs can be measured later, by anyone holding the run file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import numpy as np
import xarray as xr

from bayesstack.errors import BayesstackError

FEATURE_MAP_ATTR = "feature_map"


def polynomial_features(X, degree: int = 2):
    """Columns ``[x, x², ..., x^degree]`` of every input, grouped by power.

    Parameters
    ----------
    X : array (..., N, D) or pytensor tensor
        Raw inputs. A pytensor tensor gives a tensor (the curvature code differentiates it).
    degree : int
        Highest power.

    Returns
    -------
    array (..., N, D * degree)
        ``[x_1..x_D, x_1²..x_D², ...]``: the first ``D`` columns are ``X`` itself.
    """
    if hasattr(X, "owner"):  # a pytensor variable
        import pytensor.tensor as pt

        return pt.concatenate([X**k for k in range(1, degree + 1)], axis=-1)
    X = np.asarray(X, dtype=float)
    return np.concatenate([X**k for k in range(1, degree + 1)], axis=-1)


def polynomial_names(names: Sequence[str], degree: int = 2) -> list[str]:
    """Names of :func:`polynomial_features` columns: ``x1, x2, x1^2, x2^2, ...``."""
    return [n if k == 1 else f"{n}^{k}" for k in range(1, degree + 1) for n in names]


def polynomial_map(degree: int, input_names: Sequence[str]) -> dict:
    """The JSON-ready description of a polynomial feature map, for ``attrs["feature_map"]``."""
    return {"kind": "polynomial", "degree": int(degree), "input_names": list(input_names)}


def feature_map_of(
    run: xr.DataTree,
) -> tuple[Callable[[np.ndarray], np.ndarray], np.ndarray] | None:
    """The feature map of a run and its raw inputs, or ``None`` when it was fitted on raw x.

    Returns
    -------
    (phi, X_raw) or None
        ``phi`` maps raw inputs ``(N, D)`` (numpy or pytensor) to the model's features;
        ``X_raw`` is ``(N, D)``, recovered from the stored features (their first ``D`` columns).
    """
    text = run.attrs.get(FEATURE_MAP_ATTR)
    if not text:
        return None
    fmap = json.loads(text)
    if fmap.get("kind") != "polynomial":
        raise BayesstackError(
            f"run: unknown feature map {fmap.get('kind')!r} in attrs['feature_map']; "
            "known: polynomial"
        )
    degree, d = int(fmap["degree"]), len(fmap["input_names"])
    X_raw = run["constant_data"]["X"].values[:, :d]
    return (lambda X: polynomial_features(X, degree)), X_raw
