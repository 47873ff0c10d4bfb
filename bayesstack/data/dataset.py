"""Datasets: loading from CSV / DataFrames, standardisation, validation of y against a family.

Every problem with user data raises :class:`bayesstack.errors.DataError` with a one-line message
that names the field or column, quotes the bad value and says how to fix it.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bayesstack.data import frames
from bayesstack.data.preprocessing import STANDARDIZE, Preprocessing, data_hash, scales
from bayesstack.errors import DataError
from bayesstack.registry import FAMILIES
from bayesstack.spec import MAX_TRIALS

__all__ = [
    "Dataset",
    "from_csv",
    "from_frame",
    "validate",
    "validate_trials",
]


def _one_line(text: object) -> str:
    """Collapse whitespace (including newlines) so a message fits on one line."""
    return " ".join(str(text).split())


def _fmt(value: object) -> str:
    """Quote a value for an error message: repr of a plain Python scalar."""
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)


@dataclass(frozen=True, eq=False)
class Dataset:
    """A design matrix and a response, ready for a model.

    Parameters
    ----------
    X : np.ndarray
        Features, shape ``(N, D)``, float64.
    y : np.ndarray
        Response, shape ``(N,)``, float64.
    feature_names : tuple of str
        One name per column of ``X``.
    target : str
        Name of the response.
    name : str
        Short name of the dataset.
    trials : np.ndarray or None
        Number of trials per row, shape ``(N,)``, int64 (binomial only).
    standardization : dict or None
        ``{"mean": [...], "sd": [...]}`` (one float per feature, ``sd`` with ``ddof=0``) mapping
        raw features to ``X``: ``X = (X_raw - mean) / sd``. ``None`` when ``X`` is raw.
    description : str
        Free text: provenance, coding of ``y``, preprocessing.
    formula : dict or None
        The formula's coding when ``X`` came from a formula (:func:`bayesstack.data.frames.design`).
    trials_column : str or None
        The column the trials came from.
    source : str
        Where the data came from (a file path, a built-in dataset); default ``name``.
    n_dropped : int
        Rows dropped for missing values (``dropna=True``).

    Notes
    -----
    Arrays are compared by identity (``eq=False``); compare fields with numpy instead.
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    target: str
    name: str
    trials: np.ndarray | None = None
    standardization: dict | None = None
    description: str = ""
    formula: dict | None = None
    trials_column: str | None = None
    source: str = ""
    n_dropped: int = 0

    def __post_init__(self) -> None:
        n, d = self.X.shape if self.X.ndim == 2 else (-1, -1)
        if self.X.ndim != 2:
            raise DataError(f"Dataset.X must be 2-D (N, D), got shape {self.X.shape}; reshape it")
        if self.y.shape != (n,):
            raise DataError(
                f"Dataset.y has shape {self.y.shape} but X has {n} rows; pass one y per row of X"
            )
        if len(self.feature_names) != d:
            raise DataError(
                f"Dataset.feature_names has {len(self.feature_names)} names but X has {d} "
                "columns; give one name per column"
            )
        if self.trials is not None and np.shape(self.trials) != (n,):
            raise DataError(
                f"Dataset.trials has shape {np.shape(self.trials)} but X has {n} rows; "
                "give one trial count per row"
            )

    @property
    def n(self) -> int:
        """Number of rows (observations)."""
        return int(self.X.shape[0])

    @property
    def d(self) -> int:
        """Number of features."""
        return int(self.X.shape[1])

    def standardize(self) -> Dataset:
        """Return a copy with z-scored features (mean 0, sd 1 with ``ddof=0``).

        Standardising an already standardised dataset composes the two maps, so
        :meth:`transform` always maps raw features to the new ``X``.

        Returns
        -------
        Dataset
            A new dataset; ``standardization`` holds the raw-scale means and sds.

        Raises
        ------
        DataError
            If a feature is constant relative to its size, or its scale is subnormal
            (:func:`bayesstack.data.preprocessing.scales`).
        """
        mean, sd = scales(self.X, self.feature_names)
        X = (self.X - mean) / sd
        if self.standardization is not None:
            # x_raw -> (x_raw - m1) / s1 -> ((x_raw - m1) / s1 - m2) / s2
            m1 = np.asarray(self.standardization["mean"], dtype=np.float64)
            s1 = np.asarray(self.standardization["sd"], dtype=np.float64)
            mean, sd = m1 + s1 * mean, s1 * sd
        std = {"mean": [float(v) for v in mean], "sd": [float(v) for v in sd]}
        return dataclasses.replace(self, X=X, standardization=std)

    @property
    def preprocessing(self) -> Preprocessing:
        """The map from raw data to ``X``, as a run records it (JSON-ready)."""
        std = self.standardization
        trials_value = None
        if self.trials is not None and self.trials_column is None:
            t = np.unique(self.trials)
            trials_value = int(t[0]) if t.size == 1 else None
        return Preprocessing(
            features=self.feature_names,
            inputs=tuple(self.formula["inputs"]) if self.formula else self.feature_names,
            mean=None if std is None else std["mean"],
            sd=None if std is None else std["sd"],
            formula=self.formula,
            target=self.target,
            trials_column=self.trials_column,
            trials_value=trials_value,
            source=self.source or self.name,
            sha256=data_hash(self.X, self.y, self.trials),
            n_dropped=self.n_dropped,
        )

    def transform(self, Xnew: Any) -> np.ndarray:
        """Apply this dataset's preprocessing (formula, standardisation) to new raw data.

        Parameters
        ----------
        Xnew : array-like or pandas.DataFrame
            Raw data, ``(M, D)``. A DataFrame is matched by column name (any order); a 1-D
            array is accepted only when ``D == 1``.

        Returns
        -------
        np.ndarray
            ``(M, D)`` float64 array on the scale of ``self.X``.
        """
        return self.preprocessing.design(Xnew)


# --- validation -------------------------------------------------------------------------------


def _column_names(X: Any) -> list[str] | None:
    if isinstance(X, pd.DataFrame):
        return [str(c) for c in X.columns]
    return None


def _to_numpy(obj: Any, field: str) -> np.ndarray:
    """Convert array-likes (including pandas nullable dtypes) to float64."""
    try:
        if isinstance(obj, (pd.DataFrame, pd.Series)):
            arr = obj.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            raw = np.asarray(obj)
            if np.iscomplexobj(raw):
                raise DataError(f"{field} is complex; pass real numbers")
            arr = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(
            f"{field} is not numeric ({_one_line(exc)}); encode text/categorical columns as "
            "numbers first (e.g. one 0/1 column per category)"
        ) from None
    return arr


def _as_float_matrix(X: Any, field: str, names: list[str] | None, *, one_d: str) -> np.ndarray:
    arr = _to_numpy(X, field)
    if arr.ndim == 1:
        if one_d == "column" and names is not None and len(names) != 1:
            raise DataError(
                f"{field} is 1-D with {arr.shape[0]} values but {len(names)} features are "
                "expected; pass a 2-D array of shape (rows, features)"
            )
        arr = arr[:, None]
    if arr.ndim != 2:
        raise DataError(f"{field} must be 2-D (rows, features), got shape {arr.shape}; reshape it")
    return arr


def _col_label(names: list[str] | None, j: int) -> str:
    return f"column {names[j]!r} (index {j})" if names else f"column {j}"


def _check_finite_matrix(X: np.ndarray, field: str, names: list[str] | None) -> None:
    bad = ~np.isfinite(X)
    if bad.any():
        j = int(np.flatnonzero(bad.any(axis=0))[0])
        i = int(np.flatnonzero(bad[:, j])[0])
        raise DataError(
            f"{field} {_col_label(names, j)} has {_fmt(float(X[i, j]))} at row {i} "
            "(0-based); drop or impute missing/infinite values"
        )


def _first_bad(mask: np.ndarray) -> int | None:
    idx = np.flatnonzero(mask)
    return int(idx[0]) if idx.size else None


def validate_trials(trials: Any, n: int) -> np.ndarray:
    """Check binomial trial counts and broadcast them to one per row.

    Parameters
    ----------
    trials : int or array-like
        A positive integer, or one positive integer per row.
    n : int
        Number of rows.

    Returns
    -------
    np.ndarray
        ``(n,)`` int64 array.
    """
    arr = _to_numpy(trials, "trials")
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.ndim != 1 or arr.shape[0] != n:
        raise DataError(
            f"trials has shape {arr.shape} but there are {n} rows; pass one positive integer "
            "or one per row"
        )
    # above MAX_TRIALS a float64 skips integers and the int64 cast below wraps
    bad = _first_bad(~np.isfinite(arr) | (arr < 1) | (arr != np.round(arr)) | (arr > MAX_TRIALS))
    if bad is not None:
        raise DataError(
            f"trials must be positive integers up to 2**53, got {_fmt(float(arr[bad]))} at row "
            f"{bad}; give the number of trials (>= 1) for every row"
        )
    return arr.astype(np.int64)


def _check_support(y: np.ndarray, family: str, ylabel: str, trials: np.ndarray | None) -> None:
    support = FAMILIES[family].support
    bad = _first_bad(support.invalid(y))
    if bad is not None:
        raise DataError(
            f"{ylabel} = {_fmt(float(y[bad]))} at row {bad} is not valid for family "
            f"{family!r}: each value must be {support.need}"
        )
    if support.needs_trials:
        over = _first_bad(y > trials)
        if over is not None:
            raise DataError(
                f"{ylabel} = {_fmt(float(y[over]))} at row {over} exceeds its trials "
                f"({int(trials[over])}) for family {family!r}; y counts successes out of "
                "trials, so check y and trials"
            )


def validate(X: Any, y: Any, family: str, *, trials: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Check features and response and return them as float64 arrays.

    Parameters
    ----------
    X : array-like or pandas.DataFrame
        Features, ``(N, D)``; a 1-D array becomes one column. DataFrame column names are used in
        error messages.
    y : array-like or pandas.Series
        Response, ``(N,)`` (an ``(N, 1)`` column is flattened).
    family : str
        A family of ``registry.FAMILIES``; fixes the support ``y`` must lie in.
    trials : int or array-like, optional
        Binomial trial counts (required for, and only allowed with, ``family="binomial"``).

    Returns
    -------
    X, y : np.ndarray
        ``(N, D)`` and ``(N,)`` float64 arrays.

    Raises
    ------
    DataError
        On an unknown family, wrong shapes, NaN/inf, or ``y`` outside the family's support.
    """
    if family not in FAMILIES:
        raise DataError(f"family {family!r} is unknown; use one of {', '.join(FAMILIES)}")
    names = _column_names(X)
    Xa = _as_float_matrix(X, "X", names, one_d="column")
    if Xa.shape[0] == 0:
        raise DataError("X has no rows; pass at least one observation")
    if Xa.shape[1] == 0:
        raise DataError("X has no feature columns; pass at least one feature")
    ylabel = f"y ({y.name!r})" if isinstance(y, pd.Series) and y.name is not None else "y"
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise DataError(f"y is a DataFrame with {y.shape[1]} columns; pass a single column")
        ylabel = f"y ({str(y.columns[0])!r})"
    ya = _to_numpy(y, "y")
    if ya.ndim == 2 and ya.shape[1] == 1:
        ya = ya[:, 0]
    if ya.ndim != 1:
        raise DataError(f"y must be 1-D (one value per row), got shape {ya.shape}; flatten it")
    if ya.shape[0] != Xa.shape[0]:
        raise DataError(
            f"X has {Xa.shape[0]} rows but y has {ya.shape[0]} values; pass one y per row of X"
        )
    _check_finite_matrix(Xa, "X", names)
    bad = _first_bad(~np.isfinite(ya))
    if bad is not None:
        raise DataError(
            f"{ylabel} has {_fmt(float(ya[bad]))} at row {bad} (0-based); drop or impute "
            "missing/infinite values"
        )
    tr = None
    if FAMILIES[family].support.needs_trials:
        if trials is None:
            raise DataError(
                f"family {family!r} needs trials; give trials (--trials N or a column name)"
            )
        tr = validate_trials(trials, ya.shape[0])
    elif trials is not None:
        raise DataError(
            f"trials is only used by family 'binomial', not {family!r}; drop trials or use "
            "family 'binomial'"
        )
    _check_support(ya, family, ylabel, tr)
    return Xa, ya


# --- loading ----------------------------------------------------------------------------------


def _trials_arg(trials: Any, columns: list[str]) -> Any:
    """A trials column name, one positive integer count (also as a string), or per-row counts."""
    if isinstance(trials, str) and trials in columns:
        return trials
    if isinstance(trials, str):
        try:
            count = float(trials)
        except ValueError:
            raise DataError(
                f"trials column {trials!r} not found; available columns: {', '.join(columns)}"
            ) from None
    elif isinstance(trials, numbers.Real):
        count = trials
    else:
        return trials  # None, or per-row counts: validate_trials checks them
    try:
        ok = not isinstance(trials, bool) and math.isfinite(count) and count >= 1
    except OverflowError:  # an int beyond the float range
        ok = False
    if not (ok and float(count).is_integer()):
        raise DataError(f"trials: must be a positive integer or a column name, got {trials!r}")
    return int(count)


def from_frame(
    df: pd.DataFrame,
    target: str | None = None,
    *,
    formula: str | None = None,
    features: Sequence[str] | None = None,
    trials: str | int | None = None,
    standardize: bool = STANDARDIZE,
    dropna: bool = False,
    name: str = "data",
    family: str | None = None,
    description: str = "",
    source: str = "",
) -> Dataset:
    """Build a :class:`Dataset` from a DataFrame.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per observation.
    target : str, optional
        Name of the response column (or give it as the formula's left-hand side).
    formula : str, optional
        A formula such as ``"y ~ x1 + C(region)"``, turned into the design matrix by formulaic
        (:mod:`bayesstack.data.frames`); its intercept column is dropped (the network has its
        own bias) and its coding is stored for prediction.
    features : sequence of str, optional
        Feature columns (without a formula); default: every column except ``target`` and a
        ``trials`` column.
    trials : str or int, optional
        Binomial trials: a column name or one positive integer for every row.
    standardize : bool
        Z-score the features (default :data:`~bayesstack.data.preprocessing.STANDARDIZE`,
        ``True``; see :meth:`Dataset.standardize`).
    dropna : bool
        Drop rows with a missing value in a column the model reads. Without it (the default)
        such rows are a one-line error that counts them and names the first rows and columns.
    name : str
        Name of the dataset.
    family : str, optional
        Check ``y`` against this family's support. Default: ``"binomial"`` when ``trials`` is
        given, otherwise only finiteness is checked.
    description : str
        Free text stored on the dataset.
    source : str
        Where the data came from (stored in a run's preprocessing); default ``name``.

    Returns
    -------
    Dataset
    """
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame, got {type(df).__name__}; load it first")
    columns = [str(c) for c in df.columns]
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        raise DataError(f"column name(s) {dupes} appear more than once; rename them")
    df = df.set_axis(columns, axis=1)
    rhs = None
    if formula is not None:
        lhs, rhs = frames.split_formula(formula)
        if features is not None:
            raise DataError("features: give either a formula or features, not both")
        if lhs is not None and target is not None and lhs != target:
            raise DataError(f"target {target!r} differs from the formula's response {lhs!r}")
        target = lhs or target
    if target is None:
        raise DataError("target: name the response column (or write the formula as 'y ~ ...')")
    if target not in columns:
        raise DataError(
            f"target column {target!r} not found; available columns: {', '.join(columns)}"
        )
    trials = _trials_arg(trials, columns)
    trials_col = trials if isinstance(trials, str) else None
    if rhs is not None:
        inputs = frames.required_columns(rhs)
        missing = [f for f in inputs if f not in columns]
        if missing:
            raise DataError(
                f"formula: column(s) {missing} not found; available columns: {', '.join(columns)}"
            )
        if target in inputs:
            raise DataError(f"formula: the response {target!r} is also on the right-hand side")
    elif features is None:
        inputs = [c for c in columns if c not in (target, trials_col)]
    else:
        inputs = [str(f) for f in features]
        missing = [f for f in inputs if f not in columns]
        if missing:
            raise DataError(
                f"feature column(s) {missing} not found; available columns: {', '.join(columns)}"
            )
        if target in inputs:
            raise DataError(f"target {target!r} is also listed in features; remove it there")
        if len(set(inputs)) != len(inputs):
            raise DataError(f"features {inputs} contain duplicates; list each column once")
    if not inputs and rhs is None:
        raise DataError(
            f"no feature columns besides target {target!r}; add feature columns to the data"
        )
    used = [*inputs, target, *([trials_col] if trials_col else [])]
    line = frames.na_report(df, used)
    n_dropped = 0
    if line and dropna:
        keep = ~df.loc[:, used].isna().to_numpy().any(axis=1)
        n_dropped = int((~keep).sum())
        df = df.loc[keep].reset_index(drop=True)
        if df.shape[0] == 0:
            raise DataError(f"{line}; every row has one, so nothing is left after dropna")
    elif line:
        raise DataError(f"{line}; drop them first, or pass dropna=True (--dropna)")
    if rhs is not None:
        Xdf, encoding = frames.design(df, rhs)
        features = list(Xdf.columns)
    else:
        encoding = None
        features = inputs
        non_numeric = [f for f in features if not pd.api.types.is_numeric_dtype(df[f])]
        if non_numeric:
            raise DataError(
                f"feature column(s) {non_numeric} are not numeric; encode them with a formula "
                f"(formula='{target} ~ ... + C({non_numeric[0]})', --formula) or remove them "
                "from the data"
            )
        Xdf = df[features]
    if not pd.api.types.is_numeric_dtype(df[target]):
        raise DataError(
            f"target column {target!r} is not numeric (dtype {df[target].dtype}); encode it as "
            "numbers (e.g. 0/1 for two classes)"
        )
    tr_values: Any = df[trials_col] if trials_col is not None else trials
    fam = family if family is not None else ("binomial" if trials is not None else "gaussian")
    X, y = validate(Xdf, df[target], fam, trials=tr_values)
    tr = validate_trials(tr_values, len(y)) if tr_values is not None else None
    ds = Dataset(
        X=X,
        y=y,
        feature_names=tuple(features),
        target=target,
        name=name,
        trials=tr,
        description=description,
        formula=encoding,
        trials_column=trials_col,
        source=source or name,
        n_dropped=n_dropped,
    )
    return ds.standardize() if standardize else ds


def from_csv(path: str | Path, target: str | None = None, **kw: Any) -> Dataset:
    """Read a CSV file (with a header row) into a :class:`Dataset`.

    Parameters
    ----------
    path : str or Path
        The CSV file.
    target : str, optional
        Name of the response column (or the left-hand side of ``formula=``).
    **kw
        Passed to :func:`from_frame` (``formula``, ``standardize`` (default ``True``),
        ``dropna``, ``trials``, ...); ``name`` defaults to the file's stem.

    Returns
    -------
    Dataset
    """
    p = Path(path)
    if not p.is_file():
        what = "is a directory, not a file" if p.is_dir() else "not found"
        raise DataError(f"data file '{p}' {what}; check the path")
    try:
        df = pd.read_csv(p)
        # the header as written: read_csv renames a repeated name 'y' to 'y.1'
        header = pd.read_csv(p, header=None, nrows=1, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"data file '{p}' is empty; it needs a header row and data") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(
            f"data file '{p}' is not valid CSV ({_one_line(exc)}); fix the file"
        ) from None
    except OSError as exc:
        raise DataError(f"cannot read data file '{p}' ({_one_line(exc)}); check it") from None
    names = [str(c) for c in header.iloc[0]]
    dupes = [c for i, c in enumerate(names) if c in names[:i]]
    if dupes:
        raise DataError(f"data file '{p}': duplicate column name {dupes[0]!r}; rename it")
    if df.shape[0] == 0:
        raise DataError(f"data file '{p}' has a header but no rows; add data rows")
    kw.setdefault("name", p.stem)
    kw.setdefault("source", str(p))
    return from_frame(df, target, **kw)
