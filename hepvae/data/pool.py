"""Run independent tasks on a local process pool and collect their results in task order.

Workers are forked on Linux (spawned elsewhere) and ignore Ctrl-C: the main process receives
it and terminates them, so an interrupted run stops at once and leaves no worker behind.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any


def _ignore_sigint() -> None:
    """Pool initializer: workers leave Ctrl-C to the main process, which terminates them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def pool_context() -> multiprocessing.context.BaseContext:
    """Process start method for the pool.

    ``fork`` on Linux: workers start at once and need no ``if __name__ == "__main__"`` guard
    in the calling script (the tasks must not rely on threads of the parent). Elsewhere
    (macOS, where forking is unsafe) ``spawn``.
    """
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


@contextlib.contextmanager
def ordered_results(
    func: Callable[..., Any], tasks: Sequence[tuple], workers: int
) -> Iterator[Iterator[Any]]:
    """Yield an iterator over ``func(*task)`` for every task, in task order.

    With ``workers`` > 1 the tasks run on a process pool, created here (create it before any
    thread, such as a progress bar's, is started) and terminated on leaving, also on error
    or Ctrl-C. At most ``2 * workers`` results are held at a time, so memory stays bounded.
    """
    if workers <= 1:
        yield (func(*task) for task in tasks)
        return
    pool = pool_context().Pool(workers, initializer=_ignore_sigint)
    try:
        yield _in_order(pool, func, tasks, window=2 * workers)
    finally:
        pool.terminate()
        pool.join()


def _in_order(pool, func: Callable[..., Any], tasks: Sequence[tuple], window: int):
    """Results of all tasks in order, with at most ``window`` tasks in flight."""
    pending: deque = deque()
    todo = iter(tasks)

    def submit() -> None:
        task = next(todo, None)
        if task is not None:
            pending.append(pool.apply_async(func, task))

    for _ in range(window):
        submit()
    while pending:
        result = pending.popleft().get()
        submit()
        yield result
