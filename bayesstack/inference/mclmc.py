"""Microcanonical samplers on the PyMC model's JAX log density: blackjax's MCLMC, two ways.

* ``"adjusted_mclmc"``: the Metropolis-adjusted microcanonical sampler (MAMS; blackjax's
  ``adjusted_mclmc_dynamic``): isokinetic trajectories of random length with an accept/reject
  step, so the chain targets the posterior exactly. Tuning: blackjax's
  ``adjusted_mclmc_find_L_and_step_size`` (diagonal preconditioning, dual averaging of the
  step size to ``target_accept``), which sets the trajectory length to
  L = :data:`AVG_INTEGRATION_STEPS` × step size: each proposal takes on average two
  integration steps, close to MALA, not a length from the posterior's scale.
* ``"mclmc"``: unadjusted MCLMC (what MILE and ``sklearn-contrib-bde`` run): no accept/reject
  step, so the draws carry a discretisation bias that the tuner keeps small (an energy error
  of about 5e-4 per dimension and step). Tuning: ``mclmc_find_L_and_step_size``.

Both call blackjax directly (not through ``pm.sample``), on the same log density as the NUTS
route (:func:`bayesstack.inference.jaxnuts.jaxify_model`), one compiled XLA program per chain:
the tuning phases, then the draws in one ``lax.scan``. A chain is defined by its start and its
seed, so the same seed gives the same draws. The tuning budget is ``tune`` steps; ``thin``
steps are taken per kept draw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bayesstack.inference import jaxnuts

if TYPE_CHECKING:
    import pymc as pm

#: Per-draw statistics of each variant, in the program's order (ArviZ's names where it has
#: one): ``energy_change`` is the unadjusted step's energy error, ``energy`` the adjusted
#: proposal's total energy, ``n_steps`` gradient evaluations per kept draw.
STATS = {
    False: ("lp", "diverging", "energy_change", "n_steps", "step_size", "L"),
    True: ("lp", "diverging", "energy", "acceptance_rate", "n_steps", "step_size", "L"),
}
#: Gradient evaluations per step of the isokinetic McLachlan integrator (two stages).
GRADS_PER_STEP = 2
#: Tuning fractions of ``tune``: step size, step size with the preconditioner, then L.
_UNADJUSTED_FRACS = (0.3, 0.3, 0.3)  # the preconditioner adds a third of the second phase
_ADJUSTED_FRACS = (0.5, 0.5)
#: Mean integration steps per adjusted proposal, L / step size: blackjax's tuner default,
#: passed explicitly so that the run's trajectory length does not change with blackjax.
AVG_INTEGRATION_STEPS = 2.0


def _unadjusted(logp_fn, out_fn, tune: int, draws: int, thin: int):
    import blackjax
    import jax
    import jax.numpy as jnp
    from blackjax.mcmc import integrators, mclmc

    def chain(key, start, data):
        def logd(z):
            return logp_fn(*z, *data)[0]

        k_init, k_tune, k_run = jax.random.split(key, 3)
        state = mclmc.init(position=start, logdensity_fn=logd, rng_key=k_init)
        kernel = mclmc.build_kernel(integrator=integrators.isokinetic_mclachlan)
        f1, f2, f3 = _UNADJUSTED_FRACS
        state, params, n_tune = blackjax.mclmc_find_L_and_step_size(
            mclmc_kernel=kernel,
            num_steps=max(tune, 1),
            state=state,
            rng_key=k_tune,
            logdensity_fn=logd,
            frac_tune1=f1,
            frac_tune2=f2,
            frac_tune3=f3,
            diagonal_preconditioning=True,
        )

        def step(s, k):
            s, info = kernel(k, s, logd, params.inverse_mass_matrix, params.L, params.step_size)
            return s, (info.energy_change, info.nonans)

        def draw(s, k):
            s, (de, ok) = jax.lax.scan(step, s, jax.random.split(k, thin))
            stats = (s.logdensity, ~ok.all(), de[-1], jnp.int64(GRADS_PER_STEP * thin))
            stats += (params.step_size, params.L)
            return s, (tuple(out_fn(*s.position, *data)), stats)

        _, (out, stats) = jax.lax.scan(draw, state, jax.random.split(k_run, draws))
        return out, stats, jnp.int64(GRADS_PER_STEP) * n_tune

    return chain


def _adjusted(logp_fn, out_fn, tune: int, draws: int, thin: int, target_accept: float):
    import blackjax
    import jax
    import jax.numpy as jnp
    from blackjax.mcmc import adjusted_mclmc_dynamic as amd
    from blackjax.mcmc import integrators

    def chain(key, start, data):
        def logd(z):
            return logp_fn(*z, *data)[0]

        k_init, k_tune, k_run = jax.random.split(key, 3)
        state = amd.init(start, logd, k_init)
        kernel = amd.build_kernel(
            integration_steps_fn=amd.make_random_trajectory_length_fn(True),
            integrator=integrators.isokinetic_mclachlan,
        )
        f1, f2 = _ADJUSTED_FRACS
        state, params, n_tune = blackjax.adjusted_mclmc_find_L_and_step_size(
            mclmc_kernel=kernel,
            logdensity_fn=logd,
            num_steps=max(tune, 1),
            state=state,
            rng_key=k_tune,
            target=target_accept,
            frac_tune1=f1,
            frac_tune2=f2,
            frac_tune3=0.0,
            diagonal_preconditioning=True,
            target_num_integration_steps=AVG_INTEGRATION_STEPS,
        )
        avg = (params.L / params.step_size,)
        # a NaN step size makes zero-step proposals that are always accepted: the chain
        # stands still, so every draw is flagged divergent (unadjusted steps go NaN instead)
        untuned = ~jnp.isfinite(params.step_size * params.L)

        def step(s, k):
            s, info = kernel(k, s, logd, params.step_size, jnp.inf, params.inverse_mass_matrix, avg)
            return s, (
                info.energy,
                info.is_divergent,
                info.acceptance_rate,
                info.num_integration_steps,
            )

        def draw(s, k):
            s, (de, div, acc, n) = jax.lax.scan(step, s, jax.random.split(k, thin))
            stats = (s.logdensity, div.any() | untuned, de[-1], acc.mean())
            stats += (GRADS_PER_STEP * n.sum().astype(jnp.int64), params.step_size, params.L)
            return s, (tuple(out_fn(*s.position, *data)), stats)

        _, (out, stats) = jax.lax.scan(draw, state, jax.random.split(k_run, draws))
        return out, stats, jnp.int64(GRADS_PER_STEP) * jnp.asarray(n_tune, dtype=jnp.int64)

    return chain


def chain_program(
    model: pm.Model,
    key: tuple,
    *,
    tune: int,
    draws: int,
    adjusted: bool,
    target_accept: float = 0.9,
    thin: int = 1,
) -> tuple[jaxnuts.ChainProgram, bool]:
    """The compiled MCLMC chain program of ``model`` and whether it was compiled now.

    Parameters
    ----------
    model : pm.Model
        The model; only read on a cache miss.
    key : tuple
        What identifies the graph (spec hash, data shapes and dtypes).
    tune, draws : int
        Tuning steps and kept draws.
    adjusted : bool
        Metropolis-adjusted (exact) or unadjusted MCLMC.
    target_accept : float
        Acceptance rate the adjusted sampler's step size is tuned to.
    thin : int
        Steps per kept draw.
    """

    def make(logp_fn, out_fn):
        if adjusted:
            return _adjusted(logp_fn, out_fn, tune, draws, thin, target_accept)
        return _unadjusted(logp_fn, out_fn, tune, draws, thin)

    variant = ("adjusted_mclmc", target_accept) if adjusted else ("mclmc",)
    return jaxnuts.compiled_program(model, (*variant, *key, tune, draws, thin), make)
