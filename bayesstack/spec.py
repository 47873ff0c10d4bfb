"""Declarative model specs: a stacked GLM as data, read from TOML. Never imports PyMC."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import tomllib
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bayesstack.errors import SpecError, short_repr
from bayesstack.registry import ACTIVATIONS, FAMILIES, PRIORS, REFUSED_LINKS, choices

#: Hard caps of a spec: beyond them no machine can hold or compile the model, so no override
#: (``allow_large``) lifts them. The soft, overridable limits are in ``bayesstack.limits``.
MAX_DEPTH = 1_000  # a 300-layer stack of 1-unit layers already compiled for > 6 min at 15.7 GB
MAX_UNITS = 1_000_000  # per layer: N x units x 8 bytes is 8 GB per 1,000 observations
MAX_HIDDEN_WEIGHTS = 100_000_000  # weights between hidden layers: 800 MB per draw of them
MAX_TRIALS = 2**53  # binomial trials: exact in float64, and in any JSON reader
MAX_NAME = 200  # characters of a spec's name (it goes into file names and titles)
MAX_SPEC_BYTES = 1 << 20  # a spec file is a few hundred bytes; 1 MiB is read at most
_HARD = "even with allow_large=True or --allow-large"

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

    def to_toml(self) -> str:
        """The TOML inline table, e.g. ``{ dist = "normal", sigma = 1.0 }``."""
        return (
            "{ "
            + ", ".join([f'dist = "{self.dist}"', *(f"{k} = {v!r}" for k, v in self.params)])
            + " }"
        )

    @classmethod
    def from_dict(
        cls, d: Any, where: str, *, positive: bool = False, example: Prior | None = None
    ) -> Prior:
        """Parse and check a prior table; ``where`` names the field in errors.

        ``positive`` selects the priors of positive quantities (noise, nu, dispersion);
        ``example`` is the valid table that a message suggests (the field's default).
        """
        if not isinstance(d, dict) or "dist" not in d:
            raise SpecError(_expected_prior(d, where, positive, example))
        name = d["dist"]
        kind = PRIORS.get(name) if isinstance(name, str) else None
        if kind is None or kind.positive != positive:
            valid = {k: v for k, v in PRIORS.items() if v.positive == positive}
            raise SpecError(
                f"{where}: unknown prior {short_repr(name)}; use one of {choices(valid)}"
            )
        _check_names(d, where)
        unknown = set(d) - {"dist", *kind.params}
        if unknown:
            raise SpecError(
                f"{where}: unknown parameter {short_repr(sorted(unknown)[0])} for prior {name!r}; "
                f"it takes {', '.join(kind.params)}"
            )
        params = []
        for p, default in zip(kind.params, kind.defaults, strict=True):
            v = d.get(p, default)
            if not _positive_finite(v):
                raise SpecError(
                    f"{where}.{p}: must be a finite positive number, got {short_repr(v)}"
                )
            params.append((p, float(v)))
        return cls(name, tuple(params))


def _expected_prior(d: Any, where: str, positive: bool, example: Prior | None) -> str:
    """The message for a prior that is not a table with a ``dist``: a valid example for it."""
    if example is None:
        example = Prior("halfnormal", (("sigma", 1.0),)) if positive else normal()
    msg = f"{where}: expected a table like {example.to_toml()}"
    if positive and _positive_finite(d):  # a bare number: perhaps meant as a known constant
        msg += f", or {Prior('fixed', (('value', float(d)),)).to_toml()} to fix it"
    return f"{msg}; got {short_repr(d)}"


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
    noise: Prior = field(default_factory=lambda: _POSITIVE_DEFAULTS["noise"])
    nu: Prior = field(default_factory=lambda: _POSITIVE_DEFAULTS["nu"])
    dispersion: Prior = field(default_factory=lambda: _POSITIVE_DEFAULTS["dispersion"])
    trials: int | str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        _check_name(self.name)
        if not isinstance(self.family, str) or self.family not in FAMILIES:
            raise SpecError(
                f"family: unknown family {short_repr(self.family)}; use one of {choices(FAMILIES)}"
            )
        fam = FAMILIES[self.family]
        if not isinstance(self.link, str):
            raise SpecError(f"link: must be a string, got {short_repr(self.link)}")
        if not self.link:
            object.__setattr__(self, "link", fam.canonical_link)
        if self.link in REFUSED_LINKS:
            raise SpecError(
                f"link: {short_repr(self.link)} is not offered ({REFUSED_LINKS[self.link]}); "
                f"use one of {', '.join(fam.links)}"
            )
        if self.link not in fam.links:
            raise SpecError(
                f"link: {short_repr(self.link)} is not allowed for family {self.family!r}; "
                f"use one of {', '.join(fam.links)}"
            )
        if len(fam.outputs) > 1 and self.noise != _POSITIVE_DEFAULTS["noise"]:
            raise SpecError(_no_noise(self.family))
        _check_layers(self.layers)

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

    @property
    def outputs(self) -> tuple[str, ...]:
        """The stack's outputs: ``("mu",)``, or ``("mu", "log_sigma")`` (location–scale)."""
        return FAMILIES[self.family].outputs

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
        if len(self.outputs) > 1:  # sigma is an output: the family takes no noise prior
            del d["priors"]["noise"]
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
        try:
            d = json.loads(text)
        except (ValueError, TypeError, RecursionError) as e:
            raise SpecError(f"spec JSON: not valid JSON ({_reason(e)})") from None
        return cls.from_dict(d)

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, source: str = "spec") -> Spec:
        """Build a spec from its TOML/JSON form, checking every key.

        Parameters
        ----------
        d : dict
            The parsed table (see ``models/*.toml``).
        source : str
            What to call the spec in error messages (a file name).

        Raises
        ------
        SpecError
            One line naming the field and the fix, whatever ``d`` holds.
        """
        source = _label(source)
        if not isinstance(d, dict):
            raise SpecError(
                f"{source}: expected a table (dict) of spec fields, got "
                f"{type(d).__name__} {short_repr(d)}"
            )
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
        if "noise" in priors and d["family"] in FAMILIES and len(FAMILIES[d["family"]].outputs) > 1:
            raise SpecError(_no_noise(d["family"]))
        kw: dict[str, Any] = {}
        for key in ("weights", "bias"):
            if key in priors:
                kw[key] = Prior.from_dict(priors[key], f"priors.{key}")
        for key in ("noise", "nu", "dispersion"):
            if key in priors:
                kw[key] = Prior.from_dict(
                    priors[key], f"priors.{key}", positive=True, example=_POSITIVE_DEFAULTS[key]
                )
        raw_layers = d.get("layers", [])
        if not isinstance(raw_layers, list):
            raise SpecError(f"{source}: layers must be an array of tables ([[layers]])")
        _check_depth(len(raw_layers))  # before parsing them
        layers = tuple(_parse_layer(x, i) for i, x in enumerate(raw_layers, start=1))
        out = d.get("output", {})
        _check_table(out, f"{source}: output")
        _check_keys(out, _OUTPUT_KEYS, f"{source}: output")
        ow, ob = _layer_priors(out.get("priors", {}), "output.priors")
        trials = _trials(d.get("trials"))
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


_POSITIVE_DEFAULTS = {
    "noise": Prior("halfnormal", (("sigma", 1.0),)),
    "nu": Prior("gamma", (("alpha", 2.0), ("beta", 0.1))),
    "dispersion": Prior("exponential", (("lam", 0.1),)),
}


def _no_noise(family: str) -> str:
    """The one-line refusal of a noise prior for a family whose σ is an output of the stack."""
    return (
        f"priors.noise: family {family!r} takes no noise prior: sigma = exp(log_sigma) is the "
        "stack's second output, whose weights take the output layer's priors; remove priors.noise"
    )


def _check_name(name: Any) -> None:
    """A spec's name: one line of text, short enough for file names and titles."""
    if not isinstance(name, str) or not name:
        raise SpecError(f"name: must be a non-empty string, got {short_repr(name)}")
    if len(name) > MAX_NAME:
        raise SpecError(
            f"name: {len(name)} characters is too long (at most {MAX_NAME}), got {short_repr(name)}"
        )
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in name):
        raise SpecError(
            f"name: must be one line of text without control characters, got {short_repr(name)}"
        )


def _check_depth(depth: int) -> None:
    if depth > MAX_DEPTH:
        raise SpecError(
            f"layers: {depth} hidden layers is more than any machine can compile "
            f"(at most {MAX_DEPTH}, {_HARD})"
        )


def _check_layers(layers: Any) -> None:
    """Every layer's width and activation, and the hard caps on depth and size."""
    _check_depth(len(layers))
    for i, layer in enumerate(layers, start=1):
        units = layer.units
        if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
            raise SpecError(
                f"layers[{i}].units: must be a positive integer, got {short_repr(units)}"
            )
        if units > MAX_UNITS:
            raise SpecError(
                f"layers[{i}].units: {short_repr(units)} units is more than any machine can fit "
                f"(at most {MAX_UNITS} per layer, {_HARD})"
            )
        act = layer.activation
        if not isinstance(act, str) or act not in ACTIVATIONS:
            raise SpecError(
                f"layers[{i}].activation: unknown activation {short_repr(act)}; "
                f"use one of {choices(ACTIVATIONS)}"
            )
    hidden = sum(a.units * b.units for a, b in itertools.pairwise(layers))
    if hidden > MAX_HIDDEN_WEIGHTS:
        raise SpecError(
            f"layers: {hidden} weights between hidden layers is more than any machine can fit "
            f"(at most {MAX_HIDDEN_WEIGHTS}, {_HARD})"
        )


def _label(source: Any) -> str:
    """``source`` as a message prefix: itself if it is short printable text, else its repr."""
    if isinstance(source, str) and source.isprintable() and 0 < len(source) <= 100:
        return source
    return short_repr(source, 100)


def _trials(trials: Any) -> int | str | None:
    """The spec's binomial trials: a positive integer, a column name, or none."""
    if trials is None:
        return None
    if isinstance(trials, str) and trials:
        return trials
    if isinstance(trials, int) and not isinstance(trials, bool) and 0 < trials <= MAX_TRIALS:
        return trials
    if isinstance(trials, int) and not isinstance(trials, bool) and trials > MAX_TRIALS:
        raise SpecError(f"trials: at most {MAX_TRIALS} (2**53), got {short_repr(trials)}")
    raise SpecError(
        f"trials: must be a positive integer or a column name, got {short_repr(trials)}"
    )


def _check_table(d: Any, where: str) -> None:
    if not isinstance(d, dict):
        raise SpecError(f"{where}: expected a table, got {short_repr(d)}")


def _check_names(d: dict, where: str) -> None:
    """Field names are strings (TOML and JSON keys always are; a Python dict's may not be)."""
    for k in d:
        if not isinstance(k, str):
            raise SpecError(f"{where}: field names must be strings, got {short_repr(k)}")


def _check_keys(d: dict, valid: set[str], where: str) -> None:
    _check_names(d, where)
    unknown = sorted(set(d) - valid)
    if unknown:
        raise SpecError(
            f"{where}: unknown field {short_repr(unknown[0])}; "
            f"valid fields are {', '.join(sorted(valid))}"
        )


def _bool(v: Any, where: str) -> bool:
    if not isinstance(v, bool):
        raise SpecError(f"{where}: must be true or false, got {short_repr(v)}")
    return v


def _str(v: Any, where: str) -> str:
    if not isinstance(v, str):
        raise SpecError(f"{where}: must be a string, got {short_repr(v)}")
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
        One line, when the file is missing, larger than ``MAX_SPEC_BYTES``, not UTF-8 text or
        not valid TOML, or when the spec is invalid (see :meth:`Spec.from_dict`).
    """
    try:
        path = Path(path)
        missing, is_dir = not path.exists(), path.is_dir()
    except TypeError:
        raise SpecError(
            f"spec: give a .toml file or a built-in spec name, got {short_repr(path)}"
        ) from None
    except (OSError, ValueError) as e:  # a name too long, a NUL byte
        raise SpecError(f"spec file {_quote_path(path)}: cannot be read ({_reason(e)})") from None
    if missing and path.suffix == "" and path.parent == Path("."):
        if path.name in builtin_specs():
            path = models_dir() / f"{path.name}.toml"
            missing = False
        else:
            raise SpecError(
                f"spec {short_repr(path.name)}: no such file or built-in spec; give a .toml file "
                f"or one of {', '.join(builtin_specs())}"
            )
    if is_dir:
        raise SpecError(
            f"spec file {_quote_path(path)}: is a folder; give a .toml file or a built-in spec name"
        )
    if missing:  # e.g. "models/stack1-tanh.toml" outside a clone of the repository
        builtin = path.stem if path.suffix == ".toml" and path.stem in builtin_specs() else None
        raise SpecError(
            f"spec file {_quote_path(path)}: cannot be read: it does not exist"
            + (
                f"; {builtin!r} is a built-in spec: load it by name, load_spec({builtin!r}) "
                f"(or `bayesstack fit {builtin} ...`)"
                if builtin
                else "; give a .toml file or a built-in spec name"
            )
        )
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_SPEC_BYTES + 1)  # never more: a spec is a few hundred bytes
    except (OSError, ValueError) as e:
        raise SpecError(f"spec file {_quote_path(path)}: cannot be read ({_reason(e)})") from None
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError(
            f"spec file {_quote_path(path)}: larger than {MAX_SPEC_BYTES} bytes; "
            "a spec is a short TOML file"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(
            f"spec file {_quote_path(path)}: not a UTF-8 text file; save it as UTF-8 TOML"
        ) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # as text mode reads it
    return loads_spec(text, source=path.name, label=f"spec file {_quote_path(path)}")


def loads_spec(text: str, *, source: str = "spec", label: str | None = None) -> Spec:
    """Parse a model spec from TOML text (a leading UTF-8 byte-order mark is allowed).

    Parameters
    ----------
    text : str
        The TOML text of a spec.
    source : str
        What to call the spec in messages about its fields (a file name).
    label : str, optional
        What to call the text in messages about its syntax (default: ``source``).

    Raises
    ------
    SpecError
        One line, when the text is not TOML or does not describe a valid spec.
    """
    label = label or _label(source)
    text = text.removeprefix("\ufeff")  # a BOM: some editors save UTF-8 with one
    try:
        d = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{label}: malformed TOML ({' '.join(str(e).split())[:150]})") from None
    except ValueError:  # Python's limit on int(str): 4300 digits
        raise SpecError(
            f"{label}: an integer has more than 4300 digits; no spec field takes one"
        ) from None
    except RecursionError:
        raise SpecError(f"{label}: arrays or tables nested too deeply for a spec") from None
    return Spec.from_dict(d, source=source)


def _quote_path(path: Any) -> str:
    return short_repr(str(path), 120)


def _reason(e: Exception) -> str:
    """An OSError's reason ("No such file or directory"), or another error's message."""
    return getattr(e, "strerror", None) or " ".join(str(e).split())[:100]
