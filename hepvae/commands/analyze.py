"""``hepvae analyze``: coffea histograms of jet observables and comparison plots."""

from __future__ import annotations

import argparse

from hepvae.commands import add_dask_options, add_jet_axis, positive_float, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze",
        help="coffea analysis: jet observables, EEC, N-subjettiness, D2; comparison plots",
        description=(
            "Fill histograms of jet observables per data set with a coffea processor and plot "
            "every data set against the first (the reference). Each argument is a data set: "
            "FILE (named after the file) or NAME=FILE[,FILE...]. Jet kinematics and relative "
            "coordinates are those of the stored jet (the JetNet convention) unless "
            "--jet-axis constituents. Writes DIR/histograms.root, "
            "DIR/plots/*.png|pdf (one per observable and summary) and DIR/analysis.json."
        ),
    )
    p.add_argument("datasets", nargs="+", metavar="DATASET", help="REAL.root GEN.root ...")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder")
    p.add_argument(
        "--executor",
        choices=("iterative", "futures", "dask"),
        default=None,
        help="coffea executor (default: iterative; dask with --scheduler/--local-cluster)",
    )
    add_dask_options(p, "the processor")
    p.add_argument(
        "--workers",
        type=positive_int,
        default=2,
        metavar="N",
        help="processes of the futures executor (default: 2)",
    )
    p.add_argument(
        "--chunksize",
        type=positive_int,
        default=100_000,
        metavar="N",
        help="jets per chunk (default: 100000)",
    )
    p.add_argument(
        "--binning", metavar="YAML", help="histogram binning overrides (keys of Binning)"
    )
    p.add_argument(
        "--eec3-particles",
        type=positive_int,
        metavar="N",
        default=30,
        help="leading constituents used for the projected 3-point EEC (default: 30)",
    )
    p.add_argument(
        "--r0", type=positive_float, default=0.8, help="N-subjettiness R0 (default: 0.8)"
    )
    add_jet_axis(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import time

    from rich.console import Console

    from hepvae.analysis.histograms import Binning
    from hepvae.analysis.processors import JetObservables
    from hepvae.analysis.runner import parse_datasets, run_analysis, write_outputs
    from hepvae.config import load_config

    datasets = parse_datasets(args.datasets)
    binning = load_config(Binning, args.binning) if args.binning else Binning()
    processor = JetObservables(
        binning, r0=args.r0, eec3_particles=args.eec3_particles, jet_axis=args.jet_axis
    )
    start = time.perf_counter()
    result = run_analysis(
        datasets,
        processor,
        executor=args.executor,
        scheduler=args.scheduler,
        local_cluster=args.local_cluster,
        workers=args.workers,
        chunksize=args.chunksize,
    )
    seconds = time.perf_counter() - start
    settings = {
        "executor": args.executor
        or ("dask" if args.scheduler or args.local_cluster else "iterative"),
        "scheduler": args.scheduler,
        "local_cluster": args.local_cluster,
        "chunksize": args.chunksize,
        "r0": args.r0,
        "eec3_particles": args.eec3_particles,
        "jet_axis": args.jet_axis,
        "processing_seconds": round(seconds, 2),
    }
    written = write_outputs(result, args.output, datasets, settings=settings)
    console = Console()
    for name in datasets:
        console.print(f"{name}: {result[name]['n_jets']:,} jets")
    console.print(f"processed in {seconds:.1f} s; wrote {len(written)} files to {args.output}")
    return 0
