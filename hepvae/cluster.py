"""Run independent tasks on a dask distributed cluster (a scheduler address or a local one)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from hepvae.errors import ParameterError


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, local_workers: int = 2) -> Iterator[Any]:
    """A ``distributed.Client`` for ``scheduler`` (``tcp://host:port``), or for a new
    ``LocalCluster`` of ``local_workers`` single-threaded worker processes; closed on leaving
    (a local cluster with it)."""
    import logging

    from distributed import Client, LocalCluster

    logging.getLogger("distributed").setLevel(logging.ERROR)
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise ParameterError(
                "{scheduler} {address}: cannot connect ({reason})", address=scheduler, reason=exc
            ) from None
        with client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=local_workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def check_dask_options(scheduler: str | None, local_workers: int | None) -> None:
    """A scheduler address or a local cluster size, not both."""
    if scheduler is not None and local_workers is not None:
        raise ParameterError("give either {scheduler} or {local_cluster}, not both")


def run_on_cluster(
    func: Callable[[Any], Any],
    tasks: Sequence[Any],
    scheduler: str | None = None,
    local_workers: int | None = None,
    progress: bool = True,
    size: Callable[[Any], int] = lambda task: task.stop - task.start,
) -> Iterator[Any]:
    """Submit ``func(task)`` for every task and yield each task as it finishes.

    A progress bar counts ``size(task)`` units per finished task. If a task fails, the others
    are cancelled and the error is raised here.
    """
    from distributed import as_completed

    from hepvae.progress import ProgressBar

    run = uuid.uuid4().hex[:8]
    with dask_client(scheduler, local_workers or 2) as client:
        futures = {
            client.submit(func, task, key=f"hepvae-{run}-{k}", pure=False): task
            for k, task in enumerate(tasks)
        }
        total = sum(size(task) for task in tasks)
        with ProgressBar(total, "generating jets (cluster)", progress) as bar:
            try:
                for future in as_completed(futures):
                    future.result()
                    task = futures[future]
                    bar.advance(size(task))
                    yield task
            except BaseException:
                client.cancel(list(futures))
                raise
