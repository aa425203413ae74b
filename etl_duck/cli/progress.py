"""Progress of long work: a bar per phase on a terminal; without one (cron, CI, a pipe) a
plain line every few seconds — never silence, never a bar stuck at 99 %."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any

from etl_duck.cli.app import err_console

LINE_EVERY_S = 5.0  # without a terminal: one line this often (and one per phase)


class PhaseProgress:
    """``progress(phase, done, total)`` for :func:`etl_duck.ingest.run.ingest_paths` and
    the generator: one rich bar per phase (with counts and time left) on a terminal."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}
        self._phase: str | None = None
        self._last_line = 0.0
        self._started = time.monotonic()

    def __enter__(self) -> PhaseProgress:
        if err_console.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("{task.description:<22}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("left"),
                TimeRemainingColumn(),
                console=err_console,
                transient=True,
            )
            self._bar.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.__exit__(kind, exc, tb)

    def __call__(self, phase: str, done: int, total: int) -> None:
        if total == 0:
            return  # nothing to count in this phase (e.g. no files given to a rebuild)
        if self._bar is not None:
            task = self._tasks.get(phase)
            if task is None:
                for done_task in self._tasks.values():  # one bar at a time: the phase now
                    self._bar.update(done_task, visible=False)
                task = self._tasks[phase] = self._bar.add_task(phase, total=total or None)
            self._bar.update(task, completed=done, total=total or None)
            return
        now = time.monotonic()
        if phase != self._phase or now - self._last_line >= LINE_EVERY_S or done == total:
            self._phase, self._last_line = phase, now
            share = f" ({100 * done / total:.0f} %)" if total else ""
            err_console.print(
                f"{phase}: {done:,}/{total:,}{share}, {now - self._started:.0f} s elapsed",
                highlight=False,
            )
