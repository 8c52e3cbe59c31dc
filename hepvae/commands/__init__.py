"""CLI subcommands. Each module defines ``register(subparsers)`` and keeps imports lazy."""

import argparse


def positive_int(text: str) -> int:
    """argparse type for an integer > 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def positive_float(text: str) -> float:
    """argparse type for a number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


#: choices of ``--jet-axis`` (:data:`hepvae.physics.coords.JET_AXES`; a test keeps them equal)
JET_AXES = ("constituents", "stored")


def add_jet_axis(p: argparse.ArgumentParser) -> None:
    """``--jet-axis``: jet kinematics relative to the stored jet or the leading constituents' sum."""
    p.add_argument(
        "--jet-axis",
        choices=JET_AXES,
        default="stored",
        help="jet kinematics and relative coordinates from the stored full jet (default; the "
        "JetNet convention of published tables: the leading constituents' pT_rel sum to < 1) "
        "or from the sum of the leading stored constituents (the jet a generator of only "
        "those constituents emits)",
    )


def add_dask_options(p: argparse.ArgumentParser, what: str, metavar: str = "N") -> None:
    """Mutually exclusive ``--scheduler`` / ``--local-cluster``: where ``what`` runs on dask."""
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--scheduler", metavar="tcp://HOST:PORT", help=f"run {what} on this dask scheduler"
    )
    where.add_argument(
        "--local-cluster",
        type=positive_int,
        metavar=metavar,
        help=f"run {what} on a dask LocalCluster of {metavar} single-threaded worker processes",
    )
