"""The scikit-learn estimators: scikit-learn's own estimator checks, and a known answer."""

import numpy as np
import pytest
from sklearn.model_selection import cross_val_score
from sklearn.utils.estimator_checks import check_estimator

from bayesstack.sklearn import StackedGLMClassifier, StackedGLMRegressor

# Tiny runs: the checks fit dozens of times. nutpie reuses a compiled model for data of any
# length (one compile per number of features); the JAX route compiles once per data shape.
TINY = {"chains": 1, "draws": 20, "tune": 20, "sampler": "nutpie"}


@pytest.mark.parametrize(
    "estimator",
    [StackedGLMRegressor("glm-gaussian", **TINY), StackedGLMClassifier("glm-logistic", **TINY)],
    ids=lambda e: type(e).__name__,
)
# scikit-learn skips its array-API check unless SCIPY_ARRAY_API is set, and says so by a warning
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
def test_check_estimator(estimator):
    # No check is skipped: every check scikit-learn runs passes (check_array_api_input is
    # skipped by scikit-learn itself unless SCIPY_ARRAY_API is set). Multi-class checks are
    # not run for the classifier: its tags say binary only (a Bernoulli likelihood), and
    # check_classifier_not_supporting_multiclass checks that it says so on fit.
    results = check_estimator(estimator, on_fail=None)
    failed = [(r["check_name"], str(r["exception"])) for r in results if r["status"] == "failed"]
    assert failed == []


def test_regressor_recovers_a_line_and_scores_in_cross_validation():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(80, 2)) * [1.0, 10.0]
    y = 1.0 + X @ [2.0, -0.3] + 0.1 * rng.normal(size=80)
    est = StackedGLMRegressor("glm-gaussian", chains=2, draws=200, tune=200, random_state=1)
    assert est.fit(X, y).score(X, y) > 0.99
    assert {"posterior", "log_likelihood"} <= set(est.idata_.children)
    scores = cross_val_score(est, X, y, cv=3)
    assert scores.min() > 0.98


def test_classifier_labels_and_probabilities():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(120, 2))
    y = np.where(X[:, 0] - X[:, 1] + 0.3 * rng.normal(size=120) > 0, "yes", "no")
    est = StackedGLMClassifier("glm-logistic", chains=2, draws=200, tune=200, random_state=0)
    est.fit(X, y)
    p = est.predict_proba(X)
    assert list(est.classes_) == ["no", "yes"] and np.allclose(p.sum(1), 1)
    assert est.score(X, y) > 0.9 and set(est.predict(X)) <= {"no", "yes"}
    with pytest.raises(ValueError, match="Only binary classification"):
        est.fit(X, np.arange(120) % 3)
