"""The one progress bar of the package: rich, on stderr, only where stderr is a terminal."""

from __future__ import annotations

from typing import Any


class ProgressBar:
    """A progress bar over ``total`` units (``None``: unknown total) on stderr.

    Columns: description, bar, done/total, rate in ``unit``/s, elapsed and remaining time,
    then any values given to :meth:`update` (e.g. ``loss=0.31``). It is silent when
    ``enabled`` is false or stderr is not a terminal (logs, pipes, tests). Use it as a
    context manager or with :meth:`start` and :meth:`stop`::

        with ProgressBar(n, "simulating t jets") as bar:
            bar.advance(250)
    """

    def __init__(
        self,
        total: int | None,
        description: str,
        enabled: bool = True,
        unit: str = "jets",
        completed: int = 0,
        transient: bool = False,
    ) -> None:
        self.total, self.description, self.enabled = total, description, enabled
        self.unit, self.completed, self.transient = unit, completed, transient
        self._progress: Any = None
        self._task: Any = None

    def start(self) -> ProgressBar:
        """Show the bar (nothing happens when disabled or off a terminal)."""
        if not self.enabled or self._progress is not None:
            return self
        from rich.console import Console

        console = Console(stderr=True)
        if not console.is_terminal:
            return self
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.table import Column

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn(
                "{task.fields[values]}",
                table_column=Column(no_wrap=True, overflow="ellipsis", max_width=32),
            ),
            console=console,
            transient=self.transient,
        )
        self._progress.start()
        self._task = self._progress.add_task(
            self.description, total=self.total, completed=self.completed, rate="", values=""
        )
        return self

    def stop(self) -> None:
        """Remove (``transient``) or leave the finished bar and stop refreshing it."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more units done."""
        if self._progress is not None:
            self._progress.advance(self._task, n)
            self._show_rate()

    def update(
        self,
        completed: int | None = None,
        total: int | None = None,
        description: str | None = None,
        **values: Any,
    ) -> None:
        """Set the units done, the total or the description, and show ``values`` after the bar."""
        if self._progress is None:
            return
        fields: dict[str, Any] = {"completed": completed, "total": total}
        fields["description"] = description
        if values:
            fields["values"] = " ".join(f"{k}={_short(v)}" for k, v in values.items())
        self._progress.update(self._task, **{k: v for k, v in fields.items() if v is not None})
        self._show_rate()

    def _show_rate(self) -> None:
        task = self._progress.tasks[0]
        speed = task.finished_speed or task.speed
        if speed is None:
            rate = f"-- {self.unit}/s"
        else:
            rate = f"{speed:,.0f} {self.unit}/s" if speed >= 10 else f"{speed:.2g} {self.unit}/s"
        self._progress.update(self._task, rate=rate)

    def __enter__(self) -> ProgressBar:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _short(value: Any) -> str:
    """Numbers with three significant digits, everything else as ``str``."""
    try:
        return f"{float(value):.3g}"
    except (TypeError, ValueError):
        return str(value)
