"""Recorded preprocessing: how raw data became the model's design matrix, stored with the run.

A run fitted on standardised features predicts correctly only if new data go through the same
map. :class:`Preprocessing` holds that map (feature names and order, the standardisation's
means and sds, the formula and its factor levels, the target, the trials and where the data
came from, with a SHA-256 of the training data). ``fit`` writes it into the run's attributes as
JSON (``attrs["preprocessing"]``; never a pickle: run files may come from strangers) and
``predict`` reads it back.

**Standardisation default.** :data:`STANDARDIZE` (``True``) is the one default of every route
that builds a design matrix from data: ``from_csv``, ``from_frame``, ``load_dataset``,
``fit(spec, data=df, ...)``, the CLI (``--no-standardize`` to opt out) and the scikit-learn
estimators. The weight priors (Normal(0, 1) by default) assume inputs on a unit scale. A design
matrix passed as arrays (``fit(spec, X, y)``) or a :class:`~bayesstack.data.Dataset` is used as
it is unless ``standardize=True`` is passed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from bayesstack.errors import DataError

#: Standardise the features by default (see the module docstring).
STANDARDIZE = True
#: A column whose sd is below this fraction of its largest absolute value is constant.
CONST_RTOL = 1e-12
#: The run attribute that holds the preprocessing (JSON).
PREPROCESSING_ATTR = "preprocessing"

_TINY = float(np.finfo(np.float64).tiny)  # below this a scale is subnormal


def scales(X: np.ndarray, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Means and sds (``ddof=0``) of the columns of ``X``, computed without overflow.

    Each column is divided by its largest absolute value before the moments are taken, so a
    feature around 1e300 gets its true mean and sd instead of an overflowed ``inf``.

    Raises
    ------
    DataError
        Naming the column, for a column that is constant (its sd is below
        :data:`CONST_RTOL` times its largest absolute value) or whose sd is subnormal.
    """
    X = np.asarray(X, dtype=np.float64)
    big = np.max(np.abs(X), axis=0)
    mean = np.zeros(X.shape[1])
    sd = np.zeros(X.shape[1])
    for j, name in enumerate(names):
        m = float(big[j])
        if m == 0.0:
            raise DataError(f"feature {name!r} is constant (all 0); drop it before standardising")
        z = X[:, j] / m
        zm, zs = float(z.mean()), float(z.std())
        if not zs > CONST_RTOL:
            raise DataError(
                f"feature {name!r} is constant (value {float(X[0, j])!r}; sd {zs * m:.3g} is "
                f"below {CONST_RTOL:g} of its size); drop it before standardising"
            )
        mean[j], sd[j] = zm * m, zs * m
        if sd[j] < _TINY:
            raise DataError(
                f"feature {name!r} has scale {sd[j]:.3g}, a subnormal number that loses "
                "precision; rescale the column (e.g. multiply it by 1e300)"
            )
    return mean, sd


def data_hash(X: np.ndarray, y: np.ndarray | None, trials: np.ndarray | None = None) -> str:
    """SHA-256 of the design matrix, response and trials as the model saw them (float64)."""
    h = hashlib.sha256()
    for a in (X, y, trials):
        if a is not None:
            arr = np.ascontiguousarray(np.asarray(a, dtype=np.float64))
            h.update(str(arr.shape).encode())
            h.update(arr.tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class Preprocessing:
    """How raw data become the model's features; stored in a run as JSON.

    Attributes
    ----------
    features : tuple of str
        The model's feature columns, in order (after the formula, when there is one).
    inputs : tuple of str
        The raw columns new data must have: ``features`` without a formula, the columns the
        formula reads with one.
    mean, sd : tuple of float or None
        Standardisation: the model sees ``(x - mean) / sd``; ``None`` when ``x`` is used as is.
    formula : dict or None
        The formula's coding (``bayesstack.data.frames.design``): right-hand side, factor levels
        and the columns it gives.
    target : str
        The response column.
    trials_column : str or None
        Binomial trials: the column of new data that holds them.
    trials_value : int or None
        Binomial trials: one count for every row.
    source : str
        Where the training data came from (a file, a built-in dataset, ``"arrays"``).
    sha256 : str
        :func:`data_hash` of the training data as the model saw them.
    n_dropped : int
        Rows dropped for missing values (``dropna=True``).
    """

    features: tuple[str, ...]
    inputs: tuple[str, ...] = ()
    mean: tuple[float, ...] | None = None
    sd: tuple[float, ...] | None = None
    formula: dict | None = None
    target: str = "y"
    trials_column: str | None = None
    trials_value: int | None = None
    source: str = ""
    sha256: str = ""
    n_dropped: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(str(f) for f in self.features))
        object.__setattr__(self, "inputs", tuple(str(f) for f in self.inputs) or self.features)
        for k in ("mean", "sd"):
            v = getattr(self, k)
            if v is not None:
                object.__setattr__(self, k, tuple(float(x) for x in v))

    @property
    def standardized(self) -> bool:
        """Whether the features are standardised."""
        return self.mean is not None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        d = asdict(self)
        d["features"], d["inputs"] = list(self.features), list(self.inputs)
        for k in ("mean", "sd"):
            d[k] = None if d[k] is None else list(d[k])
        return d

    def to_json(self) -> str:
        """The JSON text stored in ``run.attrs["preprocessing"]``."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Preprocessing:
        """Read :meth:`to_json` back (a one-line error on damaged text)."""
        try:
            d = json.loads(text)
            if not isinstance(d, dict):
                raise TypeError("not an object")
            return cls(**d)
        except (TypeError, ValueError) as exc:
            raise DataError(
                f"run: its {PREPROCESSING_ATTR!r} attribute is damaged ({exc}); fit again"
            ) from None

    # --- new data ---------------------------------------------------------------------------

    def _allowed(self) -> set[str]:
        return {*self.inputs, self.target, *([self.trials_column] if self.trials_column else [])}

    def check_columns(self, df: pd.DataFrame) -> None:
        """One-line errors for missing or extra columns of new data (order does not matter)."""
        cols = [str(c) for c in df.columns]
        missing = [c for c in self.inputs if c not in cols]
        if missing:
            raise DataError(
                f"new data lacks column(s) {missing}; the run needs {list(self.inputs)}"
            )
        extra = [c for c in cols if c not in self._allowed()]
        if extra:
            raise DataError(
                f"new data has column(s) {extra} the run was not fitted on; drop them (the run "
                f"reads {list(self.inputs)}"
                + (f", and may also hold {self.target!r}" if self.target not in self.inputs else "")
                + ")"
            )

    def design(self, X_new: Any) -> np.ndarray:
        """The model's features for new raw data: formula, then standardisation.

        Parameters
        ----------
        X_new : pandas.DataFrame or array-like (M, D)
            A DataFrame is matched by column name (its column order does not matter; the target
            and the trials column may be present and are ignored). An array must have the
            features in the training order (``features``); a run with a formula needs a
            DataFrame.

        Returns
        -------
        np.ndarray
            ``(M, D)`` float64 on the model's scale.
        """
        from bayesstack.data import frames

        if isinstance(X_new, pd.DataFrame):
            df = X_new.set_axis([str(c) for c in X_new.columns], axis=1)
            self.check_columns(df)
            line = frames.na_report(df, list(self.inputs), what="new data")
            if line:
                raise DataError(f"{line}; drop or impute them before predicting")
            if self.formula is not None:
                X = frames.rebuild(df, self.formula).to_numpy()
            else:
                bad = [c for c in self.features if not pd.api.types.is_numeric_dtype(df[c])]
                if bad:
                    raise DataError(
                        f"new data: column(s) {bad} are not numeric "
                        f"(dtype {', '.join(str(df[c].dtype) for c in bad)}); the run was "
                        "fitted on numbers"
                    )
                X = df.loc[:, list(self.features)].to_numpy(dtype=np.float64)
        else:
            if self.formula is not None:
                raise DataError(
                    f"new data: the run was fitted with the formula "
                    f"{self.formula['formula']!r}; pass a DataFrame with columns "
                    f"{list(self.inputs)}"
                )
            try:
                X = np.asarray(X_new, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise DataError(f"new data is not numeric ({exc}); pass numbers") from None
            if X.ndim == 1 and len(self.features) == 1:
                X = X[:, None]
            if X.ndim != 2 or X.shape[1] != len(self.features):
                raise DataError(
                    f"new data has shape {X.shape}; the run needs (rows, {len(self.features)}) "
                    f"with columns {list(self.features)} in that order"
                )
        if X.shape[0] == 0:
            raise DataError("new data has no rows")
        bad = ~np.isfinite(X)
        if bad.any():
            rows = np.flatnonzero(bad.any(axis=1))
            cols = [self.features[j] for j in np.flatnonzero(bad.any(axis=0))]
            raise DataError(
                f"new data: {rows.size} row(s) have missing or infinite values (rows "
                f"{', '.join(map(str, rows[:5]))}, 0-based; column(s) {cols})"
            )
        if self.mean is not None:
            X = (X - np.asarray(self.mean)) / np.asarray(self.sd)
        return X

    def trials_of(self, X_new: Any, trials: Any = None) -> Any:
        """Binomial trials of new data (unchecked): ``trials``, the trials column, or the count."""
        if trials is None and self.trials_column is not None:
            if isinstance(X_new, pd.DataFrame) and self.trials_column in X_new.columns:
                trials = X_new[self.trials_column]
            else:
                raise DataError(
                    f"new data lacks the trials column {self.trials_column!r}; add it or pass "
                    "trials="
                )
        if trials is None:
            trials = self.trials_value
        if trials is None:
            raise DataError(
                "new data: the run's trials were given per row; pass trials= (a count or one "
                "per row) to predict"
            )
        return trials
