"""Tables of families, links, activations and priors: one source of truth.

The builder, the numpy network and the symmetry code all read these tables. Nothing here
imports PyMC; pytensor versions of functions are looked up lazily by name.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special


@dataclass(frozen=True)
class Family:
    """A response distribution and the links it allows (the first is canonical)."""

    name: str
    links: tuple[str, ...]
    support: str  # "real" | "binary" | "count" | "binomial"
    nuisance: tuple[str, ...] = ()

    @property
    def canonical_link(self) -> str:
        """The family's canonical (default) link."""
        return self.links[0]


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("gaussian", ("identity", "log"), "real", ("sigma",)),
        Family("student_t", ("identity",), "real", ("sigma", "nu")),
        Family("bernoulli", ("logit", "probit", "cloglog"), "binary"),
        Family("binomial", ("logit", "probit", "cloglog"), "binomial"),
        Family("poisson", ("log",), "count"),
        Family("negative_binomial", ("log",), "count", ("alpha",)),
    )
}


@dataclass(frozen=True)
class Link:
    """A link g; `inverse` maps the linear predictor to the mean (numpy version)."""

    name: str
    inverse: object


LINKS: dict[str, Link] = {
    "identity": Link("identity", lambda e: e),
    "log": Link("log", np.exp),
    "logit": Link("logit", special.expit),
    "probit": Link("probit", special.ndtr),
    "cloglog": Link("cloglog", lambda e: -np.expm1(-np.exp(e))),
}


@dataclass(frozen=True)
class Activation:
    """A hidden layer's activation, the part an inverse link plays in a GLM.

    ``symmetry`` names the activation's own symmetry: ``"linear"`` (identity: the whole
    linear group), ``"odd"`` (f(-z) = -f(z): sign flips), ``"reflect"`` (f(-z) = 1 - f(z):
    reflection with a bias shift), ``"scale"`` (f(cz) = c f(z), c > 0: rescaling) or ``"none"``.
    """

    name: str
    numpy: object
    symmetry: str


def _relu(z):
    return np.maximum(z, 0.0)


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("identity", lambda z: z, "linear"),
        Activation("tanh", np.tanh, "odd"),
        Activation("sigmoid", special.expit, "reflect"),
        Activation("relu", _relu, "scale"),
        Activation("softplus", lambda z: np.logaddexp(0.0, z), "none"),
    )
}


def pytensor_activation(name: str):
    """The pytensor version of activation ``name``."""
    import pytensor.tensor as pt

    return {
        "identity": lambda z: z,
        "tanh": pt.tanh,
        "sigmoid": pt.sigmoid,
        "relu": lambda z: pt.maximum(z, 0.0),
        "softplus": pt.softplus,
    }[name]


def jax_activation(name: str):
    """The JAX version of activation ``name``."""
    import jax
    import jax.numpy as jnp

    return {
        "identity": lambda z: z,
        "tanh": jnp.tanh,
        "sigmoid": jax.nn.sigmoid,
        "relu": lambda z: jnp.maximum(z, 0.0),
        "softplus": jax.nn.softplus,
    }[name]


@dataclass(frozen=True)
class PriorKind:
    """A prior family for weights/biases or for a positive nuisance parameter."""

    name: str
    params: tuple[str, ...]
    defaults: tuple[float, ...]
    positive: bool = False  # a prior for a positive quantity (noise, df, dispersion)
    symmetric: bool = True  # even about zero (weights priors)
    isotropic: bool = False  # invariant under rotations of a weight vector


PRIORS: dict[str, PriorKind] = {
    p.name: p
    for p in (
        # weights and biases
        PriorKind("normal", ("sigma",), (1.0,), isotropic=True),
        PriorKind("normal_fanin", ("sigma",), (1.0,), isotropic=True),
        PriorKind("hierarchical", ("scale",), (1.0,), isotropic=True),
        PriorKind("laplace", ("b",), (1.0,)),
        PriorKind("student_t", ("nu", "sigma"), (3.0, 1.0)),
        # positive nuisance parameters
        PriorKind("halfnormal", ("sigma",), (1.0,), positive=True),
        PriorKind("exponential", ("lam",), (1.0,), positive=True),
        PriorKind("gamma", ("alpha", "beta"), (2.0, 0.1), positive=True),
        PriorKind("halfstudent_t", ("nu", "sigma"), (3.0, 1.0), positive=True),
        PriorKind("fixed", ("value",), (1.0,), positive=True),  # a known constant, no prior
    )
}


#: Links bayesstack does not offer, and why (quoted in the error).
REFUSED_LINKS: dict[str, str] = {
    "sqrt": (
        "mu = eta^2 is not injective, so theta and -theta give the same fit and the posterior "
        "gains a mirror image that is not a symmetry of the network"
    ),
}


def choices(table: dict) -> str:
    """Comma-separated valid names of a table, for error messages."""
    return ", ".join(sorted(table))
