"""Run a processor over data sets with coffea's ``Runner``: locally or on a dask cluster.

Executors: ``iterative`` (one process, the default), ``futures`` (a local process pool) and
``dask`` (coffea's ``DaskExecutor`` on a ``distributed.Client``: a running scheduler given by
address, ``tcp://HOST:PORT``, or a ``LocalCluster`` of N single-threaded worker processes
started here). Workers of a remote cluster need hepvae installed in the same version.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hepvae.atomic import atomic_path, ensure_dir, write_json
from hepvae.cluster import check_dask_options, dask_client
from hepvae.data.schema import TREE, count_jets
from hepvae.errors import HepvaeError, ParameterError

EXECUTORS = ("iterative", "futures", "dask")
_NAME = re.compile(r"^[A-Za-z0-9_.+-]+$")


def parse_datasets(specs: Sequence[str]) -> dict[str, list[Path]]:
    """Data sets from ``NAME=FILE[,FILE...]`` or ``FILE`` (named after the file) arguments."""
    datasets: dict[str, list[Path]] = {}
    for spec in specs:
        name, sep, files = spec.partition("=")
        if not sep:
            name, files = Path(spec).stem, spec
        if not _NAME.match(name):
            raise HepvaeError(
                f"{spec}: data set name {name!r} may only hold letters, digits and _ . + -"
            )
        if name in datasets:
            raise HepvaeError(
                f"{spec}: data set {name!r} given twice; name them with NAME=FILE[,FILE...]"
            )
        paths = [Path(f) for f in files.split(",") if f]
        if not paths:
            raise HepvaeError(f"{spec}: no files for data set {name!r}")
        datasets[name] = paths
    if not datasets:
        raise HepvaeError("no input files given")
    return datasets


def check_files(datasets: Mapping[str, Sequence[Path]]) -> dict[str, int]:
    """Open every file with the schema reader; return jets per data set (errors name the file)."""
    counts = {name: count_jets(paths) for name, paths in datasets.items()}
    for name, n in counts.items():
        if n == 0:
            raise HepvaeError(f"data set {name!r}: its files hold no jets")
    return counts


def run_analysis(
    datasets: Mapping[str, Sequence[str | os.PathLike]],
    processor_instance=None,
    executor: str | None = None,
    scheduler: str | None = None,
    local_cluster: int | None = None,
    workers: int = 2,
    chunksize: int = 100_000,
    status: bool = True,
    client: Any = None,
) -> dict[str, Any]:
    """Run ``processor_instance`` (default :class:`JetObservables`) over ``datasets``.

    ``executor`` defaults to ``dask`` when ``scheduler``, ``local_cluster`` or ``client`` is
    given and to ``iterative`` otherwise; ``workers`` sizes the ``futures`` pool. An existing
    ``distributed.Client`` may be passed as ``client``. Returns the processor's output.
    """
    from coffea import processor

    from hepvae.analysis.processors import JetObservables
    from hepvae.data.nanoevents import HepvaeSchema

    wants_dask = scheduler is not None or local_cluster is not None or client is not None
    executor = executor or ("dask" if wants_dask else "iterative")
    if executor not in EXECUTORS:
        raise ParameterError(
            "{executor}: unknown executor {got!r}, choose from {executors}",
            got=executor,
            executors=", ".join(EXECUTORS),
        )
    if wants_dask and executor != "dask":
        given = {"scheduler": scheduler, "local_cluster": local_cluster, "client": client}
        names = " and ".join("{" + name + "}" for name, value in given.items() if value is not None)
        raise ParameterError(
            "{executor} {got}: using " + names + " would need the dask executor", got=executor
        )
    check_dask_options(scheduler, local_cluster)
    datasets = {name: [Path(p) for p in paths] for name, paths in datasets.items()}
    check_files(datasets)
    fileset = {name: [str(p.resolve()) for p in paths] for name, paths in datasets.items()}
    processor_instance = processor_instance or JetObservables()

    def run(exec_) -> dict[str, Any]:
        runner = processor.Runner(executor=exec_, schema=HepvaeSchema, chunksize=chunksize)
        return runner(fileset, processor_instance, treename=TREE)

    if executor == "iterative":
        return run(processor.IterativeExecutor(status=status))
    if executor == "futures":
        return run(processor.FuturesExecutor(workers=workers, status=status))
    if client is not None:
        return run(processor.DaskExecutor(client=client, status=status))
    with dask_client(scheduler, local_cluster or 2) as client:
        return run(processor.DaskExecutor(client=client, status=status))


def write_histograms(result: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """Write the histograms to a ROOT file (``DATASET/OBSERVABLE`` TH1D), atomically.

    The jets per data set go into a ``hepvae_analysis`` JSON string in the same file.
    """
    import uproot

    path = Path(path)
    with atomic_path(path) as tmp, uproot.recreate(tmp) as file:
        for name, block in result.items():
            for key, h in block["hists"].items():
                file[f"{name}/{key}"] = h
        file["hepvae_analysis"] = json.dumps(
            {name: {"n_jets": block["n_jets"]} for name, block in result.items()}
        )
    return path


def write_outputs(
    result: Mapping[str, Any],
    out_dir: str | os.PathLike,
    datasets: Mapping[str, Sequence[str | os.PathLike]],
    reference: str | None = None,
    settings: Mapping[str, Any] | None = None,
) -> list[Path]:
    """Histograms (``histograms.root``), plots (``plots/``) and ``analysis.json`` in ``out_dir``."""
    from hepvae.analysis.plots import plot_all

    out_dir = ensure_dir(out_dir)
    reference = reference or next(iter(datasets))
    # executors return data sets in any order; keep the user's order (the first is the reference)
    result = {name: result[name] for name in datasets if name in result}
    start = time.perf_counter()
    written = [write_histograms(result, out_dir / "histograms.root")]
    written += plot_all(result, out_dir / "plots", reference=reference)
    summary = {
        "datasets": {
            name: {
                "files": [str(Path(p).resolve()) for p in datasets[name]],
                "n_jets": result[name]["n_jets"] if name in result else 0,
            }
            for name in datasets
        },
        "reference": reference,
        "settings": dict(settings or {}),
        "plot_seconds": round(time.perf_counter() - start, 2),
        "outputs": [str(p.relative_to(out_dir)) for p in written],
    }
    written.append(write_json(out_dir / "analysis.json", summary))
    return written
