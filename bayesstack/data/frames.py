"""Data frames to design matrices: formulas (with formulaic), categorical coding, missing values.

A formula such as ``"y ~ x1 + C(region)"`` is turned into a numeric design matrix by
`formulaic <https://matthewwardrop.github.io/formulaic/>`_, not by hand. The coding it used (the
formula and the levels of every categorical factor) is kept as plain JSON, so that a run can
rebuild exactly the same columns on new data without pickles. The formula's intercept column
is dropped: the network's output layer has its own bias.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from bayesstack.errors import DataError

#: Formula transforms that learn from the training data (their state would not be stored).
_STATEFUL_HINT = (
    "bayesstack standardises the design matrix itself (standardize=True); write the plain "
    "column instead"
)


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _plain(value: Any) -> Any:
    """A level as a JSON value (numpy scalars become Python scalars)."""
    return value.item() if isinstance(value, np.generic) else value


def na_report(df: pd.DataFrame, columns: Sequence[str], *, what: str = "data") -> str | None:
    """One line describing the rows of ``df[columns]`` with missing values, or ``None``.

    The line gives the number of rows, the first few row numbers (0-based) and the columns.
    """
    if not len(columns):
        return None
    mask = df.loc[:, list(columns)].isna()
    rows = np.flatnonzero(mask.to_numpy().any(axis=1))
    if rows.size == 0:
        return None
    cols = [c for c in columns if bool(mask[c].any())]
    first = ", ".join(str(int(r)) for r in rows[:5]) + (", ..." if rows.size > 5 else "")
    word = "row" if rows.size == 1 else "rows"
    return (
        f"{what}: {rows.size} row(s) have missing values ({word} {first}, 0-based; in column(s) "
        f"{', '.join(map(repr, cols))})"
    )


def split_formula(formula: str) -> tuple[str | None, str]:
    """``(target, right-hand side)`` of ``"y ~ x1 + x2"``; the target is ``None`` without ``~``.

    Raises
    ------
    DataError
        On a formula formulaic cannot parse, or a left-hand side that is not one column.
    """
    from formulaic import Formula

    if not isinstance(formula, str) or not formula.strip():
        raise DataError(f"formula: must be text such as 'y ~ x1 + C(region)', got {formula!r}")
    try:
        parsed = Formula(formula)
    except Exception as exc:  # formulaic's syntax errors come in several classes
        raise DataError(f"formula {formula!r} cannot be parsed ({_one_line(exc)})") from None
    if "~" not in formula:
        return None, str(parsed)
    lhs = list(parsed.lhs)
    if len(lhs) != 1 or str(lhs[0]) not in parsed.lhs.required_variables:
        raise DataError(
            f"formula {formula!r}: the left-hand side must be one column (the response), "
            f"got {str(parsed.lhs)!r}"
        )
    return str(lhs[0]), formula.split("~", 1)[1].strip()


def required_columns(rhs: str) -> list[str]:
    """The data columns the right-hand side of a formula reads."""
    from formulaic import Formula

    return sorted(Formula(rhs).required_variables)


def _encoding_json(model_spec) -> dict[str, Any]:
    state = {}
    for factor, (kind, st) in model_spec.encoder_state.items():
        entry: dict[str, Any] = {"kind": kind.value}
        if "categories" in st:
            entry["levels"] = [_plain(c) for c in st["categories"]]
        state[factor] = entry
    return state


def design(df: pd.DataFrame, rhs: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The design matrix of a formula's right-hand side on ``df``, and its coding as JSON.

    Parameters
    ----------
    df : pandas.DataFrame
        Training data without missing values in the columns the formula reads.
    rhs : str
        The right-hand side, e.g. ``"x1 + C(region)"``.

    Returns
    -------
    X : pandas.DataFrame
        float64 columns named as formulaic names them, without the intercept column.
    encoding : dict
        ``{"formula": rhs, "inputs": [...], "factors": {factor: {"kind", "levels"}},
        "columns": [...]}``: everything :func:`rebuild` needs, JSON-ready.
    """
    from formulaic import model_matrix

    missing = [c for c in required_columns(rhs) if c not in df.columns]
    if missing:
        raise DataError(
            f"formula: column(s) {missing} not found; available columns: "
            f"{', '.join(map(str, df.columns))}"
        )
    try:
        X = model_matrix(rhs, df, na_action="raise")
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"formula {rhs!r} cannot be applied ({_one_line(exc)})") from None
    spec = X.model_spec
    if spec.transform_state:
        raise DataError(
            f"formula: transform(s) {sorted(spec.transform_state)} learn from the training "
            f"data, which a run cannot store; {_STATEFUL_HINT}"
        )
    X = X.drop(columns=[c for c in X.columns if c == "Intercept"])
    if X.shape[1] == 0:
        raise DataError(f"formula {rhs!r} gives no columns besides the intercept; add a term")
    X = X.astype(np.float64)
    encoding = {
        "formula": rhs,
        "inputs": sorted(spec.required_variables),
        "factors": _encoding_json(spec),
        "columns": [str(c) for c in X.columns],
    }
    return X, encoding


def rebuild(df: pd.DataFrame, encoding: dict[str, Any]) -> pd.DataFrame:
    """The design matrix of new data with a stored coding (same columns, or a one-line error)."""
    from formulaic import ModelSpec
    from formulaic.parser.types import Factor

    state = {}
    for factor, entry in encoding["factors"].items():
        extra = {"categories": list(entry["levels"])} if "levels" in entry else {}
        state[factor] = (Factor.Kind(entry["kind"]), extra)
    spec = ModelSpec(formula=encoding["formula"], encoder_state=state)
    for factor, entry in encoding["factors"].items():
        col = factor[2:-1].split(",")[0].strip() if factor.startswith("C(") else factor
        if "levels" in entry and col in df.columns:
            unseen = sorted({_plain(v) for v in df[col].unique()} - set(entry["levels"]), key=str)
            if unseen:
                raise DataError(
                    f"new data: column {col!r} has level(s) {unseen[:5]} not seen in the "
                    f"training data (levels {entry['levels'][:10]})"
                )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # formulaic warns, and codes 0, on unseen levels
            X = spec.get_model_matrix(df, na_action="raise")
    except Exception as exc:
        raise DataError(
            f"new data: the formula {encoding['formula']!r} cannot be applied ({_one_line(exc)})"
        ) from None
    X = X.drop(columns=[c for c in X.columns if c == "Intercept"])
    if [str(c) for c in X.columns] != list(encoding["columns"]):
        raise DataError(
            f"new data: the formula gives columns {[str(c) for c in X.columns]}, the run was "
            f"fitted on {encoding['columns']}"
        )
    return X.astype(np.float64)
