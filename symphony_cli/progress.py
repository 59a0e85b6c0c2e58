"""Progress display for long CLI work: a bar on a terminal, silence otherwise (SPEC §6).

Narration goes to stderr, so stdout stays data even while a bar is drawn.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

ProgressCallback = Callable[[int, int], None]


@contextmanager
def progress(description: str, *, enabled: bool = True) -> Iterator[ProgressCallback]:
    """Yield ``update(done, total)``; draws a rich bar on stderr when it is a terminal."""
    if not (enabled and sys.stderr.isatty()):
        yield lambda _done, _total: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
