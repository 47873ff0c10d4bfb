"""Progress bars for the report and the demo: one bar per stage (rich.progress, on stderr)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)


class Stages:
    """Adds a progress bar per stage; a no-op when disabled."""

    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress

    def stage(self, name: str, total: int) -> Callable[[str], None]:
        """Start a bar of ``total`` steps; returns ``step(label)`` that advances it by one."""
        if self._progress is None:
            return lambda label="": None
        p = self._progress
        task = p.add_task(name, total=total, item="")

        def step(label: str = "") -> None:
            p.update(task, advance=1, item=label)

        return step


@contextmanager
def stages(enabled: bool = True) -> Iterator[Stages]:
    """A context holding the progress bars of one job (stderr; nothing when disabled)."""
    if not enabled:
        yield Stages(None)
        return
    progress = Progress(
        TextColumn("{task.description:<22}"),
        BarColumn(bar_width=30),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[item]}"),
        console=Console(stderr=True),
    )
    with progress:
        yield Stages(progress)
