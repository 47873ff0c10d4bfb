"""Tables of activations, links, families and priors: one row per concept, one source of truth.

Every other module reads these rows instead of branching on names: the network's forward pass
and the geometry's derivatives take an activation's numpy, PyTensor or JAX function from its
row, the builder takes a prior's and a family's PyMC factory, data validation takes a family's
support, the teacher data sets take a family's simulator, and the symmetry code takes an
activation's symmetry and a prior's flags. Adding an activation is one :class:`Activation` row
(plus its tests).

Nothing here imports PyMC, PyTensor or JAX at import time: the rows' functions import them on
first call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special


def _pt():
    import pytensor.tensor as pt

    return pt


def _pm():
    import pymc as pm

    return pm


def _jnp():
    import jax.numpy as jnp

    return jnp


def _jax_nn():
    import jax

    return jax.nn


# --- activations ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Activation:
    """A hidden layer's activation: the part an inverse link plays in a GLM.

    Attributes
    ----------
    name : str
        The name specs use.
    numpy, pytensor, jax : callable
        The elementwise function in each array library.
    symmetry : str
        The activation's own symmetry: ``"linear"`` (identity: the whole linear group),
        ``"odd"`` (f(-z) = -f(z): sign flips), ``"reflect"`` (f(-z) = 1 - f(z): reflection with
        a bias shift), ``"scale"`` (f(cz) = c f(z), c > 0: rescaling) or ``"none"``.
    """

    name: str
    numpy: Callable
    pytensor: Callable
    jax: Callable
    symmetry: str

    def fn(self, xp: str) -> Callable:
        """The function for the array library ``xp`` (``numpy``, ``pytensor`` or ``jax``)."""
        return {"numpy": self.numpy, "pytensor": self.pytensor, "jax": self.jax}[xp]


def _identity(z):
    return z


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("identity", _identity, _identity, _identity, "linear"),
        Activation("tanh", np.tanh, lambda z: _pt().tanh(z), lambda z: _jnp().tanh(z), "odd"),
        Activation(
            "sigmoid",
            special.expit,
            lambda z: _pt().sigmoid(z),
            lambda z: _jax_nn().sigmoid(z),
            "reflect",
        ),
        Activation(
            "relu",
            lambda z: np.maximum(z, 0.0),
            lambda z: _pt().maximum(z, 0.0),
            lambda z: _jnp().maximum(z, 0.0),
            "scale",
        ),
        Activation(
            "softplus",
            lambda z: np.logaddexp(0.0, z),
            lambda z: _pt().softplus(z),
            lambda z: _jax_nn().softplus(z),
            "none",
        ),
    )
}


# --- links ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Link:
    """A link g; its inverse maps the linear predictor η to the mean μ.

    Attributes
    ----------
    name : str
        The name specs use.
    numpy, pytensor, jax : callable
        The inverse link g⁻¹ in each array library.
    """

    name: str
    numpy: Callable
    pytensor: Callable
    jax: Callable

    def fn(self, xp: str) -> Callable:
        """The inverse link for the array library ``xp``."""
        return {"numpy": self.numpy, "pytensor": self.pytensor, "jax": self.jax}[xp]


_SQRT2 = float(np.sqrt(2.0))

LINKS: dict[str, Link] = {
    k.name: k
    for k in (
        Link("identity", _identity, _identity, _identity),
        Link("log", np.exp, lambda e: _pt().exp(e), lambda e: _jnp().exp(e)),
        Link("logit", special.expit, lambda e: _pt().sigmoid(e), lambda e: _jax_nn().sigmoid(e)),
        Link(
            "probit",
            special.ndtr,
            lambda e: 0.5 * _pt().erfc(-e / _SQRT2),
            lambda e: 0.5 * _jax_special().erfc(-e / _SQRT2),
        ),
        Link(
            "cloglog",
            lambda e: -np.expm1(-np.exp(e)),
            lambda e: -_pt().expm1(-_pt().exp(e)),
            lambda e: -_jnp().expm1(-_jnp().exp(e)),
        ),
    )
}


def _jax_special():
    import jax.scipy.special as js

    return js


#: Links bayesstack does not offer, and why (quoted in the error).
REFUSED_LINKS: dict[str, str] = {
    "sqrt": (
        "mu = eta^2 is not injective, so theta and -theta give the same fit and the posterior "
        "gains a mirror image that is not a symmetry of the network"
    ),
}


# --- supports of y ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Support:
    """Where a family's response lives.

    Attributes
    ----------
    name : str
        ``"real"``, ``"binary"``, ``"count"`` or ``"binomial"``.
    need : str
        What each value must be, for error messages ("" when every real number is valid).
    invalid : callable
        ``invalid(y) -> bool mask`` of the values outside the support.
    needs_trials : bool
        Values count successes out of per-row trials (``y <= trials`` is checked too).
    """

    name: str
    need: str
    invalid: Callable[[np.ndarray], np.ndarray]
    needs_trials: bool = False


def _not_count(y: np.ndarray) -> np.ndarray:
    return (y < 0) | (y != np.round(y))


SUPPORTS: dict[str, Support] = {
    s.name: s
    for s in (
        Support("real", "", lambda y: np.zeros(np.shape(y), dtype=bool)),
        Support("binary", "0 or 1 (encode the two classes as 0/1)", lambda y: (y != 0) & (y != 1)),
        Support("count", "a non-negative integer count", _not_count),
        Support("binomial", "an integer number of successes >= 0", _not_count, True),
    )
}


# --- families ---------------------------------------------------------------------------------
Likelihood = Callable[..., Any]  # (eta, y, *, link, noise, trials) -> the observed PyMC RV "y"
Simulator = Callable[..., np.ndarray]  # (rng, mu, *, trials, **noise) -> y


@dataclass(frozen=True)
class Family:
    """A response distribution: its links, support, nuisance parameters and likelihood.

    Attributes
    ----------
    name : str
        The name specs use.
    links : tuple of str
        Allowed links; the first is canonical (the default).
    support : Support
        Where ``y`` lives.
    noise : tuple of (str, str)
        Noise parameters as ``(PyMC name, spec prior field)``, e.g. ``("sigma", "noise")``.
    likelihood : callable
        ``likelihood(eta, y, link=..., noise={name: tensor}, trials=...)`` creates the observed
        PyMC variable ``y`` inside a model context.
    simulate : callable
        ``simulate(rng, mu, trials=..., **noise) -> y``: a numpy draw of ``y`` given its mean.
    concave_links : tuple of str
        Links for which the log-likelihood is concave in η (noise held fixed): with log-concave
        priors a depth-0 model (a GLM) then has a log-concave posterior in its coefficients.
    outputs : tuple of str
        The stack's outputs, one linear predictor each: ``("mu",)`` for every family whose
        mean is the only output (the output weight ``W{L}`` is then a vector). With more than
        one, ``W{L}`` and ``b{L}`` carry an ``output`` dim with these coords and η has a last
        axis of this length; the first output is always μ's linear predictor.
    heads : callable, optional
        For families with more than one output: ``heads(eta, xp) -> {noise name: array}``,
        the noise parameters per observation from η ``(..., N, k)`` in the array library
        ``xp`` (``numpy``, ``pytensor`` or ``jax``).
    """

    name: str
    links: tuple[str, ...]
    support: Support
    likelihood: Likelihood
    simulate: Simulator
    noise: tuple[tuple[str, str], ...] = ()
    concave_links: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ("mu",)
    heads: Callable[..., dict[str, Any]] | None = None

    @property
    def canonical_link(self) -> str:
        """The family's canonical (default) link."""
        return self.links[0]

    @property
    def nuisance(self) -> tuple[str, ...]:
        """PyMC names of the noise parameters (``sigma``, ``nu``, ``alpha``)."""
        return tuple(name for name, _ in self.noise)

    def mean_and_noise(self, eta, link: Link, xp: str = "numpy") -> tuple[Any, dict[str, Any]]:
        """μ and the noise parameters that are outputs of the stack, from η.

        ``eta`` is ``(..., N)`` for one output, ``(..., N, k)`` for ``k`` outputs; μ is the
        inverse link of the first output's η, the noise parameters come from :attr:`heads`
        (empty for one-output families: their noise parameters are free variables).
        """
        if len(self.outputs) == 1:
            return link.fn(xp)(eta), {}
        return link.fn(xp)(eta[..., 0]), self.heads(eta, xp)


def _gaussian(eta, y, *, link, noise, trials=None):
    return _pm().Normal("y", link.pytensor(eta), noise["sigma"], observed=y, dims="obs")


def _log_scale_head(eta, xp):
    """σ = exp(η_σ) from the second output (the ``log_sigma`` head): the log link's inverse."""
    return {"sigma": LINKS["log"].fn(xp)(eta[..., 1])}


def _simulate_normal(rng, mu, trials=None, *, sigma):
    return mu + sigma * rng.standard_normal(np.shape(mu))


def _gaussian_location_scale(eta, y, *, link, noise=None, trials=None):
    sigma = _log_scale_head(eta, "pytensor")["sigma"]
    return _pm().Normal("y", link.pytensor(eta[..., 0]), sigma, observed=y, dims="obs")


def _student_t(eta, y, *, link, noise, trials=None):
    mu = link.pytensor(eta)
    return _pm().StudentT("y", nu=noise["nu"], mu=mu, sigma=noise["sigma"], observed=y, dims="obs")


def _bernoulli(eta, y, *, link, noise=None, trials=None):
    if link.name == "logit":  # PyMC's logit parametrisation: no overflow in sigmoid
        return _pm().Bernoulli("y", logit_p=eta, observed=y, dims="obs")
    return _pm().Bernoulli("y", p=link.pytensor(eta), observed=y, dims="obs")


def _binomial(eta, y, *, link, noise=None, trials):
    if link.name == "logit":
        return _pm().Binomial("y", n=trials, logit_p=eta, observed=y, dims="obs")
    return _pm().Binomial("y", n=trials, p=link.pytensor(eta), observed=y, dims="obs")


def _poisson(eta, y, *, link, noise=None, trials=None):
    return _pm().Poisson("y", mu=link.pytensor(eta), observed=y, dims="obs")


def _negative_binomial(eta, y, *, link, noise, trials=None):
    mu = link.pytensor(eta)
    return _pm().NegativeBinomial("y", mu=mu, alpha=noise["alpha"], observed=y, dims="obs")


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            "gaussian",
            ("identity", "log"),
            SUPPORTS["real"],
            _gaussian,
            _simulate_normal,
            noise=(("sigma", "noise"),),
            concave_links=("identity",),
        ),
        Family(
            "student_t",
            ("identity",),
            SUPPORTS["real"],
            _student_t,
            lambda rng, mu, trials=None, *, sigma, nu: (
                mu + sigma * rng.standard_t(nu, np.shape(mu))
            ),
            noise=(("sigma", "noise"), ("nu", "nu")),
        ),
        Family(
            "bernoulli",
            ("logit", "probit", "cloglog"),
            SUPPORTS["binary"],
            _bernoulli,
            lambda rng, mu, trials=None: rng.binomial(1, mu),
            concave_links=("logit", "probit", "cloglog"),
        ),
        Family(
            "binomial",
            ("logit", "probit", "cloglog"),
            SUPPORTS["binomial"],
            _binomial,
            lambda rng, mu, trials: rng.binomial(trials, mu),
            concave_links=("logit", "probit", "cloglog"),
        ),
        Family(
            "poisson",
            ("log",),
            SUPPORTS["count"],
            _poisson,
            lambda rng, mu, trials=None: rng.poisson(mu),
            concave_links=("log",),
        ),
        Family(
            "negative_binomial",
            ("log",),
            SUPPORTS["count"],
            _negative_binomial,
            # a gamma-Poisson mixture with mean mu and var mu + mu^2 / alpha (PyMC's alpha)
            lambda rng, mu, trials=None, *, alpha: rng.poisson(
                rng.gamma(shape=alpha, scale=mu / alpha)
            ),
            noise=(("alpha", "dispersion"),),
            concave_links=("log",),
        ),
        # Distributional regression (bde's and Bambi's ``sigma ~ x``): μ and log σ are the
        # stack's two outputs, σ = exp(η_σ). The log link (not softplus) keeps log σ an
        # unconstrained linear predictor, as in Bambi's and brms' defaults, so a depth-0 model
        # is the classic heteroscedastic regression (Harvey 1976) and the output prior is a
        # prior on log σ's coefficients; exp's overflow needs η_σ > 709, far outside any
        # posterior under the Normal output priors. No noise prior: σ is an output. Not in
        # ``concave_links``: -log N(y; μ, e^s) = s + (y - μ)² e^(-2s) / 2 + const has the
        # Hessian determinant -2 (y - μ)² e^(-4s) < 0 in (μ, s) wherever y ≠ μ, so even a
        # depth-0 posterior is not guaranteed log-concave.
        Family(
            "gaussian_location_scale",
            ("identity",),
            SUPPORTS["real"],
            _gaussian_location_scale,
            _simulate_normal,
            outputs=("mu", "log_sigma"),
            heads=_log_scale_head,
        ),
    )
}


# --- priors -----------------------------------------------------------------------------------
PriorFactory = Callable[..., Any]  # (name, params, *, fan_in, dims) -> a PyMC RV or a constant


@dataclass(frozen=True)
class PriorKind:
    """A prior family for weights and biases, or for a positive nuisance parameter.

    Attributes
    ----------
    name : str
        The name specs use (``dist = "..."``).
    params, defaults : tuple
        Its parameters and their default values.
    make : callable
        ``make(name, params, fan_in=..., dims=...)`` creates the PyMC variable ``name`` (inside a
        model context) from the parameter mapping; weight priors are centred at 0.
    positive : bool
        A prior for a positive quantity (noise, degrees of freedom, dispersion).
    symmetric : bool
        Even about zero (weight priors): sign flips keep the prior density.
    isotropic : bool
        Invariant under rotations of a weight vector: orthogonal maps keep the prior density.
    log_concave : bool
        The log density is concave in the weights (Normal, Laplace), which a GLM's posterior
        needs to be log-concave.
    """

    name: str
    params: tuple[str, ...]
    defaults: tuple[float, ...]
    make: PriorFactory
    positive: bool = False
    symmetric: bool = True
    isotropic: bool = False
    log_concave: bool = False


def _hierarchical(name, p, *, fan_in=1, dims=()):
    pm = _pm()
    tau = pm.HalfNormal(f"tau_{name}", p["scale"])
    return pm.Normal(name, 0.0, tau, dims=dims)


PRIORS: dict[str, PriorKind] = {
    p.name: p
    for p in (
        # weights and biases
        PriorKind(
            "normal",
            ("sigma",),
            (1.0,),
            lambda name, p, *, fan_in=1, dims=(): _pm().Normal(name, 0.0, p["sigma"], dims=dims),
            isotropic=True,
            log_concave=True,
        ),
        PriorKind(
            "normal_fanin",
            ("sigma",),
            (1.0,),
            lambda name, p, *, fan_in=1, dims=(): _pm().Normal(
                name, 0.0, p["sigma"] / np.sqrt(fan_in), dims=dims
            ),
            isotropic=True,
            log_concave=True,
        ),
        # isotropic given tau; jointly in (W, tau) not log-concave
        PriorKind("hierarchical", ("scale",), (1.0,), _hierarchical, isotropic=True),
        PriorKind(
            "laplace",
            ("b",),
            (1.0,),
            lambda name, p, *, fan_in=1, dims=(): _pm().Laplace(name, 0.0, p["b"], dims=dims),
            log_concave=True,
        ),
        PriorKind(
            "student_t",
            ("nu", "sigma"),
            (3.0, 1.0),
            lambda name, p, *, fan_in=1, dims=(): _pm().StudentT(
                name, nu=p["nu"], mu=0.0, sigma=p["sigma"], dims=dims
            ),
        ),
        # positive nuisance parameters
        PriorKind(
            "halfnormal",
            ("sigma",),
            (1.0,),
            lambda name, p, **_: _pm().HalfNormal(name, p["sigma"]),
            positive=True,
        ),
        PriorKind(
            "exponential",
            ("lam",),
            (1.0,),
            lambda name, p, **_: _pm().Exponential(name, p["lam"]),
            positive=True,
        ),
        PriorKind(
            "gamma",
            ("alpha", "beta"),
            (2.0, 0.1),
            lambda name, p, **_: _pm().Gamma(name, alpha=p["alpha"], beta=p["beta"]),
            positive=True,
        ),
        PriorKind(
            "halfstudent_t",
            ("nu", "sigma"),
            (3.0, 1.0),
            lambda name, p, **_: _pm().HalfStudentT(name, nu=p["nu"], sigma=p["sigma"]),
            positive=True,
        ),
        PriorKind(  # a known constant, no prior
            "fixed",
            ("value",),
            (1.0,),
            lambda name, p, **_: _pt().constant(p["value"]),
            positive=True,
        ),
    )
}


def choices(table: Mapping[str, Any]) -> str:
    """Comma-separated valid names of a table, for error messages."""
    return ", ".join(sorted(table))
