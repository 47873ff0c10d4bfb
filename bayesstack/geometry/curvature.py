"""Bates & Watts (1980) relative curvature, for whether η(θ) is linear in its parameters.

A model is *linear* (McCullagh & Nelder) when η is affine in θ. Its expectation surface
{η(θ)} ⊂ R^N is then flat (zero *intrinsic* curvature) and straight lines in θ map to
uniformly traversed straight lines in R^N (zero *parameter-effects* curvature).

The generic core (:func:`rms_curvature`) is pure numpy: it takes the Jacobian ``J`` (N, P) and
the second-derivative array ``A`` (N, P, P) at θ and returns the root-mean-square curvatures
over unit directions, computed as R's ``MASS::rms.curv`` does. Above a parameter-count
threshold a Monte Carlo estimator over random directions replaces the closed form.

:func:`stack_curvature` gets ``J`` and ``A`` of a stacked GLM's output linear predictor from
JAX's exact derivatives of :func:`bayesstack.model.network.forward` (:mod:`.derivatives`), and
:func:`input_curvature` asks the same question about the inputs x instead of θ.

References
----------
Bates, D. M. and Watts, D. G. (1980). Relative curvature measures of nonlinearity.
JRSS B 42, 1-25. Seber, G. A. F. and Wild, C. J. (1989). Nonlinear Regression, §4.2.
Venables, W. N. and Ripley, B. D. (2002). MASS, 4th ed., §8.4 (``rms.curv``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import stats

from bayesstack.errors import BayesstackError

__all__ = [
    "EXACT_MAX_ELEMENTS",
    "EXACT_MAX_PARAMS",
    "Curvature",
    "CurvatureSummary",
    "InputCurvature",
    "curvature_summary",
    "input_curvature",
    "mean_curvature",
    "rms_curvature",
    "stack_curvature",
    "stack_derivatives",
]

#: ``method="auto"`` uses the closed form up to this many parameters, random directions above.
EXACT_MAX_PARAMS = 300
#: ... and only while the array ``A`` has at most this many elements (N·P², ~200 MB of float64).
EXACT_MAX_ELEMENTS = 25_000_000
#: Singular values of ``J`` below ``RANK_RTOL · max`` count as zero (``qr``'s default in R is 1e-7).
RANK_RTOL = 1e-7

Method = Literal["auto", "exact", "random"]
SecondDirectional = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Curvature:
    """RMS relative curvatures of η at one θ.

    Attributes
    ----------
    parameter_effects, intrinsic : float
        RMS parameter-effects and intrinsic curvature γ^θ, γ^ι (relative: scaled by ``scale``).
        Compare ``γ·sqrt(F(p, n-p; 0.95))`` with 1/2 (see :meth:`times_sqrt_f`).
    scale : float
        The scale ρ the curvatures are relative to (Bates & Watts: ρ = s·√p).
    n, p : int
        Number of observations (outputs of η) and of parameters.
    method : {"exact", "random"}
        Closed form over the unit sphere, or Monte Carlo over random unit directions.
    rank : int or None
        Rank of ``J``: the dimension of the expectation surface (``p`` when identifiable).
    parameter_effects_se, intrinsic_se : float
        Monte Carlo standard errors (0 for ``"exact"``).
    n_directions : int
        Random directions used (0 for ``"exact"``).
    jacobian_condition : float
        cond(J): largest over smallest of all P singular values of ``J`` (inf when ``J`` is
        rank-deficient). A large value means near-singular directions of J, which dominate the
        parameter-effects curvature (its tangent coordinates divide by the singular values).
    scale_of : str
        What is curved: ``"eta"`` (the linear predictor) or ``"mu"`` (the mean g⁻¹(η)).
    """

    parameter_effects: float
    intrinsic: float
    scale: float
    n: int
    p: int
    method: str
    rank: int | None = None
    parameter_effects_se: float = 0.0
    intrinsic_se: float = 0.0
    n_directions: int = 0
    jacobian_condition: float = float("nan")
    scale_of: str = "eta"

    def times_sqrt_f(self, level: float = 0.95) -> tuple[float, float]:
        """``(parameter_effects, intrinsic) · sqrt(F_level(r, n - r))``, as ``rms.curv`` prints.

        ``r`` is the rank of ``J``. Values above ~0.5 flag a nonlinearity that matters at
        this confidence ``level`` (Bates & Watts 1980, §2.5). NaN when ``n <= r``.
        """
        r = self.p if self.rank is None else self.rank
        if self.n <= r:
            return float("nan"), float("nan")
        f = float(np.sqrt(stats.f.ppf(level, r, self.n - r)))
        return self.parameter_effects * f, self.intrinsic * f

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python form (JSON-ready)."""
        return asdict(self)


@dataclass(frozen=True)
class InputCurvature:
    """RMS relative curvature of η in the (standardised) inputs; see :func:`input_curvature`.

    Attributes
    ----------
    rms : float
        Pooled RMS second directional derivative over RMS first directional derivative.
    n, d : int
        Number of observations and of raw input dimensions.
    input_scale : tuple of float
        The per-input scales the inputs were standardised by.
    per_observation : ndarray (n,)
        The same ratio for each observation alone (``inf`` where the gradient vanishes but
        the Hessian does not, 0 where both vanish).
    """

    rms: float
    n: int
    d: int
    input_scale: tuple[float, ...]
    per_observation: np.ndarray = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python form (JSON-ready); per-observation values as median and max."""
        per = self.per_observation
        return {
            "rms": self.rms,
            "n": self.n,
            "d": self.d,
            "input_scale": list(self.input_scale),
            "per_observation_median": float(np.median(per)) if per.size else float("nan"),
            "per_observation_max": float(np.max(per)) if per.size else float("nan"),
        }


# --- generic core -----------------------------------------------------------------------------


def _condition(J: np.ndarray) -> float:
    """cond(J) over all its columns: ``s_max / s_min`` (inf when J is rank-deficient)."""
    s = np.linalg.svd(J, compute_uv=False)
    if s.size < J.shape[1] or s[-1] <= 0.0:
        return float("inf")
    return float(s[0] / s[-1])


def _tangent_basis(J: np.ndarray, rank_rtol: float) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal basis ``U`` (N, r) of the tangent plane and ``B`` (P, r) with ``J B = U``.

    ``B`` maps orthonormal tangent-plane coordinates u to θ-directions h = B u, so
    ``||J h|| = ||u||``. It plays the part of ``R^{-1}`` in ``rms.curv``; an SVD instead of a
    QR also copes with a rank-deficient ``J`` (non-identifiable stacks): directions in its
    null space do not move η to first order and are left out.
    """
    U, S, Vt = np.linalg.svd(J, full_matrices=False)
    if S.size == 0 or S[0] == 0.0:
        raise BayesstackError("curvature: the Jacobian is zero, η does not depend on θ")
    r = int(np.sum(S > rank_rtol * S[0]))
    return U[:, :r], Vt[:r].T / S[:r]


def _rho(scale: float | None, sigma: float, rank: int) -> float:
    rho = float(sigma) * float(np.sqrt(rank)) if scale is None else float(scale)
    if not np.isfinite(rho) or rho <= 0:
        raise BayesstackError(f"curvature: scale must be a positive number, got {rho!r}")
    return rho


def _exact(A: np.ndarray, U: np.ndarray, B: np.ndarray, rho: float) -> tuple[float, float]:
    """Closed-form RMS curvatures (``MASS::rms.curv``).

    With ``T_n = ρ Bᵀ A_n B`` and C_j = Σ_n e_jn T_n for an orthonormal basis {e_j} of R^N,
    E_d (dᵀ C_j d)² = (2 tr C_j² + (tr C_j)²) / (r (r + 2)) for d uniform on the unit sphere.
    Tangent e_j give γ^θ, normal ones γ^ι; the normal sum only needs the projection P⊥ T.
    """
    r = B.shape[1]
    T = rho * np.einsum("pa,npq,qb->nab", B, A, B, optimize=True)
    T = 0.5 * (T + T.transpose(0, 2, 1))
    Ct = np.einsum("nk,nab->kab", U, T, optimize=True)  # tangent components, (r, r, r)
    Tn = T - np.einsum("nk,kab->nab", U, Ct, optimize=True)  # normal part, (N, r, r)
    pe = 2.0 * np.sum(Ct**2) + np.sum(np.trace(Ct, axis1=1, axis2=2) ** 2)
    ic = 2.0 * np.sum(Tn**2) + np.sum(np.trace(Tn, axis1=1, axis2=2) ** 2)
    denom = r * (r + 2)
    return float(np.sqrt(pe / denom)), float(np.sqrt(ic / denom))


def _random(
    second: SecondDirectional,
    U: np.ndarray,
    B: np.ndarray,
    rho: float,
    n_directions: int,
    rng: np.random.Generator,
) -> tuple[float, float, float, float]:
    """Monte Carlo RMS curvatures over ``n_directions`` uniform unit directions u.

    For u uniform on the unit sphere of the tangent coordinates, h = B u has ``||J h|| = 1``,
    a = (hᵀ A_n h)_n, and the squared curvatures are k_θ² = ρ²||Uᵀ a||², k_ι² = ρ²||a - U Uᵀ a||².
    Each γ is sqrt(mean k²); its standard error is the delta-method sd(k²) / (2 γ sqrt(M)).
    """
    if n_directions < 2:
        raise BayesstackError(f"curvature: n_directions must be at least 2, got {n_directions}")
    Z = rng.standard_normal((n_directions, B.shape[1]))
    Z /= np.linalg.norm(Z, axis=1, keepdims=True)
    a = np.asarray(second(Z @ B.T), dtype=float)  # (M, N)
    t = a @ U
    k_pe = rho**2 * np.sum(t**2, axis=1)
    k_ic = rho**2 * np.sum((a - t @ U.T) ** 2, axis=1)
    out = []
    for k2 in (k_pe, k_ic):
        g = float(np.sqrt(np.mean(k2)))
        se = float(np.std(k2, ddof=1) / (2.0 * g * np.sqrt(n_directions))) if g > 0 else 0.0
        out += [g, se]
    return out[0], out[2], out[1], out[3]


def rms_curvature(
    J: np.ndarray,
    A: np.ndarray | SecondDirectional,
    *,
    scale: float | None = None,
    sigma: float = 1.0,
    method: Method = "auto",
    n_directions: int = 1000,
    rng: np.random.Generator | int | None = None,
    rank_rtol: float = RANK_RTOL,
) -> Curvature:
    """RMS parameter-effects and intrinsic curvature of η at θ (Bates & Watts 1980).

    Parameters
    ----------
    J : array (N, P)
        Jacobian ∂η_n/∂θ_p at θ.
    A : array (N, P, P) or callable
        Second derivatives, ``A[n]`` the Hessian of η_n. Or a callable mapping a batch of
        θ-directions ``H`` (k, P) to the directional second derivatives ``h_kᵀ A_n h_k``, (k, N),
        which only the ``"random"`` method can use.
    scale : float, optional
        The scale ρ the curvature is relative to. Default ``sigma · sqrt(r)`` with r the rank of
        ``J`` (= P when θ is identifiable): Bates & Watts' ρ = s·√p.
    sigma : float
        The residual standard error s used for the default ``scale``.
    method : {"auto", "exact", "random"}
        ``"exact"``: closed form of ``MASS::rms.curv``. ``"random"``: Monte Carlo over unit
        directions. ``"auto"``: exact for an array with P ≤ ``EXACT_MAX_PARAMS``, else random.
    n_directions : int
        Random directions for ``"random"``; the standard errors shrink as 1/sqrt(n_directions).
    rng : Generator or int, optional
        Seed or generator for ``"random"``.
    rank_rtol : float
        Relative tolerance on singular values of ``J`` for its rank.

    Returns
    -------
    Curvature
        ``parameter_effects`` and ``intrinsic``. Both are exactly 0 for affine η; with a
        rank-deficient ``J`` only directions that move η (the row space of ``J``) are averaged.

    Notes
    -----
    In orthonormal tangent coordinates u (θ = θ̂ + B u, ``J B`` orthonormal), the curvature in
    the unit direction u is ρ·||P A[Bu, Bu]||, with P the projection onto the tangent plane
    (parameter effects) or its orthogonal complement (intrinsic). The RMS over the unit sphere
    has the closed form E (uᵀCu)² = (2 tr C² + (tr C)²)/(r(r+2)); ``MASS::rms.curv`` reports
    these times sqrt(F(p, n-p; 0.95)), see :meth:`Curvature.times_sqrt_f`.
    """
    J = np.asarray(J, dtype=float)
    if J.ndim != 2:
        raise BayesstackError(f"curvature: J must be (N, P), got shape {J.shape}")
    N, P = J.shape
    array = not callable(A)
    if array:
        A = np.asarray(A, dtype=float)
        if A.shape != (N, P, P):
            raise BayesstackError(f"curvature: A must have shape {(N, P, P)}, got {A.shape}")
    if method == "auto":
        method = "exact" if array and P <= EXACT_MAX_PARAMS else "random"
    if method not in ("exact", "random"):
        raise BayesstackError(f"curvature: unknown method {method!r}; use auto, exact or random")
    if method == "exact" and not array:
        raise BayesstackError("curvature: method 'exact' needs the array A, not a callable")

    U, B = _tangent_basis(J, rank_rtol)
    r = B.shape[1]
    rho = _rho(scale, sigma, r)
    common = {"scale": rho, "n": N, "p": P, "rank": r, "jacobian_condition": _condition(J)}
    if method == "exact":
        pe, ic = _exact(A, U, B, rho)
        return Curvature(pe, ic, method="exact", **common)

    second = (lambda H: np.einsum("npq,kp,kq->kn", A, H, H, optimize=True)) if array else A
    pe, ic, pe_se, ic_se = _random(second, U, B, rho, n_directions, np.random.default_rng(rng))
    return Curvature(
        pe, ic, method="random", parameter_effects_se=pe_se, intrinsic_se=ic_se,
        n_directions=n_directions, **common,
    )  # fmt: skip


# --- stacked GLMs -----------------------------------------------------------------------------


def _point(spec, params: Mapping[str, Any], n_features: int) -> dict[str, np.ndarray]:
    """The weights as float arrays, checked against the spec's shapes (one point, no samples)."""
    from bayesstack.model.network import param_shapes

    out = {}
    for name, shape in param_shapes(spec, n_features).items():
        if name not in params:
            raise BayesstackError(f"curvature: params lacks weight {name!r}")
        value = np.asarray(params[name], dtype=float)
        if value.shape != shape:
            raise BayesstackError(
                f"curvature: {name} must have shape {shape} (one parameter point), "
                f"got {value.shape}"
            )
        out[name] = value
    return out


def _as_X(X: Any) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise BayesstackError(f"curvature: X must be (N, D), got shape {X.shape}")
    return X


def _prepare(spec, params: Mapping[str, Any], X: Any):
    """Checked inputs, flat θ and the compiled derivatives for one parameter point."""
    from bayesstack.geometry.derivatives import eta_derivatives
    from bayesstack.model.network import flatten

    X = _as_X(X)
    theta = flatten(_point(spec, params, X.shape[1]), spec)
    return X, theta, eta_derivatives(spec, X.shape[1])


def stack_derivatives(spec, params: Mapping[str, Any], X: Any) -> tuple[np.ndarray, np.ndarray]:
    """Exact Jacobian and second derivatives of a stacked GLM's output linear predictor.

    Parameters
    ----------
    spec : Spec
        The architecture.
    params : mapping
        Weights ``W{l}``, ``b{l}`` at one point (no sample dims).
    X : array (N, D)
        Inputs.

    Returns
    -------
    J : array (N, P)
        ∂η_n/∂θ_p, θ flattened in the order of ``network.weight_names(spec)``.
    A : array (N, P, P)
        ``A[n]`` the Hessian of η_n in θ (JAX, observation by observation).
    """
    X, theta, (jacobian, hessian, _) = _prepare(spec, params, X)
    J, A = np.asarray(jacobian(theta, X)), np.asarray(hessian(theta, X))
    return J, 0.5 * (A + A.transpose(0, 2, 1))


def _default_sigma(spec, params: Mapping[str, Any], sigma: float | None) -> float:
    if sigma is not None:
        return float(sigma)
    from bayesstack.registry import FAMILIES

    if "sigma" in FAMILIES[spec.family].nuisance and "sigma" in params:
        s = np.asarray(params["sigma"], dtype=float)
        if s.shape != ():
            raise BayesstackError(f"curvature: sigma must be a scalar, got shape {s.shape}")
        return float(s)
    return 1.0


def stack_curvature(
    spec,
    params: Mapping[str, Any],
    X: Any,
    *,
    sigma: float | None = None,
    scale: float | None = None,
    method: Method = "auto",
    n_directions: int = 1000,
    rng: np.random.Generator | int | None = None,
) -> Curvature:
    """RMS relative curvature of a stacked GLM's output linear predictor η in its weights θ.

    θ is the flat vector of all weights in the order of ``network.weight_names(spec)``; η is
    :func:`bayesstack.model.network.forward` at the observed ``X``, differentiated exactly by
    JAX (compiled once per spec and input width, cached across calls).

    Parameters
    ----------
    spec : Spec
        The architecture.
    params : mapping
        Weights ``W{l}``, ``b{l}`` at one point (no sample dims); other keys are ignored except
        ``sigma`` (see ``sigma``).
    X : array (N, D)
        Observed inputs.
    sigma : float, optional
        Noise scale s. Default: ``params["sigma"]`` for families with a ``sigma`` (gaussian,
        student_t) when present, else 1, i.e. curvature in units of the linear predictor.
        For non-Gaussian families the relative-curvature scale is a convention, not a
        residual standard error.
    scale : float, optional
        The scale ρ directly; default ``s · sqrt(r)`` with r = rank of J (= P when the weights
        are identifiable; hidden-unit symmetries such as the linear group of an identity
        layer make r < P, and ρ then uses the dimension r of the expectation surface).
    method : {"auto", "exact", "random"}
        ``"auto"`` is exact for P ≤ ``EXACT_MAX_PARAMS`` and N·P² ≤ ``EXACT_MAX_ELEMENTS``.
        ``"exact"`` builds A from P Hessian-vector products; ``"random"`` needs one per direction.
    n_directions : int
        Random directions for ``"random"``.
    rng : Generator or int, optional
        Seed for ``"random"``.

    Returns
    -------
    Curvature
        Exactly 0 for a GLM (depth 0, whatever its columns); a deep linear stack has zero
        intrinsic but positive parameter-effects curvature.
    """
    X = _as_X(X)
    N, D = X.shape
    P = sum(int(np.prod(v.shape, dtype=int)) for v in _point(spec, params, D).values())
    if method == "auto":
        small = P <= EXACT_MAX_PARAMS and N * P * P <= EXACT_MAX_ELEMENTS
        method = "exact" if small else "random"
    if method not in ("exact", "random"):
        raise BayesstackError(f"curvature: unknown method {method!r}; use auto, exact or random")

    s = _default_sigma(spec, params, sigma)
    kw = {"scale": scale, "sigma": s, "rng": rng, "n_directions": n_directions}
    if method == "exact":
        return rms_curvature(*stack_derivatives(spec, params, X), method="exact", **kw)

    from bayesstack.geometry.derivatives import in_blocks

    X, theta, (jacobian, _, along) = _prepare(spec, params, X)
    J = np.asarray(jacobian(theta, X))
    # directions per call: bounded memory (k · N · hidden units)
    block = int(np.clip(4e6 // (N * max(1, sum(l.units for l in spec.layers))), 1, 64))

    def second(H: np.ndarray) -> np.ndarray:
        return in_blocks(lambda h: along(theta, X, h), H, block)  # (k, N)

    return rms_curvature(J, second, method="random", **kw)


# --- the mean scale ---------------------------------------------------------------------------


def _inverse_link_derivatives(link: str, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and second derivatives of μ = g⁻¹(η) for the package's links."""
    from scipy import special

    if link == "identity":
        return np.ones_like(eta), np.zeros_like(eta)
    if link == "log":
        e = np.exp(eta)
        return e, e
    if link == "logit":
        m = special.expit(eta)
        d1 = m * (1 - m)
        return d1, d1 * (1 - 2 * m)
    if link == "probit":
        phi = np.exp(-0.5 * eta**2) / np.sqrt(2 * np.pi)
        return phi, -eta * phi
    if link == "cloglog":  # μ = 1 - exp(-e^η)
        d1 = np.exp(eta - np.exp(eta))
        return d1, d1 * (1 - np.exp(eta))
    raise BayesstackError(f"curvature: no mean-scale derivatives for link {link!r}")


def mean_curvature(
    spec,
    params: Mapping[str, Any],
    X: Any,
    *,
    sigma: float | None = None,
    scale: float | None = None,
) -> Curvature:
    """RMS relative curvature of the mean μ = g⁻¹(η) in θ (exact, closed form).

    By the chain rule, with ``h = g⁻¹``: ``J_μ = diag(h'(η)) J`` and
    ``A_μ[n] = h''(η_n) J_n J_nᵀ + h'(η_n) A[n]``. For the identity link this is the curvature
    of η. A GLM with a non-identity link is affine in θ on the η scale only: on the μ scale
    it is curved.

    Parameters
    ----------
    spec, params, X, sigma, scale
        As :func:`stack_curvature`.

    Returns
    -------
    Curvature
        With ``scale_of="mu"``.
    """
    from dataclasses import replace

    from bayesstack.model.network import forward, mean_eta

    X = _as_X(X)
    J, A = stack_derivatives(spec, params, X)
    eta = np.asarray(mean_eta(spec, forward(spec, _point(spec, params, X.shape[1]), X)))
    d1, d2 = _inverse_link_derivatives(spec.link, eta)
    Jm = d1[:, None] * J
    Am = d2[:, None, None] * J[:, :, None] * J[:, None, :] + d1[:, None, None] * A
    s = _default_sigma(spec, params, sigma)
    c = rms_curvature(Jm, Am, scale=scale, sigma=s, method="exact")
    return replace(c, scale_of="mu")


# --- curvature in the inputs ------------------------------------------------------------------


def input_curvature(
    spec,
    params: Mapping[str, Any],
    X: Any,
    *,
    feature_map: Callable[[Any], Any] | None = None,
    input_scale: float | np.ndarray | None = None,
) -> InputCurvature:
    """RMS relative curvature of η in the raw inputs x, for whether the model is linear in x.

    A GLM whose columns include x² is linear in θ and in its columns but not in x; pass the
    column construction as ``feature_map`` so that the derivatives are taken in raw x.

    Parameters
    ----------
    spec : Spec
        The architecture.
    params : mapping
        Weights at one point (no sample dims).
    X : array (N, D)
        Raw inputs.
    feature_map : callable, optional
        φ: pytensor (N, D) -> (N, D') building the network's columns from raw inputs, acting
        row by row (e.g. ``lambda x: pt.concatenate([x, x**2], axis=1)``). Identity by default.
    input_scale : float or array (D,), optional
        Per-input scale s_j; derivatives are taken in standardised inputs z_j = x_j / s_j.
        Default: the column standard deviations of ``X`` (1 for constant columns), so the
        measure does not depend on the inputs' units.

    Returns
    -------
    InputCurvature
        ``rms`` is exactly 0 when η is affine in x on the data (a GLM, a deep linear stack).

    Notes
    -----
    For observation n let g_n = ∇_z η_n and H_n = ∇²_z η_n. Over unit directions d (uniform on
    the sphere in z) the mean squared second directional derivative is
    q_n = E (dᵀ H_n d)² = (2 tr H_n² + (tr H_n)²) / (D (D + 2)) and the mean squared first
    directional derivative is E (g_nᵀ d)² = ||g_n||² / D. The summary is

        κ = sqrt( Σ_n q_n / Σ_n ||g_n||²/D ),

    RMS curvature over RMS slope, in units of one input scale: along a step of t scales the
    quadratic term is about κ t / 2 times the linear one. As for the parameter-effects
    measure, it is a second derivative relative to the first in a unit-scale coordinate
    system; unlike it, it needs no noise scale. ``per_observation`` holds sqrt(q_n D)/||g_n||.
    """
    X = _as_X(X)
    N, D = X.shape
    if input_scale is None:
        s = X.std(axis=0)
        s = np.where(s > 0, s, 1.0)
    else:
        s = np.broadcast_to(np.asarray(input_scale, dtype=float), (D,)).copy()
        if not np.all(np.isfinite(s) & (s > 0)):
            raise BayesstackError("input_curvature: input_scale must be positive")

    if feature_map is None:  # η's own cached JAX graph, differentiated in x
        from bayesstack.geometry.derivatives import input_derivatives
        from bayesstack.model.network import flatten

        theta = flatten(_point(spec, params, D), spec)
        g, h = (np.asarray(a) for a in input_derivatives(spec, D)(theta, X))
    else:
        g, h = _mapped_input_derivatives(spec, params, X, feature_map)

    g = g * s  # chain rule to z = x / s
    h = h * s[None, :, None] * s[None, None, :]
    h = 0.5 * (h + h.transpose(0, 2, 1))
    q = (2.0 * np.sum(h**2, axis=(1, 2)) + np.trace(h, axis1=1, axis2=2) ** 2) / (D * (D + 2))
    slope2 = np.sum(g**2, axis=1) / D
    total = float(np.sum(slope2))
    rms = float(np.sqrt(np.sum(q) / total)) if total > 0 else (0.0 if np.all(q == 0) else np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        per = np.where(q == 0, 0.0, np.sqrt(q / slope2))
    return InputCurvature(rms, N, D, tuple(float(x) for x in s), per)


def _mapped_input_derivatives(spec, params, X, feature_map) -> tuple[np.ndarray, np.ndarray]:
    """η's gradient (N, D) and Hessian (N, D, D) in raw x through the feature map φ."""
    import pytensor
    import pytensor.tensor as pt

    from bayesstack.geometry.derivatives import jaxify
    from bayesstack.model.network import forward, mean_eta

    D = X.shape[1]
    Xs = pt.matrix("X", dtype="float64")
    cols = feature_map(Xs)
    n_cols = int(cols.type.shape[1]) if cols.type.shape[1] is not None else None
    if n_cols is None:  # static width unknown: evaluate φ once on the data
        n_cols = int(jaxify([Xs], [cols.shape[1]])(X)[0])
    point = _point(spec, params, n_cols)
    p = {k: pt.as_tensor(v) for k, v in point.items()}
    eta = mean_eta(spec, forward(spec, p, cols, xp="pytensor"))
    # rows are independent, so the gradient of Σ η holds each ∇_x η_n in row n
    G = pytensor.grad(eta.sum(), Xs, disconnected_inputs="ignore")
    H = pt.stack(
        [pytensor.grad(G[:, j].sum(), Xs, disconnected_inputs="ignore") for j in range(D)],
        axis=1,
    )  # (N, D, D)
    with warnings.catch_warnings():
        # a feature map's concatenate becomes a Split in the gradient; its positions are fixed
        # by the static widths, which PyTensor's JAX backend cannot see (the result is exact)
        warnings.filterwarnings("ignore", "Split node does not have constant split positions")
        g, h = (np.asarray(a) for a in jaxify([Xs], [G, H])(X))
    return g, h


# --- the analysis' summary: at the optimum and over posterior draws ---------------------------

#: Bates & Watts' reference for γ·√F: above it the nonlinearity matters at the 95% level.
BATES_WATTS_REFERENCE = 0.5
#: Random directions per posterior draw when the closed form is too large (the point itself
#: uses the caller's, default 1000): a Monte Carlo standard error of a few percent.
DRAW_DIRECTIONS = 250
#: γ at or below this counts as 0 up to rounding: η affine in θ (GLMs give ~1e-12).
AFFINE_TOL = 1e-6


@dataclass(frozen=True)
class CurvatureSummary:
    """Bates–Watts curvatures of η (and μ) at the best optimum and over posterior draws.

    Attributes
    ----------
    at_point : Curvature
        Curvatures of the linear predictor η at :attr:`point`.
    point : str
        Where: ``"best MAP optimum"`` or the best draw.
    mean_scale : Curvature or None
        Curvatures of the mean μ = g⁻¹(η) at the same point (non-identity links; None for the
        identity link, where μ = η, or when too large for the closed form).
    draws : tuple of Curvature
        Curvatures of η at posterior draws (seeded, spread over the mass-bearing chains).
    draw_index : tuple of (int, int)
        ``(chain, draw)`` of each.
    level : float
        Confidence level of the √F factor.
    """

    at_point: Curvature
    point: str
    mean_scale: Curvature | None
    draws: tuple[Curvature, ...]
    draw_index: tuple[tuple[int, int], ...]
    level: float = 0.95

    @property
    def parameter_effects(self) -> float:
        """γ^θ·√F at the point."""
        return self.at_point.times_sqrt_f(self.level)[0]

    @property
    def intrinsic(self) -> float:
        """γ^ι·√F at the point."""
        return self.at_point.times_sqrt_f(self.level)[1]

    @property
    def affine(self) -> bool:
        """η is affine in θ: both γ vanish up to rounding at the point (a GLM's η)."""
        c = self.at_point
        return max(c.parameter_effects, c.intrinsic) <= AFFINE_TOL

    @property
    def matters(self) -> bool:
        """The nonlinearity matters at the level: γ^θ·√F or γ^ι·√F above 0.5."""
        return max(self.parameter_effects, self.intrinsic) > BATES_WATTS_REFERENCE

    def draws_range(self, which: str = "parameter_effects") -> list[float] | None:
        """``[min, median, max]`` of γ·√F over the draws (None without draws)."""
        if not self.draws:
            return None
        k = 0 if which == "parameter_effects" else 1
        v = np.array([c.times_sqrt_f(self.level)[k] for c in self.draws])
        return [float(np.min(v)), float(np.median(v)), float(np.max(v))]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        ms = self.mean_scale
        return {
            "scale_of": "eta",
            "point": self.point,
            "level": self.level,
            "reference": BATES_WATTS_REFERENCE,
            "parameter_effects_sqrt_f": _finite(self.parameter_effects),
            "intrinsic_sqrt_f": _finite(self.intrinsic),
            "gamma_parameter_effects": _finite(self.at_point.parameter_effects),
            "gamma_intrinsic": _finite(self.at_point.intrinsic),
            "jacobian_condition": _finite(self.at_point.jacobian_condition),
            "affine": self.affine,
            "matters_at_level": self.matters,
            "at_point": self.at_point.to_dict(),
            "mean_scale": None if ms is None else {
                **ms.to_dict(),
                "parameter_effects_sqrt_f": _finite(ms.times_sqrt_f(self.level)[0]),
                "intrinsic_sqrt_f": _finite(ms.times_sqrt_f(self.level)[1]),
            },
            "n_draws": len(self.draws),
            "draws": [list(i) for i in self.draw_index],
            "parameter_effects_draws": self.draws_range("parameter_effects"),
            "intrinsic_draws": self.draws_range("intrinsic"),
            "jacobian_condition_draws": (
                None if not self.draws
                else [_finite(c.jacobian_condition) for c in self.draws]
            ),
        }  # fmt: skip


def _finite(v: float) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


def curvature_summary(
    spec,
    point: Mapping[str, Any],
    X: Any,
    *,
    point_name: str,
    draws: Sequence[Mapping[str, Any]] = (),
    draw_index: Sequence[tuple[int, int]] = (),
    rng: int | None = 0,
    n_directions: int | None = None,
) -> CurvatureSummary:
    """Curvatures of η at ``point`` (and of μ for non-identity links) and at ``draws``.

    Each point holds the weights and, for Gaussian-type families, ``sigma``. Where the closed
    form is too large (the random-direction estimator), the draws use at most
    :data:`DRAW_DIRECTIONS` directions each.
    """
    kw = {} if n_directions is None else {"n_directions": n_directions}
    at = stack_curvature(spec, point, X, rng=rng, **kw)
    ms = None
    if spec.link != "identity" and at.method == "exact":
        ms = mean_curvature(spec, point, X)
    # over draws the spread matters more than the last digit: fewer random directions
    n_draw_dirs = min(n_directions or 1000, DRAW_DIRECTIONS)
    dc = tuple(stack_curvature(spec, p, X, rng=rng, n_directions=n_draw_dirs) for p in draws)
    return CurvatureSummary(at, point_name, ms, dc, tuple(tuple(i) for i in draw_index))
