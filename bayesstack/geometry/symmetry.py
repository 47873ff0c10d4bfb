"""The symmetry group of a stacked GLM, computed from its spec, and its action on the weights.

Every hidden layer's units can be permuted. Depending on the activation (``registry.ACTIVATIONS``)
a layer also has sign flips (odd: tanh, identity), reflections with a bias shift (sigmoid),
positive rescalings (relu) or the whole linear group (identity). Each symmetry either keeps the
joint posterior (``"posterior"``) or only the likelihood (``"likelihood"``), which the priors
(``registry.PRIORS`` flags ``symmetric`` and ``isotropic``) decide.

A :class:`GroupElement` holds, per hidden layer, a permutation, signs, positive scales and an
optional matrix, each with leading dims that broadcast against the sample dims of the weights,
so one element per draw is applied in one vectorised call of :func:`apply`.

The action of layer ``l``'s part (units ``j``, new unit ``j`` is old unit ``perm[j]``) is
``W_l -> W_l P D A``, ``b_l -> b_l P D A`` and ``W_{l+1} -> (P D A)^{-1} W_{l+1}``, where
``P`` is the permutation matrix, ``D = diag(sign * scale)`` and ``A`` the matrix (identity layers
only). A family with several outputs (``gaussian_location_scale``: μ and log σ) has an output
weight ``W_L`` of shape ``(H, k)``: the last hidden layer's element acts on its rows, as on any
next layer's, and never on its columns (the outputs are different quantities). For sigmoid
layers a negative sign is a reflection ``sigma(-z) = 1 - sigma(z)``: the same map, plus
``b_{l+1} += W_{l+1}[perm[j]]`` for every reflected unit ``j``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from bayesstack.model.network import param_dims, vector_output, weight_names
from bayesstack.registry import ACTIVATIONS, PRIORS
from bayesstack.spec import Spec

Status = Literal["posterior", "likelihood", "none"]
Kind = Literal["posterior", "likelihood"]

_EULER_GAMMA = 0.5772156649015329


# --- the group, computed from the spec --------------------------------------------------------
@dataclass(frozen=True)
class ContinuousSymmetry:
    """A continuous symmetry of one hidden layer.

    Attributes
    ----------
    layer : int
        Hidden layer (1-based).
    kind : {"O", "GL", "R+"}
        The orthogonal group O(H), the general linear group GL(H) or positive rescalings R+^H.
    units : int
        ``H``.
    scope : {"posterior", "likelihood"}
        Whether it keeps the posterior, or only the likelihood.
    """

    layer: int
    kind: Literal["O", "GL", "R+"]
    units: int
    scope: Kind

    @property
    def dimension(self) -> int:
        """Dimension of the group: H(H-1)/2 for O(H), H² for GL(H), H for R+^H."""
        h = self.units
        return {"O": h * (h - 1) // 2, "GL": h * h, "R+": h}[self.kind]

    @property
    def name(self) -> str:
        """``O(3)``, ``GL(3)`` or ``R+^3``."""
        return f"R+^{self.units}" if self.kind == "R+" else f"{self.kind}({self.units})"

    def __str__(self) -> str:
        what = " rescaling" if self.kind == "R+" else ""
        scope = "(posterior)" if self.scope == "posterior" else "(likelihood only)"
        return f"{self.name}{what} on hidden{self.layer} {scope}"

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-serialisable)."""
        return {**asdict(self), "name": self.name, "dimension": self.dimension}


@dataclass(frozen=True)
class LayerSymmetry:
    """The symmetries of one hidden layer's units.

    Each symmetry's status is ``"posterior"`` (it keeps likelihood and prior),
    ``"likelihood"`` (it keeps the likelihood only) or ``"none"``.

    Attributes
    ----------
    layer : int
        Hidden layer (1-based); it acts on ``W{layer}``, ``b{layer}`` and ``W{layer+1}``.
    units, activation : int, str
        Number of units ``H`` and the activation's name.
    permutations : str
        The ``H!`` permutations of the units (always a posterior symmetry: priors are iid).
    sign_flips : str
        ``2^H`` sign flips of odd activations (tanh, identity).
    reflections : str
        ``2^H`` sigmoid reflections (the next layer's bias absorbs the shift).
    rescaling : str
        Positive rescaling ``R+^H`` of relu units.
    general_linear, orthogonal : str
        ``GL(H)`` and its subgroup ``O(H)`` for identity layers.
    posterior_order, likelihood_order_discrete : int
        Orders of the discrete parts of the layer's posterior and likelihood groups.
    continuous : tuple of str
        Names of the layer's continuous symmetries (``str`` of :attr:`continuous_records`).
    continuous_records : tuple of ContinuousSymmetry
        The same, typed.
    notes : tuple of str
        Why an expected symmetry is absent or likelihood-only.
    """

    layer: int
    units: int
    activation: str
    permutations: Status
    sign_flips: Status
    reflections: Status
    rescaling: Status
    general_linear: Status
    orthogonal: Status
    posterior_order: int
    likelihood_order_discrete: int
    continuous: tuple[str, ...]
    notes: tuple[str, ...]
    continuous_records: tuple[ContinuousSymmetry, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-serialisable)."""
        d = asdict(self)
        d["continuous"], d["notes"] = list(self.continuous), list(self.notes)
        d["continuous_records"] = [c.to_dict() for c in self.continuous_records]
        return d


@dataclass(frozen=True)
class SymmetryGroup:
    """The symmetry group of a spec's weights, layer by layer.

    Attributes
    ----------
    spec_name : str
        The spec it was computed from.
    layers : tuple of LayerSymmetry
        One entry per hidden layer (empty for a GLM).
    posterior_order : int
        Order of the discrete posterior group: the number of symmetric images of a generic
        posterior mode (``prod H_l! 2^H_l`` over odd layers, ``prod H_l!`` over the others).
    likelihood_order_discrete : int
        The same for the likelihood, adding sigmoid reflections.
    continuous_symmetries : tuple of str
        Continuous symmetries, e.g. ``"O(3) on hidden1 (posterior)"``.
    continuous : tuple of ContinuousSymmetry
        The same, typed.
    """

    spec_name: str
    layers: tuple[LayerSymmetry, ...]
    posterior_order: int
    likelihood_order_discrete: int
    continuous_symmetries: tuple[str, ...]
    continuous: tuple[ContinuousSymmetry, ...] = ()

    @property
    def posterior_continuous(self) -> tuple[ContinuousSymmetry, ...]:
        """The continuous symmetries that keep the posterior (O(H) of identity layers)."""
        return tuple(c for c in self.continuous if c.scope == "posterior")

    @property
    def orbit_dimension(self) -> int:
        """Dimension of a generic posterior orbit: the sum of H(H-1)/2 over O(H) layers."""
        return sum(c.dimension for c in self.posterior_continuous)

    @property
    def discrete_order(self) -> int:
        """Order of the discrete part not already inside a continuous posterior symmetry.

        The signed permutations of an identity layer with O(H) lie inside O(H), so such a
        layer contributes no discrete factor.
        """
        inside = {c.layer for c in self.posterior_continuous}
        return math.prod(x.posterior_order for x in self.layers if x.layer not in inside)

    @property
    def posterior_name(self) -> str:
        """The posterior group in words: ``48``, ``O(3) × O(3)``, ``6 × O(3)``, ``trivial``."""
        parts = [f"{self.discrete_order:,}"] if self.discrete_order > 1 else []
        parts += [c.name for c in self.posterior_continuous]
        return " × ".join(parts) or "trivial"

    @property
    def is_trivial(self) -> bool:
        """Whether no symmetry at all acts (a GLM)."""
        return self.likelihood_order_discrete == 1 and not self.continuous_symmetries

    def expected_chains_to_see_all(self, n: int | None = None) -> float:
        """Expected number of chains until each of ``n`` equally likely modes is visited.

        The coupon collector's ``n H_n``; ``n`` defaults to :attr:`posterior_order`.
        """
        return coupon_collector(self.posterior_order if n is None else n)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-serialisable)."""
        return {
            "spec_name": self.spec_name,
            "posterior_order": self.posterior_order,
            "log10_posterior_order": math.log10(self.posterior_order),
            "likelihood_order_discrete": self.likelihood_order_discrete,
            "continuous_symmetries": list(self.continuous_symmetries),
            "continuous": [c.to_dict() for c in self.continuous],
            "posterior_name": self.posterior_name,
            "orbit_dimension": self.orbit_dimension,
            "expected_chains_to_see_all": self.expected_chains_to_see_all(),
            "layers": [layer.to_dict() for layer in self.layers],
        }


def coupon_collector(n: int) -> float:
    """Expected draws to see all ``n`` equally likely outcomes: ``n H_n`` (inf on overflow)."""
    if n < 1:
        raise ValueError(f"n: must be a positive integer, got {n!r}")
    if n <= 100_000:
        return n * math.fsum(1.0 / k for k in range(1, n + 1))
    # asymptotic harmonic number, exact to double precision for n > 1e5
    h = math.log(n) + _EULER_GAMMA + 1 / (2 * n) - 1 / (12 * n**2)
    try:
        return math.exp(math.log(n) + math.log(h))
    except OverflowError:
        return math.inf


def _prior_ok(spec: Spec, l: int, flag: str) -> tuple[bool, list[str]]:
    """Whether the priors of ``W_l``, ``b_l`` and ``W_{l+1}`` all have ``flag``; the ones not."""
    priors = {f"W{l}": spec.weight_prior(l), f"W{l + 1}": spec.weight_prior(l + 1)}
    if spec.has_bias(l):
        priors[f"b{l}"] = spec.bias_prior(l)
    bad = [f"{k} ({p.dist})" for k, p in priors.items() if not getattr(PRIORS[p.dist], flag)]
    return not bad, bad


def _layer_symmetry(spec: Spec, l: int) -> LayerSymmetry:
    layer = spec.layers[l - 1]
    h, kind = layer.units, ACTIVATIONS[layer.activation].symmetry
    notes: list[str] = []
    flips = refl = resc = gl = orth = "none"
    continuous: list[ContinuousSymmetry] = []
    if kind in ("odd", "linear"):
        symmetric, bad = _prior_ok(spec, l, "symmetric")
        flips = "posterior" if symmetric else "likelihood"
        if bad:
            notes.append(f"sign flips are likelihood-only: priors not even on {', '.join(bad)}")
    if kind == "reflect":
        if spec.has_bias(l + 1):
            refl = "likelihood"
        else:
            notes.append(f"no bias in layer {l + 1}: sigmoid reflections are not a symmetry")
    if kind == "scale":
        resc = "likelihood"
        continuous.append(ContinuousSymmetry(l, "R+", h, "likelihood"))
    if kind == "linear":
        gl = "likelihood"
        isotropic, bad = _prior_ok(spec, l, "isotropic")
        orth = "posterior" if isotropic else "likelihood"
        if isotropic:
            continuous.append(ContinuousSymmetry(l, "O", h, "posterior"))
        else:
            notes.append(f"O({h}) is likelihood-only: priors not isotropic on {', '.join(bad)}")
        continuous.append(ContinuousSymmetry(l, "GL", h, "likelihood"))
    n_perm = math.factorial(h)
    any_flips = flips != "none" or refl != "none"
    return LayerSymmetry(
        layer=l,
        units=h,
        activation=layer.activation,
        permutations="posterior",  # priors are iid within a layer
        sign_flips=flips,
        reflections=refl,
        rescaling=resc,
        general_linear=gl,
        orthogonal=orth,
        posterior_order=n_perm * (2**h if flips == "posterior" else 1),
        likelihood_order_discrete=n_perm * (2**h if any_flips else 1),
        continuous=tuple(str(c) for c in continuous),
        notes=tuple(notes),
        continuous_records=tuple(continuous),
    )


def symmetry_group(spec: Spec) -> SymmetryGroup:
    """The symmetry group of ``spec``'s weights, computed from its activations and priors.

    Parameters
    ----------
    spec : Spec
        The architecture and priors.

    Returns
    -------
    SymmetryGroup
        Per-layer symmetries, the orders of the discrete posterior and likelihood groups and
        the names of the continuous symmetries. A GLM (depth 0) has the trivial group.
    """
    layers = tuple(_layer_symmetry(spec, l) for l in range(1, spec.depth + 1))
    return SymmetryGroup(
        spec_name=spec.name,
        layers=layers,
        posterior_order=math.prod(x.posterior_order for x in layers),
        likelihood_order_discrete=math.prod(x.likelihood_order_discrete for x in layers),
        continuous_symmetries=tuple(c for x in layers for c in x.continuous),
        continuous=tuple(c for x in layers for c in x.continuous_records),
    )


# --- group elements and their action ----------------------------------------------------------
@dataclass(frozen=True)
class GroupElement:
    """One element (or a batch of elements) of a spec's symmetry group.

    Attributes
    ----------
    perm : tuple of int arrays (..., H_l)
        Per hidden layer: new unit ``j`` is old unit ``perm[..., j]``.
    sign : tuple of float arrays (..., H_l)
        ``+1``/``-1`` per new unit: a sign flip, or for sigmoid layers a reflection.
    scale : tuple of float arrays (..., H_l)
        Positive scale per new unit (relu and identity layers; 1 elsewhere).
    matrix : tuple of (array (..., H_l, H_l) or None)
        A general linear element applied after the signed, scaled permutation (identity
        layers only).

    Leading dims broadcast against the weights' sample dims: ``(chain, draw)`` gives one
    element per draw, ``()`` one element for all.
    """

    perm: tuple[np.ndarray, ...]
    sign: tuple[np.ndarray, ...]
    scale: tuple[np.ndarray, ...]
    matrix: tuple[np.ndarray | None, ...]

    @property
    def depth(self) -> int:
        """Number of hidden layers."""
        return len(self.perm)

    @property
    def shape(self) -> tuple[int, ...]:
        """Broadcast leading (batch) shape of the element."""
        shapes = [a.shape[:-1] for a in (*self.perm, *self.sign, *self.scale)]
        shapes += [m.shape[:-2] for m in self.matrix if m is not None]
        return np.broadcast_shapes(*shapes) if shapes else ()

    def to_dict(self) -> dict[str, Any]:
        """Nested lists, one entry per hidden layer (``matrix`` entries may be None)."""
        return {
            "perm": [p.tolist() for p in self.perm],
            "sign": [s.tolist() for s in self.sign],
            "scale": [c.tolist() for c in self.scale],
            "matrix": [None if m is None else m.tolist() for m in self.matrix],
        }


def identity_element(spec: Spec, shape: tuple[int, ...] = ()) -> GroupElement:
    """The identity, with leading shape ``shape``."""
    units = [layer.units for layer in spec.layers]
    return GroupElement(
        perm=tuple(np.broadcast_to(np.arange(h), (*shape, h)).copy() for h in units),
        sign=tuple(np.ones((*shape, h)) for h in units),
        scale=tuple(np.ones((*shape, h)) for h in units),
        matrix=(None,) * len(units),
    )


def _random_orthogonal(rng: np.random.Generator, shape: tuple[int, ...], h: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(*shape, h, h)))
    return q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]  # Haar measure


def random_element(
    spec: Spec,
    group: SymmetryGroup | None = None,
    rng: np.random.Generator | int | None = None,
    *,
    kind: Kind = "posterior",
    size: int | tuple[int, ...] = (),
) -> GroupElement:
    """A random element of the posterior or the likelihood group.

    Parameters
    ----------
    spec : Spec
        The architecture.
    group : SymmetryGroup, optional
        ``symmetry_group(spec)``, when already computed.
    rng : Generator or int, optional
        Random numbers (seeded for reproducibility).
    kind : {"posterior", "likelihood"}
        ``"posterior"``: signed permutations where the posterior allows them, plus a Haar
        orthogonal matrix for identity layers with isotropic Normal priors. ``"likelihood"``:
        adds sigmoid reflections, relu rescalings (log-normal scales) and general linear
        matrices for identity layers.
    size : int or tuple of int
        Leading shape: one independent element per entry.

    Returns
    -------
    GroupElement
    """
    if kind not in ("posterior", "likelihood"):
        raise ValueError(f"kind: use 'posterior' or 'likelihood', got {kind!r}")
    group = group or symmetry_group(spec)
    rng = np.random.default_rng(rng)
    shape = (size,) if isinstance(size, int) else tuple(size)
    lik = kind == "likelihood"
    perm, sign, scale, matrix = [], [], [], []
    for ls in group.layers:
        h = ls.units
        perm.append(np.argsort(rng.random((*shape, h)), axis=-1))
        flips = ls.sign_flips == "posterior" or (
            lik and "likelihood" in (ls.sign_flips, ls.reflections)
        )
        sign.append(rng.choice([-1.0, 1.0], size=(*shape, h)) if flips else np.ones((*shape, h)))
        rescale = lik and "likelihood" in (ls.rescaling, ls.general_linear)
        scale.append(
            np.exp(0.5 * rng.normal(size=(*shape, h))) if rescale else np.ones((*shape, h))
        )
        m = None
        if ls.general_linear != "none" and lik:  # well-conditioned: Q1 diag(e^z) Q2
            d = np.exp(0.3 * rng.normal(size=(*shape, 1, h)))
            m = _random_orthogonal(rng, shape, h) * d @ _random_orthogonal(rng, shape, h)
        elif ls.orthogonal == "posterior":
            m = _random_orthogonal(rng, shape, h)
        matrix.append(m)
    return GroupElement(tuple(perm), tuple(sign), tuple(scale), tuple(matrix))


def check_element(spec: Spec, element: GroupElement) -> None:
    """Raise ``ValueError`` unless ``element`` is in the likelihood group of ``spec``."""
    if element.depth != spec.depth:
        raise ValueError(f"element: has {element.depth} hidden layers, the spec {spec.depth}")
    for i, layer in enumerate(spec.layers):
        l, h = i + 1, layer.units
        kind = ACTIVATIONS[layer.activation].symmetry
        p, s, c, m = element.perm[i], element.sign[i], element.scale[i], element.matrix[i]
        where = f"element, hidden{l} ({layer.activation})"
        if any(a.shape[-1] != h for a in (p, s, c)) or (m is not None and m.shape[-2:] != (h, h)):
            raise ValueError(f"{where}: expected {h} units")
        if not np.array_equal(np.sort(p, axis=-1), np.broadcast_to(np.arange(h), p.shape)):
            raise ValueError(f"{where}: perm is not a permutation")
        if not np.all(np.abs(s) == 1):
            raise ValueError(f"{where}: sign must be +1 or -1")
        if not np.all(c > 0):
            raise ValueError(f"{where}: scale must be positive")
        if np.any(s < 0) and kind in ("scale", "none"):
            raise ValueError(f"{where}: sign flips are not a symmetry")
        if np.any(s < 0) and kind == "reflect" and not spec.has_bias(l + 1):
            raise ValueError(f"{where}: reflections need a bias in layer {l + 1}")
        if np.any(c != 1) and kind not in ("scale", "linear"):
            raise ValueError(f"{where}: rescaling is not a symmetry")
        if m is not None and kind != "linear":
            raise ValueError(f"{where}: a matrix acts on identity layers only")


def sample_shape(spec: Spec, params: Mapping[str, Any]) -> tuple[int, ...]:
    """Leading sample dims of ``params`` (e.g. ``(chain, draw)``), read from ``W1``."""
    w = np.shape(params["W1"])
    return w[: len(w) - len(param_dims(spec)["W1"])]


def apply_layer(
    spec: Spec,
    params: Mapping[str, Any],
    l: int,
    perm: np.ndarray,
    sign: np.ndarray | None = None,
    scale: np.ndarray | None = None,
    matrix: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The action of hidden layer ``l``'s part of an element (no membership check).

    Returns only the arrays it changes: ``W{l}``, ``b{l}``, ``W{l+1}`` and, for sigmoid
    reflections, ``b{l+1}``; their leading dims are broadcast against the element's.
    """
    kind = ACTIVATIONS[spec.layers[l - 1].activation].symmetry
    to_out = l + 1 == spec.n_layers and vector_output(spec)  # else W_{l+1} is a matrix
    W, Wn = np.asarray(params[f"W{l}"]), np.asarray(params[f"W{l + 1}"])
    h = W.shape[-1]
    sign = np.ones(h) if sign is None else np.asarray(sign, dtype=float)
    scale = np.ones(h) if scale is None else np.asarray(scale, dtype=float)
    lead = np.broadcast_shapes(W.shape[:-2], perm.shape[:-1], sign.shape[:-1], scale.shape[:-1])
    if matrix is not None:
        lead = np.broadcast_shapes(lead, matrix.shape[:-2])
    p = np.broadcast_to(perm, (*lead, h))
    f = np.broadcast_to(sign * scale, (*lead, h))
    W = np.broadcast_to(W, (*lead, *W.shape[-2:]))
    out = {f"W{l}": np.take_along_axis(W, p[..., None, :], axis=-1) * f[..., None, :]}
    if spec.has_bias(l):
        b = np.broadcast_to(params[f"b{l}"], (*lead, h))
        out[f"b{l}"] = np.take_along_axis(b, p, axis=-1) * f
    if to_out:  # W_{l+1} is a vector (..., H)
        Wn = np.take_along_axis(np.broadcast_to(Wn, (*lead, h)), p, axis=-1)
    else:  # rows of (..., H, n_{l+1})
        Wn = np.take_along_axis(np.broadcast_to(Wn, (*lead, *Wn.shape[-2:])), p[..., None], -2)
    if kind == "reflect" and spec.has_bias(l + 1) and np.any(sign < 0):
        refl = np.broadcast_to(sign < 0, (*lead, h)).astype(float)
        shift = (
            np.einsum("...j,...j->...", refl, Wn)
            if to_out
            else np.einsum("...j,...jk->...k", refl, Wn)
        )
        out[f"b{l + 1}"] = np.asarray(params[f"b{l + 1}"]) + shift
    Wn = Wn / (f if to_out else f[..., None])
    if matrix is not None:
        A = np.broadcast_to(matrix, (*lead, h, h))
        out[f"W{l}"] = out[f"W{l}"] @ A
        if spec.has_bias(l):
            out[f"b{l}"] = (out[f"b{l}"][..., None, :] @ A)[..., 0, :]
        Wn = np.linalg.solve(A, Wn[..., None])[..., 0] if to_out else np.linalg.solve(A, Wn)
    out[f"W{l + 1}"] = Wn
    return out


def apply(
    spec: Spec, params: Mapping[str, Any], element: GroupElement, *, strict: bool = True
) -> dict[str, np.ndarray]:
    """Act with ``element`` on the weights ``params`` (vectorised over sample dims).

    Parameters
    ----------
    spec : Spec
        The architecture.
    params : mapping
        ``W{l}``/``b{l}`` arrays with any leading sample dims, e.g. ``(chain, draw, ...)``;
        other entries (``sigma``, ...) pass through unchanged.
    element : GroupElement
        Its leading dims broadcast against the sample dims.
    strict : bool
        Check that ``element`` is in the likelihood group (``ValueError`` otherwise). With
        ``False`` any signed, scaled permutation is applied, symmetry or not.

    Returns
    -------
    dict
        A new dict; weights have the broadcast leading dims of params and element.
    """
    if strict:
        check_element(spec, element)
    out = dict(params)
    for i in range(spec.depth):
        m = element.matrix[i]
        out.update(
            apply_layer(spec, out, i + 1, element.perm[i], element.sign[i], element.scale[i], m)
        )
    lead = np.broadcast_shapes(sample_shape(spec, params), element.shape)
    dims = param_dims(spec)
    for name in weight_names(spec):
        a = np.asarray(out[name])
        core = a.shape[a.ndim - len(dims[name]) :]
        if a.shape != (*lead, *core):
            out[name] = np.broadcast_to(a, (*lead, *core)).copy()
    return out


def compose(second: GroupElement, first: GroupElement) -> GroupElement:
    """The element ``second ∘ first``: ``apply(compose(g, h), θ) == apply(g, apply(h, θ))``."""
    perm, sign, scale, matrix = [], [], [], []
    for p1, s1, c1, a1, p2, s2, c2, a2 in zip(
        first.perm, first.sign, first.scale, first.matrix,
        second.perm, second.sign, second.scale, second.matrix, strict=True,
    ):  # fmt: skip
        lead = np.broadcast_shapes(p1.shape, p2.shape, s1.shape, s2.shape, c1.shape, c2.shape)
        p2 = np.broadcast_to(p2, lead)

        def take(a, p2=p2, lead=lead):
            return np.take_along_axis(np.broadcast_to(a, lead), p2, axis=-1)

        perm.append(take(p1))
        sign.append(take(s1) * s2)
        scale.append(take(c1) * c2)
        a = None
        if a1 is not None:  # D2^-1 (P2^T A1 P2) D2 A2
            a1 = np.broadcast_to(
                a1, (*np.broadcast_shapes(lead[:-1], a1.shape[:-2]), *a1.shape[-2:])
            )
            p2b = np.broadcast_to(p2, (*a1.shape[:-2], lead[-1]))
            a = np.take_along_axis(
                np.take_along_axis(a1, p2b[..., :, None], -2), p2b[..., None, :], -1
            )
            d2 = s2 * c2
            a = a / d2[..., :, None] * d2[..., None, :]
        if a2 is not None:
            a = a2 if a is None else a @ a2
        matrix.append(a)
    return GroupElement(tuple(perm), tuple(sign), tuple(scale), tuple(matrix))


def inverse(element: GroupElement) -> GroupElement:
    """The inverse element: ``apply(inverse(g), apply(g, θ)) == θ``."""
    perm, sign, scale, matrix = [], [], [], []
    for p, s, c, a in zip(element.perm, element.sign, element.scale, element.matrix, strict=True):
        lead = np.broadcast_shapes(p.shape, s.shape, c.shape)
        q = np.argsort(np.broadcast_to(p, lead), axis=-1)
        perm.append(q)
        sign.append(np.take_along_axis(np.broadcast_to(s, lead), q, axis=-1))
        scale.append(1.0 / np.take_along_axis(np.broadcast_to(c, lead), q, axis=-1))
        m = None
        if a is not None:  # A'[i, k] = d[q_i] Ainv[q_i, q_k] / d[q_k]
            ainv = np.linalg.inv(a)
            shape = np.broadcast_shapes(ainv.shape[:-2], lead[:-1])
            ainv = np.broadcast_to(ainv, (*shape, *ainv.shape[-2:]))
            qb = np.broadcast_to(q, (*shape, lead[-1]))
            m = np.take_along_axis(
                np.take_along_axis(ainv, qb[..., :, None], -2), qb[..., None, :], -1
            )
            dq = np.broadcast_to(np.take_along_axis(np.broadcast_to(s * c, lead), q, -1), qb.shape)
            m = m * dq[..., :, None] / dq[..., None, :]
        matrix.append(m)
    return GroupElement(tuple(perm), tuple(sign), tuple(scale), tuple(matrix))
