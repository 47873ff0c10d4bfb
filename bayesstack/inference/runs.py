"""What a run records beyond its draws: preprocessing, raw-scale GLM coefficients, attached specs.

:func:`attach_spec` gives a run sampled with plain ``pm.sample`` what :func:`bayesstack.fit`
would have stored.
"""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from bayesstack.data.preprocessing import PREPROCESSING_ATTR, Preprocessing, data_hash
from bayesstack.errors import BayesstackError
from bayesstack.inference.io import SPEC_ATTR, spec_of
from bayesstack.model.network import param_shapes, weight_names
from bayesstack.spec import Spec

__all__ = ["attach_spec", "preprocessing_of", "raw_coefficients"]


def preprocessing_of(run: xr.DataTree) -> Preprocessing:
    """The preprocessing a run was fitted with (``attrs["preprocessing"]``).

    Raises
    ------
    BayesstackError
        When the run records none (fitted by an older bayesstack, or sampled with plain PyMC):
        its features may have been standardised without a record, so predictions would be
        silently wrong.
    """
    text = run.attrs.get(PREPROCESSING_ATTR)
    if not text:
        raise BayesstackError(
            f"run: no {PREPROCESSING_ATTR!r} attribute, so the map from raw data to its "
            "features is unknown; fit it again with this bayesstack, or record it with "
            "bs.attach_spec(run, spec, X, y)"
        )
    return Preprocessing.from_json(text)


def raw_coefficients(run: xr.DataTree) -> xr.DataTree:
    """A GLM's coefficients on the raw scale of its features, draw by draw.

    With standardised features ``z = (x - m) / s`` the linear predictor
    ``b + sum_j w_j z_j`` equals ``(b - sum_j w_j m_j / s_j) + sum_j (w_j / s_j) x_j``: exactly,
    for every draw. Only depth-0 models (GLMs) have coefficients in this sense.

    Parameters
    ----------
    run : xarray.DataTree
        A run of a depth-0 spec, fitted by :func:`bayesstack.fit`.

    Returns
    -------
    xarray.DataTree
        A ``posterior`` group with ``W1`` (``chain, draw, feature``) per raw unit of each
        feature, ``b1`` the intercept at raw ``x = 0``, and the noise parameters unchanged; so
        ``az.summary(bs.raw_coefficients(run))`` reads on the raw scale. Unstandardised runs
        come back unchanged.
    """
    spec = spec_of(run)
    if spec.depth != 0:
        raise BayesstackError(
            f"raw_coefficients: {spec.name!r} has {spec.depth} hidden layer(s); only a GLM "
            "(depth 0) has one coefficient per feature"
        )
    prep = preprocessing_of(run)
    post = run["posterior"].to_dataset()
    w = post["W1"]
    b = post["b1"] if "b1" in post else xr.zeros_like(w.isel(feature=0, drop=True))
    if prep.standardized:
        mean = xr.DataArray(np.asarray(prep.mean), dims="feature", coords={"feature": w.feature})
        sd = xr.DataArray(np.asarray(prep.sd), dims="feature", coords={"feature": w.feature})
        w = w / sd
        b = b - (w * mean).sum("feature")
    out = post[[v for v in post.data_vars if v not in ("W1", "b1")]].assign(W1=w, b1=b)
    out.attrs.update(post.attrs, scale="raw" if prep.standardized else "as fitted")
    return xr.DataTree.from_dict({"posterior": out})


def attach_spec(
    idata: xr.DataTree,
    spec: Spec,
    X,
    y,
    *,
    trials=None,
    feature_names=None,
    target: str = "y",
    dataset: str = "",
) -> xr.DataTree:
    """Record a spec and its data in a run sampled with plain ``pm.sample``.

    ``pm.sample`` on ``bs.build_model(spec, X, y)`` gives the right draws but not the
    attributes bayesstack reads (the spec, the feature names, the preprocessing). This adds
    them, and the ``constant_data``/``observed_data`` groups, in place.

    Parameters
    ----------
    idata : xarray.DataTree
        The run; its posterior must hold the spec's weights (``W1, b1, ...``) with matching
        shapes.
    spec : Spec
        The spec the model was built from.
    X, y : array-like
        The design matrix and response the model was fitted on, as the model saw them (no
        standardisation is recorded: predictions take new X on the same scale).
    trials : int or array-like, optional
        Binomial trials.
    feature_names : sequence of str, optional
        Default: DataFrame columns or ``x1..xD``.
    target, dataset : str
        Stored names.

    Returns
    -------
    xarray.DataTree
        ``idata``, with the attributes and groups added.
    """
    from bayesstack._version import __version__
    from bayesstack.data.dataset import validate, validate_trials
    from bayesstack.registry import FAMILIES

    if feature_names is None:
        feature_names = [str(c) for c in getattr(X, "columns", [])] or None
    needs = FAMILIES[spec.family].support.needs_trials if spec.family in FAMILIES else False
    if trials is None and isinstance(spec.trials, int):
        trials = spec.trials
    Xa, ya = validate(X, y, spec.family, trials=trials if needs else None)
    names = list(feature_names or [f"x{i + 1}" for i in range(Xa.shape[1])])
    if "posterior" not in idata.children:
        raise BayesstackError("attach_spec: the run has no posterior group")
    post = idata["posterior"]
    want = param_shapes(spec, Xa.shape[1])
    bad = [
        f"{k} {tuple(post[k].shape[2:]) if k in post else 'missing'} (need {want[k]})"
        for k in weight_names(spec)
        if k not in post or tuple(post[k].shape[2:]) != want[k]
    ]
    if bad:
        raise BayesstackError(
            f"attach_spec: the posterior does not hold the weights of {spec.name!r}: "
            f"{'; '.join(bad)}; build the model with bs.build_model(spec, X, y)"
        )
    tr = validate_trials(trials, len(ya)) if needs else None
    obs = np.arange(len(ya))
    const = {"X": (("obs", "feature"), Xa)}
    if tr is not None:
        const["trials"] = ("obs", tr)
    idata["constant_data"] = xr.DataTree(xr.Dataset(const, coords={"obs": obs, "feature": names}))
    idata["observed_data"] = xr.DataTree(xr.Dataset({"y": ("obs", ya)}, coords={"obs": obs}))
    tv = int(tr[0]) if tr is not None and np.unique(tr).size == 1 else None
    prep = Preprocessing(
        features=tuple(names),
        target=target,
        trials_value=tv,
        source=dataset or "attach_spec",
        sha256=data_hash(Xa, ya, tr),
    )
    idata.attrs.update(
        {
            SPEC_ATTR: spec.to_json(),
            "bayesstack_version": __version__,
            "feature_names": json.dumps(names),
            "target": target,
            "dataset": dataset,
            PREPROCESSING_ATTR: prep.to_json(),
        }
    )
    return idata
