"""Long work shows how far it has got: a bar for a person watching a terminal, a few plain
lines for a log (CI, a pipe, ``make demo | tee``), where a bar would be hundreds of lines.

``progress()`` returns either Rich's ``Progress`` or ``PlainProgress``, which has the same
three methods the commands use (``add_task``, ``advance``, ``update``): a command is written
once for both. Both write to stderr, so stdout stays for the command's output.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from services.cli.common import err

# Without a total (a replay), a plain line this often: enough to see it is alive.
PLAIN_EVERY_S = 15.0
# With a total, a plain line at each of these shares of it (and one at the start).
PLAIN_STEPS = (0.25, 0.5, 0.75, 1.0)


class Tracker(Protocol):
    """What a command calls on its progress, whichever kind it got."""

    def add_task(self, description: str, *, total: float | None = ..., **fields: Any) -> TaskID: ...

    def advance(self, task_id: TaskID, advance: float = 1) -> None: ...

    def update(self, task_id: TaskID, **changes: Any) -> None: ...

    def __enter__(self) -> Tracker: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None: ...


@dataclass
class _Task:
    description: str
    total: float | None
    completed: float = 0
    shown_step: int = -1  # the last of PLAIN_STEPS printed
    shown_at: float = 0.0  # monotonic time of the last line


class PlainProgress:
    """Progress as a few lines: when a task starts, at each quarter of its total (or every
    ``PLAIN_EVERY_S`` without one) and when it ends."""

    def __init__(self, console: Console, *, every_s: float = PLAIN_EVERY_S) -> None:
        self._console = console
        self._every_s = every_s
        self._tasks: list[_Task] = []

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if kind is not None:
            return  # the error is what is said, not how far it got
        for task in self._tasks:
            if task.total is None or task.shown_step < len(PLAIN_STEPS) - 1:
                self._line(task, done=True)

    def add_task(self, description: str, *, total: float | None = 100, **_: Any) -> TaskID:
        self._tasks.append(_Task(description, total))
        self._line(self._tasks[-1])
        return TaskID(len(self._tasks) - 1)

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        task = self._tasks[task_id]
        self.update(task_id, completed=task.completed + advance)

    def update(self, task_id: TaskID, **changes: Any) -> None:
        task = self._tasks[task_id]
        if changes.get("description") is not None:
            task.description = changes["description"]
        if "total" in changes:
            task.total = changes["total"]
        if changes.get("advance") is not None:
            task.completed += changes["advance"]
        if changes.get("completed") is not None:
            task.completed = changes["completed"]
        if task.total:
            share = task.completed / task.total
            step = max((i for i, s in enumerate(PLAIN_STEPS) if share >= s), default=-1)
            if step > task.shown_step:
                task.shown_step = step
                self._line(task)
        elif time.monotonic() - task.shown_at >= self._every_s:
            self._line(task)

    def _line(self, task: _Task, *, done: bool = False) -> None:
        task.shown_at = time.monotonic()
        if task.total:
            share = min(task.completed / task.total, 1.0)
            text = f"{task.description}: {task.completed:,.0f} of {task.total:,.0f} ({share:.0%})"
        elif task.completed or done:
            text = f"{task.description}: {task.completed:,.0f}" + (" (done)" if done else "")
        else:
            text = f"{task.description} ..."
        self._console.print(text, markup=False, highlight=False, soft_wrap=True)


def watched() -> bool:
    """A person is watching a terminal (both streams are one): not CI, not a pipe."""
    return sys.stdout.isatty() and err.is_terminal


def progress(*, disable: bool = False, total_known: bool = True) -> Tracker:
    """A progress bar on stderr on a terminal, a few plain lines elsewhere; nothing with
    ``disable`` (``--json``, or output written to stdout)."""
    if disable:
        return Progress(console=err, disable=True)
    if not watched():
        return PlainProgress(err)
    columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}")]
    if total_known:
        columns += [BarColumn(), MofNCompleteColumn(), TaskProgressColumn(), TimeRemainingColumn()]
    else:
        columns += [TextColumn("{task.completed:,}"), TimeElapsedColumn()]
    return Progress(*columns, console=err, transient=False)
