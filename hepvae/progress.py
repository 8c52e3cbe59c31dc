"""A rich progress bar used as a context manager that yields an ``advance(k)`` callback."""

from __future__ import annotations

from collections.abc import Callable


class ProgressBar:
    """A rich progress bar over jets (silent when disabled); yields an ``advance(k)`` callback."""

    def __init__(self, total: int, enabled: bool, description: str) -> None:
        self.total, self.enabled, self.description = total, enabled, description
        self._progress = None

    def __enter__(self) -> Callable[[int], None]:
        if not self.enabled:
            return lambda k: None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            transient=False,
        )
        self._progress.start()
        task = self._progress.add_task(self.description, total=self.total)
        return lambda k: self._progress.advance(task, k)

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()
