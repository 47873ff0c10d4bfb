"""Compiled derivatives of η in θ for the curvature measures.

η(θ) is :func:`bayesstack.model.network.forward` on JAX arrays (the same code the model's PyTensor
graph comes from; JAX in float64), and JAX differentiates it exactly: the Jacobian and the
second derivatives row by row, directional second derivatives by forward-over-forward
differentiation, batched over directions. The compiled functions are cached per spec and input
width.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np

from bayesstack.spec import Spec


def jaxify(inputs: list, outputs: list) -> Callable:
    """A JAX function of ``inputs`` returning the list ``outputs`` (PyTensor graphs)."""
    from pymc.sampling.jax import get_jaxified_graph

    return get_jaxified_graph(inputs=inputs, outputs=outputs)


def in_blocks(fn: Callable, points: np.ndarray, block: int) -> np.ndarray:
    """``fn`` over the leading axis of ``points``, ``block`` points per call.

    The last block is padded with copies of its first point, so ``fn`` (a jitted, vmapped
    function) compiles once.
    """
    out = []
    for start in range(0, len(points), block):
        chunk = np.asarray(points[start : start + block])
        k = len(chunk)
        if k < block:
            chunk = np.concatenate([chunk, np.repeat(chunk[:1], block - k, axis=0)])
        out.append(np.asarray(fn(chunk))[:k])
    return np.concatenate(out)


@lru_cache(maxsize=32)
def eta_of_theta(spec: Spec, n_features: int) -> Callable:
    """JAX ``f(theta (P,), X (N, D)) -> η (N,)`` of the output layer (cached per spec, D).

    For a family with several outputs, η is μ's linear predictor (``network.mean_eta``).
    """
    import jax

    from bayesstack.model.network import forward, mean_eta, unflatten

    jax.config.update("jax_enable_x64", True)  # as PyMC's JAX backend does

    def f(theta, X):
        return mean_eta(spec, forward(spec, unflatten(theta, spec, n_features), X, xp="jax"))

    return f


@lru_cache(maxsize=32)
def eta_derivatives(spec: Spec, n_features: int) -> tuple[Callable, Callable, Callable]:
    """Jitted derivatives of η in θ: Jacobian, full second derivatives, directional ones.

    η_n depends on θ and row n of X alone, so the Jacobian and the second derivatives are
    taken row by row (vmapped), never through an (N, N, ...) intermediate.

    Returns
    -------
    jacobian : callable
        ``(theta, X) -> J (N, P)``.
    hessian : callable
        ``(theta, X) -> A (N, P, P)``.
    second : callable
        ``(theta, X, H (k, P)) -> (k, N)``: ``h_kᵀ A_n h_k`` for each direction, by
        forward-over-forward differentiation (no ``A`` is formed).
    """
    import jax

    f = eta_of_theta(spec, n_features)

    def row(th, x):
        return f(th, x[None, :])[0]

    def along(th, x, h):
        def slope(t):
            return jax.jvp(lambda u: f(u, x), (t,), (h,))[1]

        return jax.jvp(slope, (th,), (h,))[1]

    rows = {"in_axes": (None, 0)}
    return (
        jax.jit(jax.vmap(jax.grad(row), **rows)),
        jax.jit(jax.vmap(jax.hessian(row), **rows)),
        jax.jit(jax.vmap(along, in_axes=(None, None, 0))),
    )


@lru_cache(maxsize=32)
def input_derivatives(spec: Spec, n_features: int) -> Callable:
    """Jitted ``(theta, X) -> (g (N, D), h (N, D, D))``: η's gradient and Hessian in each row x.

    The same cached η as :func:`eta_of_theta`, differentiated in x instead of θ.
    """
    import jax

    f = eta_of_theta(spec, n_features)

    def row(x, th):
        return f(th, x[None, :])[0]

    rows = {"in_axes": (0, None)}
    grad, hess = jax.vmap(jax.grad(row), **rows), jax.vmap(jax.hessian(row), **rows)
    return jax.jit(lambda th, X: (grad(X, th), hess(X, th)))
