"""Measure the mode classes of a run: which chain is where, and how much mass each class holds.

The numbers go to :mod:`bayesstack.geometry.evidence`, which decides the verdict. Classes are
the multi-start MAP's optima up to posterior symmetry (``MapResult.orbit``); a chain belongs
to the class its best draw's MAP run ended in (or, when that run failed, the class of the
optimum nearest its best draw after alignment by the posterior group).

Masses (log scale) are computed on the density the sampler sees
(:class:`~bayesstack.geometry.density.Density`):

* Laplace at the class's best optimum, with the full Hessian of every free parameter;
* bridge sampling (:func:`~bayesstack.geometry.mass.bridge_log_mass`) of each chain's draws
  (at most ``bridge_draws`` per chain, evenly spaced; the log density recomputed with the same
  compiled density) against the Laplace Gaussian at that chain's own optimum. Each chain
  estimates the mass of the image it sampled; the class's estimate is their log-mean-exp.

Both are multiplied by the orbit size |posterior group| / |stabiliser|. The stabiliser of an
optimum is found layer by layer (:func:`~bayesstack.geometry.evidence.stabiliser_order`):
units whose weights (incoming, bias, outgoing) agree within 0.1 within-mode sds (up to sign
where sign flips are posterior symmetries) can be swapped, and an all-zero unit of a flipping
layer (a dead unit) is fixed by its own flip. Other non-generic points are counted as generic.

Under a continuous posterior symmetry (identity layers, O(H)) the Hessian is singular along
the orbit, so there is no Laplace Gaussian and no mass; :func:`ridge_check` measures that
flatness instead.
"""

from __future__ import annotations

import math

import numpy as np

from bayesstack.geometry.evidence import ModeClass, Ridge, stabiliser_order
from bayesstack.geometry.mass import bridge_log_mass, laplace_log_mass, log_mean_exp
from bayesstack.geometry.modes import ModeClusters, image_residual
from bayesstack.model.network import flatten, forward, mean_eta, unflatten
from bayesstack.spec import Spec

#: Most draws per chain that bridge sampling uses (evenly spaced).
BRIDGE_DRAWS = 1000
#: Units closer than this (in within-mode sds) count as equal for the stabiliser.
UNIT_TOL = 0.1
#: Two classes give the same η when the RMS over observations of Δη / (within-mode sd of η)
#: is at most this: closer than half a posterior sd, where two draws of one mode differ by
#: about 1.4 sds.
SAME_ETA = 0.5
#: Tangent directions with singular values below this times the largest are dropped.
TANGENT_RTOL = 1e-3
#: Eigenvalues of −H along an orbit direction at or below this times the largest are flat.
FLAT_RTOL = 1e-6


def _units(spec: Spec, theta: np.ndarray, scale: np.ndarray, d: int, group) -> list:
    """Per layer without a continuous posterior symmetry: unit vectors in scale units."""
    p = {k: v[0] for k, v in unflatten(theta[None], spec, d).items()}
    s = {k: v[0] for k, v in unflatten(np.asarray(scale)[None], spec, d).items()}
    inside = {c.layer for c in group.posterior_continuous}
    out = []
    for ls in group.layers:
        l = ls.layer
        if l in inside:
            continue
        cols = [p[f"W{l}"] / s[f"W{l}"]]
        if f"b{l}" in p:
            cols.append((p[f"b{l}"] / s[f"b{l}"])[None, :])
        nxt = p[f"W{l + 1}"] / s[f"W{l + 1}"]
        cols.append(nxt[None, :] if nxt.ndim == 1 else nxt.T)
        v = np.concatenate(cols, axis=0).T  # (H, K)
        flips = ls.sign_flips == "posterior"
        out.append((v, flips))
    return out


def _eta_distance(a: np.ndarray, b: np.ndarray, scale: np.ndarray) -> float:
    """RMS over observations of ``(a - b) / scale``."""
    return float(np.sqrt(np.mean(((a - b) / scale) ** 2)))


def _nearest_optimum(spec, mp, theta_c: np.ndarray, d: int) -> int:
    dist = [image_residual(spec, mp.theta[g], theta_c, mp.scale, d) for g in range(mp.n_raw)]
    return int(np.argmin(dist))


def measure_classes(
    spec: Spec,
    group,
    density,
    mp,
    theta: np.ndarray,
    xdraws: np.ndarray,
    logp: np.ndarray | None,
    X: np.ndarray,
    *,
    fun_scale: np.ndarray,
    fun_obs: np.ndarray,
    map_from_chains: bool,
    seed: int = 0,
    bridge_draws: int = BRIDGE_DRAWS,
) -> tuple[list[ModeClass], list[int | None], list[str]]:
    """The mode classes of a run with a MAP result (shares not yet assigned).

    Parameters
    ----------
    spec, group : Spec, SymmetryGroup
        The model and its symmetry group.
    density : Density
        The compiled density.
    mp : MapResult
        With at least one optimum.
    theta : array (chain, draw, P)
        Flat weights of the draws.
    xdraws : array (chain, draw, size)
        The draws as flat unconstrained vectors.
    logp : array (chain, draw) or None
        The sampler's stored log density.
    X : array (N, D)
        Inputs.
    fun_scale, fun_obs : arrays
        Within-mode sd of η at the observations ``fun_obs`` (the function-space clustering's
        unit): two classes whose η there differ by at most :data:`SAME_ETA` of these (RMS
        over the observations) are likelihood images.
    map_from_chains : bool
        Whether the MAP's first starts were the chains' best draws.
    seed : int
        Seed of the Gaussian draws of bridge sampling.
    bridge_draws : int
        Most draws per chain used by bridge sampling.

    Returns
    -------
    classes : list of ModeClass
    chain_class : list of int or None
        Class of each chain.
    notes : list of str
    """
    n_chains, n_draws, _ = theta.shape
    d = X.shape[1]
    notes: list[str] = []
    best_draw = np.full(n_chains, n_draws - 1) if logp is None else np.nanargmax(logp, axis=1)
    chain_opt = np.full(n_chains, -1)
    if map_from_chains:
        chain_opt = np.asarray(mp.start_optimum[:n_chains]).copy()
    missing = np.flatnonzero(chain_opt < 0)
    for c in missing:
        chain_opt[c] = _nearest_optimum(spec, mp, theta[c, best_draw[c]], d)
    if missing.size and map_from_chains:
        notes.append(
            f"the MAP run from the best draw of chain(s) {', '.join(map(str, missing))} did not "
            "end at a local maximum; each was put in the class of the nearest optimum"
        )
    continuous = bool(group.posterior_continuous)
    orbit = np.asarray(mp.orbit)
    n_cls = int(orbit.max()) + 1
    reps = [int(np.flatnonzero(orbit == k)[0]) for k in range(n_cls)]  # best first
    laplace = {}
    needed = set(reps) | set(int(g) for g in chain_opt)
    for g in sorted(needed):
        if continuous:
            laplace[g] = None
        else:
            laplace[g] = laplace_log_mass(float(mp.logp[g]), density.hessian(mp.x[g]), mp.x[g])
    eta = mean_eta(spec, forward(spec, unflatten(mp.theta[reps], spec, d), X[fun_obs]))
    idx = np.unique(np.linspace(0, n_draws - 1, min(n_draws, bridge_draws)).round().astype(int))
    classes = []
    for k in range(n_cls):
        g = reps[k]
        chains = tuple(int(c) for c in np.flatnonzero(orbit[chain_opt] == k))
        if continuous:
            names = " × ".join(c.name for c in group.posterior_continuous)
            why = (
                f"a continuous posterior symmetry ({names}) makes the Hessian singular along "
                "the orbit: a Gaussian has no finite mass there"
            )
            orbit_size, stab, lap_mass, lap_note = None, 1, None, why
        else:
            stab = stabiliser_order(_units(spec, mp.theta[g], mp.scale, d, group), UNIT_TOL)
            orbit_size = int(group.posterior_order) // stab
            lm = laplace[g]
            lap_mass = None if lm.log_mass is None else lm.log_mass + math.log(orbit_size)
            lap_note = lm.reason
        per_chain, draws_note = [], ""
        for c in chains:
            lg = laplace.get(int(chain_opt[c]))
            if lg is None or lg.gaussian is None:
                draws_note = (
                    lap_note
                    if continuous
                    else (f"no Laplace Gaussian at chain {c}'s optimum to bridge its draws to")
                )
                per_chain = []
                break
            xs = xdraws[c, idx]
            lp = density.logp(xs)
            res = bridge_log_mass(
                density.logp, xs, lp, lg.gaussian, rng=np.random.SeedSequence([seed, c])
            )
            per_chain.append(res.log_mass)
            if not res.converged:
                draws_note = f"bridge sampling did not converge for chain {c}"
        if not chains:
            draws_note = "no chain sampled this class (found by MAP starts only)"
        lmd = None
        if per_chain and orbit_size is not None:
            lmd = log_mean_exp(per_chain) + math.log(orbit_size)
        mean_lp = None
        if chains and logp is not None:
            mean_lp = float(np.nanmean(logp[list(chains)]))
        lik = tuple(
            j
            for j in range(n_cls)
            if j != k and _eta_distance(eta[k], eta[j], fun_scale) <= SAME_ETA
        )
        classes.append(
            ModeClass(
                index=k,
                optima=tuple(int(o) for o in np.flatnonzero(orbit == k)),
                chains=chains,
                map_logp=float(mp.logp[g]),
                mean_logp=mean_lp,
                orbit_size=orbit_size,
                stabiliser_order=stab,
                log_mass_laplace=lap_mass,
                log_mass_draws=lmd,
                log_mass_draws_chains=tuple(float(v) for v in per_chain),
                laplace_note=lap_note,
                draws_note=draws_note,
                likelihood_images=lik,
            )
        )
    chain_class = [int(orbit[g]) for g in chain_opt]
    return classes, chain_class, notes


def fallback_classes(
    clusters: ModeClusters, n_chains: int, group
) -> tuple[list[ModeClass], list[int | None]]:
    """Classes from the mode clustering up to symmetry, when the MAP did not run (no mass).

    A chain belongs to the mode holding most of its draws.
    """
    labels = np.asarray(clusters.labels)
    chain_class = [int(np.bincount(row).argmax()) for row in labels]
    classes = []
    for m in clusters.modes:
        chains = tuple(c for c in range(n_chains) if chain_class[c] == m.index)
        classes.append(
            ModeClass(
                index=m.index,
                optima=(),
                chains=chains,
                map_logp=None,
                mean_logp=m.mean_logp,
                orbit_size=None if group.posterior_continuous else int(group.posterior_order),
                stabiliser_order=1,
                log_mass_laplace=None,
                log_mass_draws=None,
                laplace_note="the multi-start MAP did not run",
                draws_note="the multi-start MAP did not run",
            )
        )
    return classes, chain_class


def ridge_check(spec: Spec, group, density, x_hat: np.ndarray, n_features: int) -> Ridge:
    """Flatness of the Hessian at ``x_hat`` along the tangent space of the continuous orbit.

    For each O(H) layer and each generator ``K = E_ab − E_ba`` the tangent vector is the
    central difference of θ moved by ``expm(±εK)``; −H is restricted to the span of the
    tangents, and its eigenvalues at or below ``FLAT_RTOL`` times the largest eigenvalue of
    −H count as flat. The span's rank (singular values of the tangents above
    ``TANGENT_RTOL`` times the largest) is the orbit's dimension at this point, which is
    below the group's where a continuous subgroup fixes the point.
    """
    from scipy.linalg import expm

    from bayesstack.geometry.symmetry import apply_layer

    theta = density.weights(x_hat)
    params = {k: v[0] for k, v in unflatten(theta[None], spec, n_features).items()}
    eps = 1e-5
    tangents = []
    for c in group.posterior_continuous:
        h = c.units
        for a in range(h):
            for b in range(a + 1, h):
                K = np.zeros((h, h))
                K[a, b], K[b, a] = 1.0, -1.0
                moved = []
                for sgn in (1.0, -1.0):
                    p = dict(params)
                    p.update(
                        apply_layer(spec, p, c.layer, np.arange(h), matrix=expm(sgn * eps * K))
                    )
                    moved.append(flatten(p, spec))
                t = np.zeros(density.size)
                t[density.weight_index] = (moved[0] - moved[1]) / (2 * eps)
                tangents.append(t)
    dim = group.orbit_dimension
    if not tangents:
        return Ridge(0, dim, 0, ())
    # tangents that vanish (a continuous stabiliser: e.g. units at ~0, which rotations among
    # themselves do not move) leave the orbit lower-dimensional at this point
    U, S, _ = np.linalg.svd(np.stack(tangents, axis=1), full_matrices=False)
    T = U[:, : int(np.sum(S > TANGENT_RTOL * S[0]))]
    H = density.hessian(x_hat)
    top = float(np.max(np.abs(np.linalg.eigvalsh(0.5 * (H + H.T)))))
    ev = np.linalg.eigvalsh(T.T @ (-0.5 * (H + H.T)) @ T) / top
    n_flat = int(np.sum(np.abs(ev) <= FLAT_RTOL))
    return Ridge(n_flat, dim, int(T.shape[1]), tuple(float(v) for v in ev))
