"""Rich progress bars for long work (training phases, scoring files); silent when not verbose."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

PHASES = {"gan": "Training GAN", "encoder": "Training encoder"}


def make_progress(console: Console | None = None, transient: bool = False) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
        transient=transient,
    )


@contextmanager
def training_progress(verbose: bool) -> Iterator:
    """Yield a callback ``(phase, step, total, metrics)`` that drives one bar per training phase."""
    if not verbose:
        yield None
        return
    tasks: dict[str, int] = {}
    with make_progress() as progress:

        def update(phase: str, step: int, total: int, metrics: dict[str, float]) -> None:
            if phase not in tasks:
                tasks[phase] = progress.add_task(PHASES.get(phase, phase), total=total, info="")
            info = "  ".join(f"{k} {v:.3f}" for k, v in metrics.items())
            progress.update(tasks[phase], completed=step, info=info)

        yield update
