"""``hepvae graphs FILE...``: build or check the graph data set and print its summary."""

from __future__ import annotations

import argparse

from hepvae.commands import positive_float, positive_int


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "graphs",
        help="build or check the jet graph data set; print shapes, ranges, normalization",
        description=(
            "Read jet ROOT files, split them into train/val/test, compute normalization "
            "statistics on the training split, build every graph once and check it, and "
            "print shapes, feature ranges and the statistics: the features the model trains "
            "on, with the settings of a training config. With --cache the compact arrays and "
            "statistics are written to (or read from) a folder, which `hepvae train` reads "
            "when its config sets data.cache to it."
        ),
    )
    p.add_argument("files", nargs="+", help="ROOT files in the hepvae schema")
    p.add_argument(
        "--config",
        default=None,
        metavar="YAML",
        help="training config whose model and data settings to use (default: the defaults)",
    )
    p.add_argument(
        "--particles",
        type=positive_int,
        default=None,
        help="leading constituents kept per jet (default: model.n_particles)",
    )
    p.add_argument(
        "--max-hyperedges",
        type=_non_negative_int,
        default=None,
        help="bound on 3-point hyperedges per jet, 0 for none (default: model.max_hyperedges)",
    )
    p.add_argument(
        "--p4-scale",
        type=positive_float,
        default=None,
        help="four-momentum scale in GeV (default: from the training split)",
    )
    p.add_argument("--seed", type=int, default=None, help="split seed (default: data.split_seed)")
    p.add_argument(
        "--cache",
        default=None,
        metavar="DIR",
        help="folder of the data cache (default: data.cache)",
    )
    p.add_argument(
        "--max-jets",
        type=positive_int,
        default=None,
        help="check at most this many jets per split (default: all)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from hepvae.graphs.check import check_graphs, summary_tables
    from hepvae.graphs.config import GraphConfig
    from hepvae.graphs.dataset import JetGraphDataset
    from hepvae.train.config import load_train_config

    flags = {
        "n_particles": args.particles,
        "max_hyperedges": args.max_hyperedges,
        "p4_scale": args.p4_scale,
        "seed": args.seed,
        "cache": args.cache,
    }
    overrides = {key: value for key, value in flags.items() if value is not None}
    config = GraphConfig.from_train(load_train_config(args.config), **overrides)
    console = Console()
    datasets = JetGraphDataset.splits(args.files, config, progress=console.is_terminal)
    summary = check_graphs(datasets, args.max_jets, progress=console.is_terminal)
    for table in summary_tables(datasets, summary):
        console.print(table)
    return 0
