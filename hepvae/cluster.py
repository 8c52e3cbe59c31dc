"""Run independent tasks on a dask distributed cluster (a scheduler address or a local one)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from hepvae.errors import HepvaeError


def connect(scheduler: str | None, local_workers: int | None):
    """A ``distributed.Client`` for ``scheduler`` (tcp://host:port) or for a new
    ``LocalCluster`` of ``local_workers`` single-threaded worker processes; returns
    (client, cluster or None)."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout="20s"), None
        except (OSError, TimeoutError) as exc:
            raise HepvaeError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
    cluster = LocalCluster(
        n_workers=local_workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
    )
    return Client(cluster), cluster


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

    client, cluster = connect(scheduler, local_workers)
    run = uuid.uuid4().hex[:8]
    try:
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
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
