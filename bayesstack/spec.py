"""Declarative model specs: a stacked GLM as data, read from TOML. Never imports PyMC."""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bayesstack.errors import SpecError
from bayesstack.registry import ACTIVATIONS, FAMILIES, PRIORS, REFUSED_LINKS, choices

_TOP_KEYS = {"name", "family", "link", "layers", "output", "priors", "trials", "description"}
_LAYER_KEYS = {"units", "activation", "bias", "priors"}
_OUTPUT_KEYS = {"bias", "priors"}
_WEIGHT_PRIOR_KEYS = {"weights", "bias"}
_GLOBAL_PRIOR_KEYS = _WEIGHT_PRIOR_KEYS | {"noise", "nu", "dispersion"}


@dataclass(frozen=True)
class Prior:
    """A prior: a distribution name from ``registry.PRIORS`` and its parameters."""

    dist: str
    params: tuple[tuple[str, float], ...] = ()

    def __getitem__(self, key: str) -> float:
        return dict(self.params)[key]

    @property
    def kind(self):
        """The registry entry of this prior."""
        return PRIORS[self.dist]

    def to_dict(self) -> dict[str, Any]:
        """The TOML/JSON form, e.g. ``{"dist": "normal", "sigma": 1.0}``."""
        return {"dist": self.dist, **dict(self.params)}

    @classmethod
    def from_dict(cls, d: Any, where: str, *, positive: bool = False) -> Prior:
        """Parse and check a prior table; ``where`` names the field in errors."""
        if not isinstance(d, dict) or "dist" not in d:
            raise SpecError(f'{where}: expected a table like {{ dist = "normal", sigma = 1.0 }}')
        name = d["dist"]
        kind = PRIORS.get(name)
        if kind is None or kind.positive != positive:
            valid = {k: v for k, v in PRIORS.items() if v.positive == positive}
            raise SpecError(f"{where}: unknown prior {name!r}; use one of {choices(valid)}")
        unknown = set(d) - {"dist", *kind.params}
        if unknown:
            raise SpecError(
                f"{where}: unknown parameter {sorted(unknown)[0]!r} for prior {name!r}; "
                f"it takes {', '.join(kind.params)}"
            )
        params = []
        for p, default in zip(kind.params, kind.defaults, strict=True):
            v = d.get(p, default)
            if not _positive_finite(v):
                raise SpecError(f"{where}.{p}: must be a finite positive number, got {v!r}")
            params.append((p, float(v)))
        return cls(name, tuple(params))


def _positive_finite(v: Any) -> bool:
    """Whether ``v`` is a number (not a bool) that is finite as a float and > 0."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return False
    try:
        return math.isfinite(float(v)) and v > 0
    except OverflowError:  # an int beyond the float range
        return False


def normal(sigma: float = 1.0) -> Prior:
    """A Normal(0, sigma) prior."""
    return Prior("normal", (("sigma", float(sigma)),))


@dataclass(frozen=True)
class Layer:
    """A hidden layer: a linear predictor with ``units`` outputs and an activation."""

    units: int
    activation: str
    bias: bool = True
    weights: Prior | None = None  # overrides the spec-wide prior
    bias_prior: Prior | None = None


@dataclass(frozen=True)
class Output:
    """The output layer: the GLM's own linear predictor."""

    bias: bool = True
    weights: Prior | None = None
    bias_prior: Prior | None = None


@dataclass(frozen=True)
class Spec:
    """A stacked GLM. ``layers`` empty means a plain GLM (depth 0).

    Parameters follow the naming scheme of ``docs/design.md``: layer ``l`` (1-based, the output
    layer is ``depth + 1``) has weights ``W{l}`` and bias ``b{l}``.
    """

    name: str
    family: str
    link: str = ""
    layers: tuple[Layer, ...] = ()
    output: Output = field(default_factory=Output)
    weights: Prior = field(default_factory=normal)
    bias: Prior = field(default_factory=normal)
    noise: Prior = field(default_factory=lambda: Prior("halfnormal", (("sigma", 1.0),)))
    nu: Prior = field(default_factory=lambda: Prior("gamma", (("alpha", 2.0), ("beta", 0.1))))
    dispersion: Prior = field(default_factory=lambda: Prior("exponential", (("lam", 0.1),)))
    trials: int | str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        fam = FAMILIES.get(self.family)
        if fam is None:
            raise SpecError(
                f"family: unknown family {self.family!r}; use one of {choices(FAMILIES)}"
            )
        if not self.link:
            object.__setattr__(self, "link", fam.canonical_link)
        if self.link in REFUSED_LINKS:
            raise SpecError(
                f"link: {self.link!r} is not offered ({REFUSED_LINKS[self.link]}); "
                f"use one of {', '.join(fam.links)}"
            )
        if self.link not in fam.links:
            raise SpecError(
                f"link: {self.link!r} is not allowed for family {self.family!r}; "
                f"use one of {', '.join(fam.links)}"
            )
        for i, layer in enumerate(self.layers, start=1):
            if (
                isinstance(layer.units, bool)
                or not isinstance(layer.units, int)
                or layer.units <= 0
            ):
                raise SpecError(
                    f"layers[{i}].units: must be a positive integer, got {layer.units!r}"
                )
            if layer.activation not in ACTIVATIONS:
                raise SpecError(
                    f"layers[{i}].activation: unknown activation {layer.activation!r}; "
                    f"use one of {choices(ACTIVATIONS)}"
                )

    # --- structure -------------------------------------------------------------------------
    @property
    def depth(self) -> int:
        """Number of hidden layers (0 for a GLM)."""
        return len(self.layers)

    @property
    def n_layers(self) -> int:
        """Number of weight layers, output included: ``depth + 1``."""
        return self.depth + 1

    def has_bias(self, l: int) -> bool:
        """Whether weight layer ``l`` (1-based) has a bias."""
        return self.output.bias if l == self.n_layers else self.layers[l - 1].bias

    def weight_prior(self, l: int) -> Prior:
        """The prior on ``W{l}``."""
        own = self.output.weights if l == self.n_layers else self.layers[l - 1].weights
        return own or self.weights

    def bias_prior(self, l: int) -> Prior:
        """The prior on ``b{l}``."""
        own = self.output.bias_prior if l == self.n_layers else self.layers[l - 1].bias_prior
        return own or self.bias

    @property
    def nuisance(self) -> tuple[str, ...]:
        """Names of the family's noise parameters (``sigma``, ``nu``, ``alpha``)."""
        return FAMILIES[self.family].nuisance

    def with_name(self, name: str) -> Spec:
        """A copy with another name."""
        return replace(self, name=name)

    # --- (de)serialisation -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The TOML/JSON form; ``Spec.from_dict(spec.to_dict()) == spec``."""

        def own_priors(weights, bias_prior):
            p = {}
            if weights is not None:
                p["weights"] = weights.to_dict()
            if bias_prior is not None:
                p["bias"] = bias_prior.to_dict()
            return p

        layers = []
        for layer in self.layers:
            d = {"units": layer.units, "activation": layer.activation, "bias": layer.bias}
            if p := own_priors(layer.weights, layer.bias_prior):
                d["priors"] = p
            layers.append(d)
        out = {"bias": self.output.bias}
        if p := own_priors(self.output.weights, self.output.bias_prior):
            out["priors"] = p
        d = {
            "name": self.name,
            "family": self.family,
            "link": self.link,
            "layers": layers,
            "output": out,
            "priors": {
                "weights": self.weights.to_dict(),
                "bias": self.bias.to_dict(),
                "noise": self.noise.to_dict(),
                "nu": self.nu.to_dict(),
                "dispersion": self.dispersion.to_dict(),
            },
            "description": self.description,
        }
        if self.trials is not None:
            d["trials"] = self.trials
        return d

    def to_json(self) -> str:
        """Canonical JSON (sorted keys): stored in a run's attributes."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @property
    def hash(self) -> str:
        """A short content hash of the spec (name excluded): same architecture, same hash."""
        d = self.to_dict()
        d.pop("name"), d.pop("description")
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]

    @classmethod
    def from_json(cls, text: str) -> Spec:
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, source: str = "spec") -> Spec:
        """Build a spec from its TOML/JSON form, checking every key.

        Parameters
        ----------
        d : dict
            The parsed table (see ``models/*.toml``).
        source : str
            What to call the spec in error messages (a file name).
        """
        _check_keys(d, _TOP_KEYS, source)
        for key in ("name", "family", "link", "description"):
            if key in d:
                _str(d[key], key)
        for key in ("name", "family"):
            if not d.get(key):
                raise SpecError(f"{source}: missing or empty field {key!r}")
        priors = d.get("priors", {})
        _check_table(priors, f"{source}: priors")
        _check_keys(priors, _GLOBAL_PRIOR_KEYS, f"{source}: priors")
        kw: dict[str, Any] = {}
        for key in ("weights", "bias"):
            if key in priors:
                kw[key] = Prior.from_dict(priors[key], f"priors.{key}")
        for key in ("noise", "nu", "dispersion"):
            if key in priors:
                kw[key] = Prior.from_dict(priors[key], f"priors.{key}", positive=True)
        raw_layers = d.get("layers", [])
        if not isinstance(raw_layers, list):
            raise SpecError(f"{source}: layers must be an array of tables ([[layers]])")
        layers = tuple(_parse_layer(x, i) for i, x in enumerate(raw_layers, start=1))
        out = d.get("output", {})
        _check_table(out, f"{source}: output")
        _check_keys(out, _OUTPUT_KEYS, f"{source}: output")
        ow, ob = _layer_priors(out.get("priors", {}), "output.priors")
        trials = d.get("trials")
        if trials is not None and (
            isinstance(trials, bool)
            or not (isinstance(trials, str) or (isinstance(trials, int) and trials > 0))
        ):
            raise SpecError(f"trials: must be a positive integer or a column name, got {trials!r}")
        return cls(
            name=d["name"],
            family=d["family"],
            link=d.get("link", ""),
            layers=layers,
            output=Output(
                bias=_bool(out.get("bias", True), "output.bias"), weights=ow, bias_prior=ob
            ),
            trials=trials,
            description=d.get("description", ""),
            **kw,
        )


def _check_table(d: Any, where: str) -> None:
    if not isinstance(d, dict):
        raise SpecError(f"{where}: expected a table")


def _check_keys(d: dict, valid: set[str], where: str) -> None:
    unknown = sorted(set(d) - valid)
    if unknown:
        raise SpecError(
            f"{where}: unknown field {unknown[0]!r}; valid fields are {', '.join(sorted(valid))}"
        )


def _bool(v: Any, where: str) -> bool:
    if not isinstance(v, bool):
        raise SpecError(f"{where}: must be true or false, got {v!r}")
    return v


def _str(v: Any, where: str) -> str:
    if not isinstance(v, str):
        raise SpecError(f"{where}: must be a string, got {v!r}")
    return v


def _layer_priors(p: Any, where: str) -> tuple[Prior | None, Prior | None]:
    _check_table(p, where)
    _check_keys(p, _WEIGHT_PRIOR_KEYS, where)
    w = Prior.from_dict(p["weights"], f"{where}.weights") if "weights" in p else None
    b = Prior.from_dict(p["bias"], f"{where}.bias") if "bias" in p else None
    return w, b


def _parse_layer(x: Any, i: int) -> Layer:
    where = f"layers[{i}]"
    _check_table(x, where)
    _check_keys(x, _LAYER_KEYS, where)
    if "units" not in x or "activation" not in x:
        raise SpecError(f"{where}: needs both 'units' and 'activation'")
    w, b = _layer_priors(x.get("priors", {}), f"{where}.priors")
    return Layer(
        units=x["units"],
        activation=x["activation"],
        bias=_bool(x.get("bias", True), f"{where}.bias"),
        weights=w,
        bias_prior=b,
    )


def models_dir() -> Path:
    """The folder of the built-in specs: ``bayesstack/models`` when installed, else ``models/``.

    Raises
    ------
    SpecError
        When neither folder holds a spec.
    """
    here = Path(__file__).resolve().parent
    candidates = (here / "models", here.parent / "models")
    for cand in candidates:
        if any(cand.glob("*.toml")):
            return cand
    raise SpecError(
        f"models: no built-in specs in {' or '.join(map(str, candidates))}; reinstall bayesstack"
    )


def builtin_specs() -> list[str]:
    """Names of the built-in specs (``stack1-tanh``, ...), for :func:`load_spec`."""
    return sorted(p.stem for p in models_dir().glob("*.toml"))


def load_spec(path: str | Path) -> Spec:
    """Read a model spec from a TOML file, or a built-in spec by name.

    Parameters
    ----------
    path : str or Path
        A ``.toml`` file, e.g. ``models/stack1-tanh.toml``, or the name of a built-in spec,
        e.g. ``"stack1-tanh"`` (see :func:`builtin_specs`).

    Returns
    -------
    Spec
        The checked spec.

    Raises
    ------
    SpecError
        When the file is missing, is not UTF-8 text, is not valid TOML, or names something
        unknown.
    """
    path = Path(path)
    if not path.exists() and path.suffix == "" and path.parent == Path("."):
        if path.name in builtin_specs():
            path = models_dir() / f"{path.name}.toml"
        else:
            raise SpecError(
                f"spec {path.name!r}: no such file or built-in spec; give a .toml file or one "
                f"of {', '.join(builtin_specs())}"
            )
    if path.is_dir():
        raise SpecError(
            f"spec file {str(path)!r}: is a folder; give a .toml file or a built-in spec name"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise SpecError(f"spec file {str(path)!r}: cannot be read ({e.strerror})") from None
    except UnicodeDecodeError:
        raise SpecError(
            f"spec file {str(path)!r}: not a UTF-8 text file; save it as UTF-8 TOML"
        ) from None
    try:
        d = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"spec file {str(path)!r}: malformed TOML ({e})") from None
    return Spec.from_dict(d, source=path.name)
