"""Fit settings and the tables of samplers and initialisations: a leaf that every layer may read.

Nothing here imports PyMC or JAX, so the CLI, the report and Dask workers read defaults cheaply.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from typing import Any

from bayesstack.errors import BayesstackError, check_int

#: Sampler -> the package it needs.
SAMPLERS: dict[str, str] = {
    "numpyro": "numpyro",
    "nutpie": "nutpie",
    "pymc": "pymc",
    "adjusted_mclmc": "blackjax",
    "mclmc": "blackjax",
}
#: The default sampler, chosen by measurement (``docs/performance.md``).
DEFAULT_SAMPLER = "numpyro"
#: Samplers whose chains run one by one (here and on Dask), each from its own seeds.
PER_CHAIN = ("numpyro", "nutpie", "adjusted_mclmc", "mclmc")
#: Samplers that run the PyMC model's log density converted to JAX.
JAX_SAMPLERS = ("numpyro", "adjusted_mclmc", "mclmc")
#: Starting points: U(-2, 2) on the unconstrained scale, its optimum (``"map"``), a prior
#: draw, or PyMC's jitter.
INITS = ("uniform", "map", "prior", "jitter")
#: The default starting points.
DEFAULT_INIT = "uniform"


def require(sampler: str) -> None:
    """Raise a one-line error naming the extra to install when ``sampler`` is missing."""
    pkg = SAMPLERS[sampler]
    if importlib.util.find_spec(pkg) is None:
        raise BayesstackError(
            f"sampler: {sampler!r} needs the package {pkg!r}; install it with: pip install {pkg}"
        )


@dataclass(frozen=True)
class FitSettings:
    """Sampler settings, stored with the run so that it can be regenerated."""

    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    seed: int = 0
    sampler: str = DEFAULT_SAMPLER
    init: str = DEFAULT_INIT
    target_accept: float = 0.8
    cores: int | None = None

    def __post_init__(self) -> None:
        lowest = {"draws": 1, "tune": 0, "chains": 1, "seed": 0, "cores": 1}
        for name, low in lowest.items():
            v = getattr(self, name)
            if name == "cores" and v is None:
                continue
            object.__setattr__(self, name, check_int(name, v, low))  # numpy integers too
        if self.sampler not in SAMPLERS:
            raise BayesstackError(
                f"sampler: unknown sampler {self.sampler!r}; use one of {', '.join(SAMPLERS)}"
            )
        if self.init not in INITS:
            raise BayesstackError(
                f"init: unknown init {self.init!r}; use one of {', '.join(INITS)}"
            )
        if not 0 < self.target_accept < 1:
            raise BayesstackError(f"target_accept: must be in (0, 1), got {self.target_accept!r}")

    @property
    def n_cores(self) -> int:
        """Cores used: ``cores`` or all available, never more than chains."""
        return max(1, min(self.chains, self.cores or os.cpu_count() or 1))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the settings."""
        return dict(self.__dict__)
