"""The benchmark harness (``benchmarks/``): its rows, ratios and routes, on tiny runs."""

import numpy as np
import pytest

from benchmarks import backends as bench
from benchmarks.models import SIZES

pytest.importorskip("numpyro")


def test_bench_quick():

    rows = bench.run_benchmarks(["e"], ["numpyro"], quick=True, seed=3, repeats=2)
    assert [(r.backend, r.seed) for r in rows] == [("numpyro", 3), ("numpyro", 4)]
    for r in rows:
        assert r.floor_us > 0 and r.grad_evals > 0 and r.min_ess > 0 and r.wall >= r.sample
    md = bench.to_markdown(rows)
    assert "| e | numpyro |" in md


def test_bench_passes_target_accept_to_every_route(monkeypatch):
    """``--target-accept`` reaches bayesstack's fit, nutpie and numpyro's NUTS (stubbed)."""
    import numpyro.infer
    import nutpie

    from bayesstack.inference import sampling

    class Called(Exception):
        pass

    def stub(*args, **kw):
        raise Called(kw)

    size = SIZES["e"]
    args = (*size.data(0), 1, 5, 5, 0, 0.01, 0.9)
    for target, attr, fit_route in (
        (sampling, "fit", lambda: bench._fit_bayesstack(size, "numpyro", *args)),
        (nutpie, "sample", lambda: bench._fit_hand_pymc(size, *args)),
        (numpyro.infer, "NUTS", lambda: bench._fit_hand_numpyro(size, *args)),
    ):
        monkeypatch.setattr(target, attr, stub)
        with pytest.raises(Called) as e:
            fit_route()
        kw = e.value.args[0]
        assert kw.get("target_accept", kw.get("target_accept_prob")) == 0.9, attr


def test_bench_ratios_pair_fits_of_one_seed():

    def row(backend, seed, wall):
        vals = dict.fromkeys(bench.BenchRow.__dataclass_fields__, 1.0)
        return bench.BenchRow(
            **{**vals, "size": "a", "backend": backend, "seed": seed, "wall": wall}
        )

    rows = [row("nutpie", 0, 2.0), row("hand-pymc", 0, 4.0), row("nutpie", 1, 3.0)]
    rows += [row("hand-pymc", 1, 2.0), row("nutpie", 2, 9.0)]  # seed 2 has no partner
    got = {(p, w): v for _, p, w, _, v in bench.ratios(rows)}
    assert got["nutpie / hand-pymc", "wall"] == [0.5, 1.5]
    md = bench.to_markdown(rows)
    assert "| a | nutpie / hand-pymc | wall | <= 1.05 | 1.00 | 0.50, 1.50 |" in md


def test_bench_hand_pymc_starts_like_bayesstack():
    """U(-2, 2) starts, not nutpie's default (support point + U(-1, 1) jitter: all within 1.5)."""

    size = SIZES["a"]
    cm = bench.hand_pymc_compiled(bench.hand_pymc(size, *size.data(0)))
    starts = np.stack([cm.initial_point_func(s) for s in range(4)])
    assert starts.shape == (4, cm.n_dim)
    assert np.abs(starts).max() <= 2.0
    assert (np.abs(starts).max(axis=1) > 1.5).all()
    assert len({z.tobytes() for z in starts}) == 4
