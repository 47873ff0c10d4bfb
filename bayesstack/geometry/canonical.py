"""Canonical representatives of posterior draws under the discrete posterior symmetry group.

Every draw is mapped to one point of its orbit (hidden-unit permutations, sign flips of odd
layers, and the rescaling of relu units to unit-norm incoming weights), so that draws from
symmetric modes land on top of each other and ordinary diagnostics (R-hat, ESS) apply.

Two methods:

* ``"sort"``: per draw, layer by layer from the input: fix each unit's sign, normalise relu
  units, sort the units by a key. Exact (commutes with the group) but brittle where keys cross.
* ``"align"``: relabelling as for mixture label switching (Stephens 2000): starting from the
  sorted draws and one of them as the reference, alternately match every draw's units to the
  reference units (an assignment problem per draw and layer, with the sign chosen per pair,
  solved by ``scipy.optimize.linear_sum_assignment``) and refit the reference units' means
  and variances to the aligned draws, until no label changes.

Continuous posterior symmetries (``O(H)`` of identity layers under isotropic Normal priors)
are not removed: only their signed permutations are.

A unit is the vector of its incoming weights, its bias and its outgoing weights. Layers are
matched from the input up; in the first pass a hidden layer is matched on its incoming
weights alone, since the next layer's units (which index its outgoing weights) are not
aligned yet.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import xarray as xr
from scipy.optimize import linear_sum_assignment

from bayesstack.errors import BayesstackError
from bayesstack.geometry.symmetry import (
    GroupElement,
    apply_layer,
    identity_element,
    sample_shape,
)
from bayesstack.inference.io import sampler_log_density, spec_of, weight_draws
from bayesstack.model.network import param_dims, vector_output, weight_names
from bayesstack.registry import ACTIVATIONS
from bayesstack.spec import Spec

Method = Literal["sort", "align"]
METHODS = ("sort", "align")
_SIGNED = ("odd", "linear")  # activations whose units have posterior sign flips


@dataclass(frozen=True)
class CanonicalResult:
    """Canonicalised draws and the group elements that produced them.

    Attributes
    ----------
    params : dict of str to array
        Canonical weights (same shapes as the input); other input entries unchanged.
    element : GroupElement
        Per-draw element (leading dims = sample dims) with
        ``apply(spec, input, element) == params``.
    n_iter : int
        Relabelling iterations (0 for ``"sort"``).
    converged : bool
        Whether relabelling stopped before ``max_iter``: no label changed, or the last
        iteration lowered the cost by less than ``tol`` per coordinate (always True for
        ``"sort"``).
    method : str
        ``"sort"`` or ``"align"``.
    last_relabelled : int
        Draws relabelled by the last iteration (0: it changed no label).
    """

    params: dict[str, np.ndarray]
    element: GroupElement
    n_iter: int
    converged: bool
    method: str
    last_relabelled: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Summary: method, iterations, and per hidden layer the share of relabelled draws."""
        relabelled, flipped = [], []
        for p, s in zip(self.element.perm, self.element.sign, strict=True):
            moved = np.any(p != np.arange(p.shape[-1]), axis=-1) | np.any(s < 0, axis=-1)
            relabelled.append(float(np.mean(moved)))
            flipped.append(float(np.mean(s < 0)))
        return {
            "method": self.method,
            "n_iter": self.n_iter,
            "converged": self.converged,
            "last_relabelled": self.last_relabelled,
            "sample_shape": list(self.element.shape),
            "fraction_relabelled": relabelled,
            "fraction_sign_flipped": flipped,
        }


# --- helpers on flat (S, ...) arrays --------------------------------------------------------
def _kind(spec: Spec, l: int) -> str:
    return ACTIVATIONS[spec.layers[l - 1].activation].symmetry


def _incoming(spec: Spec, p: Mapping[str, np.ndarray], l: int) -> np.ndarray:
    """Incoming weights and bias per unit: ``(S, H, n_{l-1} [+1])``."""
    w = np.swapaxes(p[f"W{l}"], -1, -2)
    return np.concatenate([w, p[f"b{l}"][..., None]], axis=-1) if spec.has_bias(l) else w


def _unit_vectors(
    spec: Spec, p: Mapping[str, np.ndarray], l: int, outgoing: bool = True
) -> np.ndarray:
    """Each unit's incoming weights, bias and (optionally) outgoing weights: ``(S, H, F)``."""
    if not outgoing:
        return _incoming(spec, p, l)
    out = p[f"W{l + 1}"]
    out = out[..., None] if l + 1 == spec.n_layers and vector_output(spec) else out
    return np.concatenate([_incoming(spec, p, l), out], axis=-1)


class _Running:
    """The element applied so far, per hidden layer, updated in place on subsets of draws."""

    def __init__(self, spec: Spec, n: int):
        e = identity_element(spec, (n,))
        self.perm, self.sign, self.scale = list(e.perm), list(e.sign), list(e.scale)

    def then(self, l: int, perm, sign, scale=None, idx=None) -> None:
        """Compose with layer ``l``'s step (applied after): ``old[perm] * step``."""
        i, idx = l - 1, slice(None) if idx is None else idx
        self.perm[i][idx] = _take(self.perm[i][idx], perm)
        self.sign[i][idx] = _take(self.sign[i][idx], perm) * sign
        self.scale[i][idx] = _take(self.scale[i][idx], perm) * (1.0 if scale is None else scale)

    def element(self, lead: tuple[int, ...]) -> GroupElement:
        def shaped(arrays):
            return tuple(a.reshape(*lead, -1) for a in arrays)

        m = (None,) * len(self.perm)
        return GroupElement(shaped(self.perm), shaped(self.sign), shaped(self.scale), m)


def _take(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return np.take_along_axis(a, idx, axis=-1)


# --- sort -----------------------------------------------------------------------------------
def _unit_norm(inc: np.ndarray) -> np.ndarray:
    """Scales that give relu units unit-norm incoming weights (1 for all-zero ones)."""
    norm = np.linalg.norm(inc, axis=-1)
    return 1.0 / np.where(norm > 0, norm, 1.0)


def _sort_layer(spec: Spec, p: Mapping[str, np.ndarray], l: int, tol: float, rescale: bool):
    """Permutation, signs and scales that put layer ``l`` of every draw in sorted form."""
    kind, to_out = _kind(spec, l), l + 1 == spec.n_layers and vector_output(spec)
    inc = _incoming(spec, p, l)
    scale = _unit_norm(inc) if kind == "scale" and rescale else np.ones(inc.shape[:-1])
    sign = np.ones_like(scale)
    if kind in _SIGNED:
        big = np.argmax(np.abs(inc), axis=-1)[..., None]
        s = np.sign(np.take_along_axis(inc, big, axis=-1)[..., 0])
        if to_out:  # positive outgoing weight, unless it is ~0
            w = p[f"W{l + 1}"]
            amb = np.abs(w) <= tol * np.max(np.abs(w), axis=-1, keepdims=True)
            s = np.where(amb, s, np.sign(w))
        sign = np.where(s == 0, 1.0, s)
    f = sign * scale
    # outgoing weight next to the output; first incoming weight otherwise (it is invariant
    # under the later layers' symmetries)
    key = p[f"W{l + 1}"] / f if to_out else p[f"W{l}"][..., 0, :] * f
    # ties (duplicate or dead units) are broken lexicographically by the whole unit vector
    # as it will be: incoming weights and bias times f, then outgoing weights over f
    out = p[f"W{l + 1}"]
    out = (out / f)[..., None] if to_out else out / f[..., None]
    unit = np.concatenate([inc * f[..., None], out], axis=-1)  # (S, H, F)
    keys = [unit[..., k] for k in range(unit.shape[-1] - 1, -1, -1)] + [key]
    order = np.lexsort(keys, axis=-1)
    return order, _take(sign, order), _take(scale, order)


def _sort(spec: Spec, p: dict[str, np.ndarray], tol: float, rescale: bool):
    run = _Running(spec, p["W1"].shape[0])
    for l in range(1, spec.depth + 1):
        perm, sign, scale = _sort_layer(spec, p, l, tol, rescale)
        p = {**p, **apply_layer(spec, p, l, perm, sign, scale)}
        run.then(l, perm, sign, scale)
    return p, run


# --- align ----------------------------------------------------------------------------------
def _assign(U: np.ndarray, M: np.ndarray, V: np.ndarray, signed: bool, tol: float):
    """Match each draw's units ``U (S, H, F)`` to the reference units ``N(M, diag V)``.

    The cost of unit ``i`` as reference unit ``k`` with sign ``s`` is Stephens' (2000)
    ``sum_f (u_if - s m_kf)^2 / v_kf + log v_kf``: a vague reference unit (one that carries
    no information) is cheap to fill and a sharp one expensive to spoil. A flip or a
    relabelling must lower the cost by more than ``tol`` per unit, so near-ties (units with
    ~0 outgoing weight, a reference unit near 0) cannot flap.

    Returns ``perm``, ``sign`` (S, H), a mask of the draws that changed and each draw's cost.
    """
    n, h, f = U.shape
    ar, rows = np.arange(h), np.arange(n)[:, None]
    iv = 1.0 / V
    mm = np.einsum("kf,kf->k", M * M, iv)  # sum m^2 / v
    # Q = sum u^2 / v and T = sum u m / v for every pair: two GEMMs, not n small ones
    Q = (np.square(U).reshape(n * h, f) @ iv.T).reshape(n, h, h)
    T = (U.reshape(n * h, f) @ (M * iv).T).reshape(n, h, h)
    C = Q
    C += mm + np.log(V).sum(-1)
    # unit scales |u| |m| in the metric (with the mean inverse variance for u): the margins
    scale_u = np.sqrt(np.square(U) @ iv.mean(0))
    if signed:  # the better sign; a flip must win by 2 thr: C = .. + 2 thr - 2 |T + thr|
        thr = np.multiply.outer(tol * scale_u, np.sqrt(mm))
        T += thr
        thr *= 2.0
        C += thr
        np.abs(T, out=T)
    T *= 2.0
    C -= T
    current = np.einsum("sii->s", C)
    margin = tol * h
    rowmin = C.argmin(-1)
    lower = C[rows, ar, rowmin].sum(-1)
    perm = np.broadcast_to(ar, (n, h)).copy()
    sub = np.flatnonzero(current - lower > margin)
    cost = current.copy()
    if sub.size:
        rm = rowmin[sub]
        is_perm = np.all(np.sort(rm, axis=-1) == ar, axis=-1)
        p_sub = np.argsort(rm, axis=-1)  # the row minima already form the optimal assignment
        for k in np.flatnonzero(~is_perm):
            r, c = linear_sum_assignment(C[sub[k]])
            p_sub[k, c] = r
        new = C[sub[:, None], p_sub, ar].sum(-1)
        keep = new < current[sub] - margin
        perm[sub[keep]] = p_sub[keep]
        cost[sub[keep]] = new[keep]
    # the chosen pairs' signs: flip where sum u m / v < -thr
    u = U[rows, perm]
    dot = np.einsum("sjf,jf->sj", u, M * iv)
    if signed:
        flipped = dot < -tol * np.take_along_axis(scale_u, perm, -1) * np.sqrt(mm)
    else:
        flipped = np.zeros(dot.shape, dtype=bool)
    sign = np.where(flipped, -1.0, 1.0)
    changed = np.any(perm != ar, axis=-1) | np.any(flipped, axis=-1)
    return perm, sign, changed, cost


def _moments(p: Mapping[str, np.ndarray]) -> tuple[dict, dict]:
    """Mean and variance over draws, with leading dim 1."""
    mean = {k: v.mean(axis=0, keepdims=True) for k, v in p.items()}
    var = {k: np.square(v - mean[k]).mean(axis=0, keepdims=True) for k, v in p.items()}
    return mean, var


def _layer_names(l: int) -> tuple[str, ...]:
    return f"W{l}", f"b{l}", f"W{l + 1}", f"b{l + 1}"


def _align(spec: Spec, p: dict[str, np.ndarray], run: _Running, ref, max_iter: int, tol: float):
    """Stephens' relabelling: match the draws to the reference, refit it, repeat.

    The first reference is a single point (unit variances); then it is the mean and variance
    of the aligned draws. Stops when no label changes, or when an iteration lowers the cost
    by less than ``tol`` per coordinate: what still moves then is the reshuffling of units
    that carry no information.
    """
    p = {k: np.array(v) for k, v in p.items()}  # owned, updated in place on moved draws
    n, depth = p["W1"].shape[0], spec.depth
    var = {k: np.ones_like(v) for k, v in ref.items()}
    n_coord = n * sum(_unit_vectors(spec, ref, l).size for l in range(1, depth + 1))
    obj = np.inf
    for it in range(1, max_iter + 1):
        changed, total = np.zeros(n, dtype=bool), 0.0
        for l in range(1, depth + 1):
            # first pass: the next hidden layer is not aligned yet, so its rows say nothing
            out = it > 1 or l == depth
            U = _unit_vectors(spec, p, l, out)
            M, V = _unit_vectors(spec, ref, l, out)[0], _unit_vectors(spec, var, l, out)[0]
            V = np.maximum(V, max(1e-6 * float(V.mean()), 1e-12))
            perm, sign, moved, cost = _assign(U, M, V, _kind(spec, l) in _SIGNED, tol)
            total += float(cost.sum())
            if moved.any():
                idx = np.flatnonzero(moved)
                perm, sign = perm[idx], sign[idx]
                sub = {k: p[k][idx] for k in _layer_names(l) if k in p}
                for k, v in apply_layer(spec, sub, l, perm, sign).items():
                    p[k][idx] = v
                run.then(l, perm, sign, idx=idx)
                changed[idx] = True
        if not changed.any():
            return p, it, True, 0
        if it > 2 and obj - total <= tol * n_coord:  # the rest is reshuffling of near-ties
            return p, it, True, int(changed.sum())
        obj = total
        ref, var = _moments(p)
    return p, max_iter, False, int(changed.sum())


def _one_blas_thread():
    """Limit BLAS to one thread where ``threadpoolctl`` is installed (a no-op otherwise)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


# --- public API -----------------------------------------------------------------------------
def canonicalize(
    spec: Spec,
    params: Mapping[str, Any],
    *,
    method: Method = "align",
    reference: Mapping[str, Any] | None = None,
    logp: np.ndarray | None = None,
    rescale: bool = True,
    max_iter: int = 50,
    tol: float = 1e-3,
) -> CanonicalResult:
    """Map every draw to a canonical representative of its orbit.

    Parameters
    ----------
    spec : Spec
        The architecture.
    params : mapping
        ``W{l}``/``b{l}`` arrays with leading sample dims, e.g. ``(chain, draw, ...)``; other
        entries pass through unchanged.
    method : {"sort", "align"}
        ``"sort"``: per-draw sorted form; ``"align"``: sorted form, then iterative relabelling
        against the means and variances of the aligned draws (Stephens 2000).
    reference : mapping, optional
        ``"align"`` only: weights without sample dims to align to in the first iteration.
    logp : array, optional
        ``"align"`` only, without ``reference``: log density per draw (sample dims); the
        sorted draw with the highest one is the first reference. Default: the sorted draw
        nearest to the mean of the sorted draws.
    rescale : bool
        Normalise relu units to unit-norm incoming weights (a likelihood-only symmetry: the
        likelihood is kept, the prior density is not). Off: the log density is kept exactly.
    max_iter : int
        Most relabelling iterations.
    tol : float
        Tolerance. ``"sort"``: an outgoing weight with ``|w| <= tol * max|w|`` of its layer
        has an ambiguous sign, taken from the incoming weights instead. ``"align"``: a sign
        flip or relabelling is accepted only if it lowers a draw's cost (a Gaussian negative
        log density, see :func:`_assign`) by more than ``tol`` per unit, so that near-ties
        cannot flap; relabelling stops when no label changes, or when an iteration lowers
        the total cost by less than ``tol`` per coordinate: what still moves then is the
        reshuffling of units that carry no information (outgoing weights ~0, prior-like
        incoming weights), and ``last_relabelled`` says how many draws it touched.

    Returns
    -------
    CanonicalResult
    """
    if method not in METHODS:
        raise BayesstackError(f"method: unknown method {method!r}; use one of {', '.join(METHODS)}")
    names = weight_names(spec)
    lead = sample_shape(spec, params)
    n = math.prod(lead)
    flat = {
        k: np.asarray(params[k], dtype=float).reshape(n, *np.shape(params[k])[len(lead) :])
        for k in names
    }
    p, run = _sort(spec, flat, tol, rescale)
    n_iter, converged, last = 0, True, 0
    if method == "align" and spec.depth > 0:
        if reference is not None:  # in its own labelling; relu units normalised as the draws
            ref = {k: np.asarray(reference[k], dtype=float)[None] for k in names}
            for l in range(1, spec.depth + 1):
                if rescale and _kind(spec, l) == "scale":
                    scale = _unit_norm(_incoming(spec, ref, l))
                    ref.update(apply_layer(spec, ref, l, np.arange(scale.shape[-1]), None, scale))
        elif logp is not None:
            best = int(np.nanargmax(np.reshape(logp, -1)))
            ref = {k: v[best : best + 1] for k, v in p.items()}
        else:  # a real draw, not a blur of misaligned ones: the one nearest the sorted mean
            m = {k: v.mean(axis=0, keepdims=True) for k, v in p.items()}
            d2 = sum(np.square(v - m[k]).reshape(n, -1).sum(-1) for k, v in p.items())
            best = int(np.argmin(d2))
            ref = {k: v[best : best + 1] for k, v in p.items()}
        with _one_blas_thread():  # skinny GEMMs: threads only contend with each other
            p, n_iter, converged, last = _align(spec, p, run, ref, max_iter, tol)
    # p equals apply(spec, params, element): permutations and flips are exact and each
    # weight was scaled at most once
    result = dict(params)
    result.update({k: np.array(p[k]).reshape(*lead, *p[k].shape[1:]) for k in names})
    element = run.element(lead)
    return CanonicalResult(result, element, n_iter, converged, method, last)


def add_canonical(
    run: xr.DataTree,
    *,
    method: Method = "align",
    rescale: bool = True,
    max_iter: int = 50,
    tol: float = 1e-3,
) -> xr.DataTree:
    """A copy of ``run`` with a ``canonical_posterior`` group.

    Parameters
    ----------
    run : xarray.DataTree
        A fitted run: a ``posterior`` group and the spec in ``attrs["bayesstack_spec"]``.
        The sampler's log density (``sample_stats`` ``logp`` or ``lp``) picks the pivot draw.
    method, rescale, max_iter, tol
        As in :func:`canonicalize`.

    Returns
    -------
    xarray.DataTree
        ``canonical_posterior`` holds the canonical ``W*``/``b*`` (same dims and coords as
        ``posterior``) and the untouched other variables (``sigma``, ``tau_*``, ...), so
        ``arviz.rhat(out, group="canonical_posterior")`` works as usual. Its attrs add
        ``canonical_method``, ``canonical_n_iter``, ``canonical_converged`` (0/1) and
        ``canonical_rescale`` (0/1).
    """
    spec = spec_of(run)
    if "posterior" not in run.children:
        raise BayesstackError("run: no 'posterior' group")
    post = run["posterior"].to_dataset()
    dims = param_dims(spec)
    params = weight_draws(post, spec)
    logp = sampler_log_density(run)
    res = canonicalize(
        spec, params, method=method, logp=logp, rescale=rescale, max_iter=max_iter, tol=tol
    )
    ds = post.copy()
    for k in weight_names(spec):
        da = post[k].transpose("chain", "draw", *dims[k])
        ds[k] = da.copy(data=res.params[k]).transpose(*post[k].dims)
    ds.attrs = {
        **post.attrs,
        "canonical_method": method,
        "canonical_n_iter": res.n_iter,
        "canonical_converged": int(res.converged),
        "canonical_rescale": int(rescale),
    }
    out = run.copy()
    out["canonical_posterior"] = xr.DataTree(ds)
    return out
