"""Built-in datasets: seeded "teacher" stacked GLMs (one per family) and small real data sets.

The real data come from the datasets bundled with statsmodels (installed with it; nothing is
downloaded at run time). Every dataset is deterministic: the synthetic ones from fixed seeds,
the ``randhie`` subsample from a fixed seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from bayesstack.data.dataset import Dataset, from_frame, validate, validate_trials
from bayesstack.errors import DataError
from bayesstack.registry import FAMILIES, LINKS

__all__ = [
    "DEFAULT_DATASET",
    "DatasetInfo",
    "dataset_info",
    "list_datasets",
    "load_dataset",
    "teacher_params",
]

DEFAULT_DATASET = "teacher-gaussian"


@dataclass(frozen=True)
class DatasetInfo:
    """Catalogue entry of a built-in dataset.

    Attributes
    ----------
    name : str
        Name accepted by :func:`load_dataset`.
    kind : {"synthetic", "real"}
        Simulated from a known teacher network, or real public data.
    family : str
        The likelihood family the data are meant for.
    n, d : int
        Rows and features of the loaded dataset.
    description : str
        What ``y`` and the features are, and any preprocessing.
    source : str
        Where the data come from.
    licence : str
        Terms of use.
    """

    name: str
    kind: Literal["synthetic", "real"]
    family: str
    n: int
    d: int
    description: str
    source: str
    licence: str


# --- synthetic teachers -----------------------------------------------------------------------

TEACHER_SEED = 1729
TEACHER_N = 200
# 2-3-1 tanh teacher. Hidden-unit weight vectors point at 15, 75 and 135 degrees (norms ~2), so
# no unit is close to another or to another's sign flip, and every unit works in tanh's
# nonlinear range; output weights are distinct and |W2| >= 1.
_W1 = np.array([[1.9, 0.5, -1.4], [0.5, 1.9, 1.4]])
_B1 = np.array([0.5, -0.5, 0.25])
_W2 = np.array([1.5, -1.2, 1.0])
_B2 = 0.5
_SIGMA = 0.3  # noise sd (gaussian) and scale (student_t)
_NU = 4.0  # student_t degrees of freedom
_ALPHA = 5.0  # negative binomial: var = mu + mu^2 / alpha (PyMC's parameterisation)
_TRIALS = 10  # binomial trials per row

# Noise stream per family: fixed ids, independent of any ordering elsewhere. Stream 0 draws X.
_TEACHER_STREAM = {
    "gaussian": 1,
    "bernoulli": 2,
    "poisson": 3,
    "binomial": 4,
    "negative_binomial": 5,
    "student_t": 6,
}
_TEACHER_LINK = {
    "gaussian": "identity",
    "student_t": "identity",
    "bernoulli": "logit",
    "binomial": "logit",
    "poisson": "log",
    "negative_binomial": "log",
}
_NUISANCE = {
    "gaussian": {"sigma": _SIGMA},
    "student_t": {"sigma": _SIGMA, "nu": _NU},
    "bernoulli": {},
    "binomial": {},
    "poisson": {},
    "negative_binomial": {"alpha": _ALPHA},
}


def _teacher_family(name: str) -> str:
    family = name.removeprefix("teacher-")
    if not name.startswith("teacher-") or family not in _TEACHER_STREAM:
        valid = ", ".join(f"teacher-{f}" for f in _TEACHER_STREAM)
        raise DataError(f"{name!r} is not a teacher dataset; use one of {valid}")
    return family


def teacher_params(name: str) -> dict[str, np.ndarray]:
    """True parameters of a teacher dataset, named as in design.md.

    Parameters
    ----------
    name : str
        A teacher dataset, e.g. ``"teacher-poisson"``.

    Returns
    -------
    dict of str to np.ndarray
        ``W1 (2, 3)``, ``b1 (3,)``, ``W2 (3,)``, ``b2 ()``, plus the family's nuisance
        parameters as 0-d arrays: ``sigma`` (gaussian, student_t), ``nu`` (student_t), ``alpha``
        (negative_binomial). Fresh copies. They apply to the teacher's ``X``, which is already
        exactly z-scored, so they hold with or without ``standardize``.
    """
    family = _teacher_family(name)
    params = {"W1": _W1.copy(), "b1": _B1.copy(), "W2": _W2.copy(), "b2": np.array(_B2)}
    params.update({k: np.array(v) for k, v in _NUISANCE[family].items()})
    return params


def _teacher_X() -> np.ndarray:
    """Shared design: X ~ N(0, 1), then z-scored exactly (mean 0, sd 1 with ddof=0)."""
    X = np.random.default_rng([TEACHER_SEED, 0]).standard_normal((TEACHER_N, 2))
    return (X - X.mean(axis=0)) / X.std(axis=0)


def _load_teacher(family: str) -> Dataset:
    X = _teacher_X()
    eta = np.tanh(X @ _W1 + _B1) @ _W2 + _B2
    rng = np.random.default_rng([TEACHER_SEED, _TEACHER_STREAM[family]])
    row = FAMILIES[family]
    trials = validate_trials(_TRIALS, TEACHER_N) if row.support.needs_trials else None
    mu = LINKS[_TEACHER_LINK[family]].numpy(eta)
    y = row.simulate(rng, mu, trials, **_NUISANCE[family])
    X, y = validate(X, y, family, trials=trials)
    return Dataset(
        X=X,
        y=y,
        feature_names=("x1", "x2"),
        target="y",
        name=f"teacher-{family}",
        trials=trials,
        description=_teacher_description(family),
    )


def _teacher_description(family: str) -> str:
    p = teacher_params(f"teacher-{family}")
    nuis = "".join(f", {k}={float(v):g}" for k, v in p.items() if k not in ("W1", "b1", "W2", "b2"))
    extra = f", trials={_TRIALS}" if family == "binomial" else ""
    return (
        f"Synthetic {family} data from a 2-3-1 tanh teacher network, {_TEACHER_LINK[family]} "
        f"link, N={TEACHER_N}, X ~ N(0,1) z-scored, seed {TEACHER_SEED}. True parameters: "
        f"W1={p['W1'].tolist()}, b1={p['b1'].tolist()}, W2={p['W2'].tolist()}, "
        f"b2={float(p['b2']):g}{nuis}{extra}."
    )


# --- real data (bundled with statsmodels) -----------------------------------------------------

RANDHIE_SEED = 20190
RANDHIE_N = 1000

_SM = "statsmodels bundled dataset (statsmodels.datasets.{}), installed with statsmodels"
_BSD = "statsmodels package: BSD-3-Clause"


def _sm_frame(module: str) -> pd.DataFrame:
    import statsmodels.datasets as smd  # lazy: importing statsmodels takes a while

    return getattr(smd, module).load_pandas().data.reset_index(drop=True)


def _load_anes96() -> pd.DataFrame:
    return _sm_frame("anes96")


def _load_spector() -> pd.DataFrame:
    return _sm_frame("spector")


def _load_randhie() -> pd.DataFrame:
    df = _sm_frame("randhie")
    rows = np.random.default_rng(RANDHIE_SEED).choice(len(df), size=RANDHIE_N, replace=False)
    return df.iloc[np.sort(rows)].reset_index(drop=True)


def _load_engel() -> pd.DataFrame:
    df = _sm_frame("engel")
    return pd.DataFrame({"log_income": np.log(df["income"]), "log_foodexp": np.log(df["foodexp"])})


def _load_stackloss() -> pd.DataFrame:
    return _sm_frame("stackloss")


def _load_star98() -> pd.DataFrame:
    df = _sm_frame("star98")
    return df.assign(NTOTAL=df["NABOVE"] + df["NBELOW"])


@dataclass(frozen=True)
class _RealSpec:
    load: Callable[[], pd.DataFrame]
    target: str
    features: tuple[str, ...]
    trials: str | None = None


_REAL: dict[str, tuple[DatasetInfo, _RealSpec]] = {
    "anes96": (
        DatasetInfo(
            name="anes96",
            kind="real",
            family="bernoulli",
            n=944,
            d=6,
            description=(
                "1996 American National Election Study: y = vote (1 = Dole, 0 = Clinton); "
                "features logpopul (log(population in 1000s + 0.1)), TVnews (days/week), selfLR "
                "(1 extremely liberal .. 7 extremely conservative), age, educ (1..7), "
                "income (1..24 brackets)."
            ),
            source=_SM.format("anes96") + "; American National Election Studies, "
            "http://www.electionstudies.org/",
            licence=f"{_BSD}; data: public domain",
        ),
        _RealSpec(_load_anes96, "vote", ("logpopul", "TVnews", "selfLR", "age", "educ", "income")),
    ),
    "spector": (
        DatasetInfo(
            name="spector",
            kind="real",
            family="bernoulli",
            n=32,
            d=3,
            description=(
                "Effect of a teaching method on 32 economics students (Spector and Mazzeo, 1980): "
                "y = GRADE (1 = grade improved); features GPA, TUCE "
                "(test score), PSI (1 = taught with the personalized system of instruction)."
            ),
            source=_SM.format("spector") + "; W. Greene, Econometric Analysis (data of "
            "L. Spector, Ball State University)",
            licence=f"{_BSD}; data: used with the express permission of the original author, "
            "who retains all rights",
        ),
        _RealSpec(_load_spector, "GRADE", ("GPA", "TUCE", "PSI")),
    ),
    "randhie": (
        DatasetInfo(
            name="randhie",
            kind="real",
            family="negative_binomial",
            n=RANDHIE_N,
            d=9,
            description=(
                f"RAND Health Insurance Experiment: y = mdvis (outpatient visits to an MD; "
                f"overdispersed, variance/mean ~ 7); features lncoins, idp, lpi, fmde, physlm, "
                f"disea, hlthg, hlthf, hlthp. A fixed subsample of {RANDHIE_N} of the 20,190 "
                f"rows: numpy.random.default_rng({RANDHIE_SEED}).choice(20190, {RANDHIE_N}, "
                "replace=False), sorted."
            ),
            source=_SM.format("randhie") + "; RAND Corporation HIE via Cameron and Trivedi "
            "(2005), Microeconometrics",
            licence=f"{_BSD}; data: public domain",
        ),
        _RealSpec(
            _load_randhie,
            "mdvis",
            ("lncoins", "idp", "lpi", "fmde", "physlm", "disea", "hlthg", "hlthf", "hlthp"),
        ),
    ),
    "engel": (
        DatasetInfo(
            name="engel",
            kind="real",
            family="gaussian",
            n=235,
            d=1,
            description=(
                "Engel food expenditure of 235 Belgian working-class households, log-log: "
                "y = log_foodexp, feature log_income (natural logs of the original BEF values)."
            ),
            source=_SM.format("engel") + "; Koenker and Bassett (1982), R package quantreg",
            licence=f"{_BSD}; data: public domain",
        ),
        _RealSpec(_load_engel, "log_foodexp", ("log_income",)),
    ),
    "stackloss": (
        DatasetInfo(
            name="stackloss",
            kind="real",
            family="student_t",
            n=21,
            d=3,
            description=(
                "Brownlee's stack loss plant data: y = STACKLOSS (ammonia lost, x10); features "
                "AIRFLOW, WATERTEMP, ACIDCONC. Known outliers (rows 0, 2, 3, 20) suit a "
                "heavy-tailed likelihood."
            ),
            source=_SM.format("stackloss") + "; Brownlee (1965), Statistical Theory and "
            "Methodology in Science and Engineering",
            licence=f"{_BSD}; data: public domain",
        ),
        _RealSpec(_load_stackloss, "STACKLOSS", ("AIRFLOW", "WATERTEMP", "ACIDCONC")),
    ),
    "star98": (
        DatasetInfo(
            name="star98",
            kind="real",
            family="binomial",
            n=303,
            d=6,
            description=(
                "California STAR 1998 math scores of 303 school districts: y = NABOVE "
                "students above the national median out of trials = NABOVE + NBELOW; "
                "features LOWINC, PERASIAN, "
                "PERBLACK, PERHISP (percentages), PTRATIO (pupil-teacher ratio), PCTAF "
                "(% taking UC/CSU prep courses)."
            ),
            source=_SM.format("star98") + "; J. Gill (2001), Generalized Linear Models: "
            "A Unified Approach",
            licence=f"{_BSD}; data: used with the express permission of the original author, "
            "who retains all rights",
        ),
        _RealSpec(
            _load_star98,
            "NABOVE",
            ("LOWINC", "PERASIAN", "PERBLACK", "PERHISP", "PTRATIO", "PCTAF"),
            trials="NTOTAL",
        ),
    ),
}


def _teacher_info(family: str) -> DatasetInfo:
    return DatasetInfo(
        name=f"teacher-{family}",
        kind="synthetic",
        family=family,
        n=TEACHER_N,
        d=2,
        description=_teacher_description(family),
        source=f"simulated by bayesstack (numpy default_rng, seed {TEACHER_SEED})",
        licence="generated data: no restrictions",
    )


_TEACHERS = (
    "gaussian",
    "bernoulli",
    "poisson",
    "binomial",
    "negative_binomial",
    "student_t",
)
_INFOS: dict[str, DatasetInfo] = {f"teacher-{f}": _teacher_info(f) for f in _TEACHERS}
_INFOS.update({name: info for name, (info, _) in _REAL.items()})


# --- public API -------------------------------------------------------------------------------


def list_datasets() -> list[DatasetInfo]:
    """Catalogue of built-in datasets: the six teachers first, then the real ones."""
    return list(_INFOS.values())


def dataset_info(name: str) -> DatasetInfo:
    """Catalogue entry of one dataset (raises :class:`DataError` for an unknown name)."""
    if name not in _INFOS:
        raise DataError(f"dataset {name!r} is unknown; use one of {', '.join(_INFOS)}")
    return _INFOS[name]


def load_dataset(name: str, *, standardize: bool = True) -> Dataset:
    """Load a built-in dataset.

    Parameters
    ----------
    name : str
        One of the names in :func:`list_datasets`, e.g. ``DEFAULT_DATASET``.
    standardize : bool
        Z-score the features (default). The teachers' ``X`` is already z-scored, so their true
        parameters (:func:`teacher_params`) hold either way.

    Returns
    -------
    Dataset
        ``y`` checked against the dataset's family; ``trials`` set for binomial data.
    """
    info = dataset_info(name)
    if info.kind == "synthetic":
        ds = _load_teacher(info.family)
        return ds.standardize() if standardize else ds
    _, spec = _REAL[name]
    return from_frame(
        spec.load(),
        spec.target,
        features=list(spec.features),
        trials=spec.trials,
        standardize=standardize,
        name=name,
        family=info.family,
        description=f"{info.description} Source: {info.source}. Licence: {info.licence}.",
    )
