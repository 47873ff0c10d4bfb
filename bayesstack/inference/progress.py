"""Progress of a fit on stderr (rich): a status line while compiling, then one line per chain.

The JAX route runs a chain as one XLA call, and nutpie a chain as one call too, so progress is
per chain (waiting, sampling, done in so many seconds), not per draw. Disabled, every method is
a no-op, so the backends call them unconditionally.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class FitProgress:
    """Callbacks the backends report to; the rich display behind them, or nothing."""

    def __init__(self, progress=None, chains: int = 0) -> None:
        self._p = progress
        self._status = None
        self._chains: dict[int, int] = {}
        self._t0: dict[int, float] = {}
        if progress is not None:
            self._status = progress.add_task("preparing", total=None)
            for c in range(chains):
                self._chains[c] = progress.add_task(f"chain {c}: waiting", total=1, start=False)

    @property
    def enabled(self) -> bool:
        """Whether anything is shown."""
        return self._p is not None

    def status(self, text: str) -> None:
        """Set the status line (e.g. ``"compiling the model's JAX graph"``)."""
        if self._p is not None:
            self._p.update(self._status, description=text)

    def start(self, chain: int) -> None:
        """Chain ``chain`` started sampling."""
        if self._p is not None and chain in self._chains:
            self._t0[chain] = time.perf_counter()
            self._p.start_task(self._chains[chain])
            self._p.update(self._chains[chain], description=f"chain {chain}: sampling")

    def done(self, chain: int) -> None:
        """Chain ``chain`` finished."""
        if self._p is not None and chain in self._chains:
            dt = time.perf_counter() - self._t0.get(chain, time.perf_counter())
            self._p.update(
                self._chains[chain], completed=1, description=f"chain {chain}: done in {dt:.1f} s"
            )


#: A progress that shows nothing.
QUIET = FitProgress()


@contextmanager
def fit_progress(enabled: bool, chains: int, name: str, sampler: str) -> Iterator[FitProgress]:
    """The progress display of one fit (stderr), or :data:`QUIET` when not ``enabled``."""
    if not enabled:
        yield QUIET
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    progress = Progress(
        SpinnerColumn(),
        TextColumn(f"{name} ({sampler}) " + "{task.description}"),
        BarColumn(bar_width=10),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    with progress:
        fp = FitProgress(progress, chains)
        yield fp
        fp.status("sampled")
