"""scikit-learn estimators: a stacked GLM fitted by MCMC behind ``fit`` / ``predict``.

>>> from bayesstack.sklearn import StackedGLMRegressor
>>> est = StackedGLMRegressor("stack1-tanh", chains=4, draws=500, tune=500, random_state=1)
>>> est.fit(X, y).predict(X_new)          # posterior mean of E[y | x]     # doctest: +SKIP
>>> est.idata_                            # the run: an ArviZ DataTree      # doctest: +SKIP

They standardise the features by default, as the rest of bayesstack does
(:data:`bayesstack.data.preprocessing.STANDARDIZE`); a constant column gets sd 1 here instead
of an error, as scikit-learn's scalers do. Predictions use :func:`bayesstack.predict`, so the
chain weights of a run that has them apply.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

from bayesstack.data.dataset import Dataset
from bayesstack.data.preprocessing import CONST_RTOL, STANDARDIZE
from bayesstack.errors import BayesstackError
from bayesstack.inference.prediction import predict, predict_summary
from bayesstack.inference.sampling import fit
from bayesstack.spec import Spec, load_spec

__all__ = ["StackedGLMClassifier", "StackedGLMRegressor"]


def _spec(spec: Any) -> Spec:
    if isinstance(spec, Spec):
        return spec
    if isinstance(spec, dict):
        return Spec.from_dict(spec)
    if isinstance(spec, str | Path):
        return load_spec(spec)
    raise BayesstackError(f"spec: give a name, a path, a dict or a Spec, not {type(spec).__name__}")


def _standardized(X: np.ndarray) -> tuple[np.ndarray, dict]:
    """Z-scores; a constant column gets sd 1 (centred only) instead of an error."""
    big = np.max(np.abs(X), axis=0)
    big = np.where(big > 0, big, 1.0)
    z = X / big
    mean, sd = z.mean(axis=0) * big, z.std(axis=0) * big
    sd = np.where(sd > CONST_RTOL * big, sd, 1.0)
    return (X - mean) / sd, {"mean": mean.tolist(), "sd": sd.tolist()}


class _StackedGLM(BaseEstimator):
    """Shared fitting: data to a :class:`~bayesstack.data.Dataset`, then :func:`bayesstack.fit`."""

    _family_kind = "regression"

    def __init__(
        self,
        spec: Any = "stack1-tanh",
        *,
        chains: int = 4,
        draws: int = 1000,
        tune: int = 1000,
        sampler: str = "numpyro",
        random_state: Any = None,
        standardize: bool = STANDARDIZE,
    ) -> None:
        self.spec = spec
        self.chains = chains
        self.draws = draws
        self.tune = tune
        self.sampler = sampler
        self.random_state = random_state
        self.standardize = standardize

    def _seed(self) -> int:
        if isinstance(self.random_state, int | np.integer) and self.random_state >= 0:
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(2**31 - 1))

    def _fit(self, X, y) -> None:
        spec = _spec(self.spec)
        names = [str(c) for c in getattr(self, "feature_names_in_", [])] or [
            f"x{i + 1}" for i in range(X.shape[1])
        ]
        std = None
        if self.standardize:
            X, std = _standardized(X)
        ds = Dataset(
            X=np.asarray(X, dtype=np.float64),
            y=np.asarray(y, dtype=np.float64),
            feature_names=tuple(names),
            target="y",
            name="sklearn",
            standardization=std,
            source="scikit-learn",
        )
        self.spec_ = spec
        self.idata_ = fit(
            spec,
            ds,
            chains=self.chains,
            draws=self.draws,
            tune=self.tune,
            seed=self._seed(),
            sampler=self.sampler,
            posterior_predictive=False,
            progressbar=False,
        )

    def _mean(self, X) -> np.ndarray:
        check_is_fitted(self, "idata_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return predict_summary(predict(self.idata_, X, kind="mean"))["mean"].to_numpy()


class StackedGLMRegressor(RegressorMixin, _StackedGLM):
    """A stacked GLM for a real (or count) response, fitted by MCMC.

    Parameters
    ----------
    spec : str, Path, dict or Spec
        A built-in spec's name (default ``"stack1-tanh"``), a TOML path, a dict or a Spec; its
        family must not be Bernoulli or binomial (use :class:`StackedGLMClassifier`).
    chains, draws, tune : int
        MCMC settings, as :func:`bayesstack.fit` names them.
    sampler : str
        ``"numpyro"`` (default), ``"nutpie"``, ``"pymc"`` or ``"blackjax"``.
    random_state : int, RandomState or None
        The run seed (an int is used as it is, so ``bs.fit(..., seed=random_state)`` gives the
        same draws).
    standardize : bool
        Z-score the features (default ``True``).

    Attributes
    ----------
    idata_ : xarray.DataTree
        The fitted run.
    n_features_in_, feature_names_in_
        As scikit-learn sets them.
    """

    def fit(self, X, y):
        """Fit by MCMC; returns ``self``."""
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        family = _spec(self.spec).family
        if family in ("bernoulli", "binomial"):
            raise ValueError(
                f"spec {_spec(self.spec).name!r} has family {family!r}; use StackedGLMClassifier"
            )
        self._fit(X, y)
        return self

    def predict(self, X) -> np.ndarray:
        """Posterior mean of E[y | x] at every row of ``X``."""
        return self._mean(X)


class StackedGLMClassifier(ClassifierMixin, _StackedGLM):
    """A stacked GLM for two classes (Bernoulli likelihood), fitted by MCMC.

    Parameters are those of :class:`StackedGLMRegressor`; the default spec is
    ``"stack1-tanh-logistic"`` and the spec's family must be ``"bernoulli"``.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The two class labels; the second is coded 1.
    idata_ : xarray.DataTree
        The fitted run.
    """

    def __init__(
        self,
        spec: Any = "stack1-tanh-logistic",
        *,
        chains: int = 4,
        draws: int = 1000,
        tune: int = 1000,
        sampler: str = "numpyro",
        random_state: Any = None,
        standardize: bool = STANDARDIZE,
    ) -> None:
        super().__init__(
            spec,
            chains=chains,
            draws=draws,
            tune=tune,
            sampler=sampler,
            random_state=random_state,
            standardize=standardize,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False  # a Bernoulli likelihood: two classes
        return tags

    def fit(self, X, y):
        """Fit by MCMC; returns ``self``."""
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise ValueError(
                "Only binary classification is supported: StackedGLMClassifier has a Bernoulli "
                f"likelihood and needs two classes, got {len(self.classes_)} class(es)"
            )
        if _spec(self.spec).family != "bernoulli":
            raise ValueError(f"spec {_spec(self.spec).name!r}: the family must be 'bernoulli'")
        self._fit(X, (y == self.classes_[1]).astype(np.float64))
        return self

    def predict_proba(self, X) -> np.ndarray:
        """``(n, 2)``: posterior mean probabilities of ``classes_[0]`` and ``classes_[1]``."""
        p = self._mean(X)
        return np.column_stack([1 - p, p])

    def predict(self, X) -> np.ndarray:
        """The class with posterior mean probability above 1/2."""
        p = self.predict_proba(X)[:, 1]
        return self.classes_[(p > 0.5).astype(int)]
