"""``hepvae evaluate``: JetNet metrics and substructure W1s of generated against real jets,
with the truth baseline."""

from __future__ import annotations

import argparse

from hepvae.commands import add_jet_axis, positive_int

#: :data:`hepvae.evaluate.EVALUATE_METRICS` (kept here so that parsing imports nothing heavy;
#: a test keeps them equal)
METRIC_NAMES = ("w1m", "w1p", "w1efp", "fpd", "kpd",
                "w1tau21", "w1tau32", "w1d2", "w1eec", "w1mult", "w1nparticles")  # fmt: skip


def _metric_list(text: str) -> list[str]:
    names = [m.strip().lower() for m in text.split(",") if m.strip()]
    unknown = [m for m in names if m not in METRIC_NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown metric {unknown[0] if unknown else text!r}: choose from "
            f"{','.join(METRIC_NAMES)}"
        )
    return names


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="JetNet metrics and substructure W1s of generated vs real jets",
        description=(
            "Per jet type, compare generated with real jets, next to the truth baseline (two "
            "disjoint halves of the real jets, same sample size): the JetNet metrics (W1M, "
            "W1P, W1EFP, FPD, KPD, from jetnet.evaluation) and the W1 distances of "
            "substructure observables (tau21, tau32, D2, the pT-weighted EEC in ln R_L, the "
            "stored multiplicity and, where both samples carry it, Jet_nparticles). "
            "Writes DIR/metrics.json and prints two tables."
        ),
    )
    p.add_argument("--real", nargs="+", required=True, metavar="REAL.root", help="real jets")
    p.add_argument(
        "--generated", nargs="+", required=True, metavar="GEN.root", help="generated jets"
    )
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder")
    p.add_argument(
        "--n",
        type=positive_int,
        default=None,
        help="jets per sample and jet type (default: all, at most half the real jets)",
    )
    p.add_argument(
        "--particles",
        type=positive_int,
        default=30,
        help="leading constituents per jet in the JetNet arrays and the substructure (default: 30)",
    )
    add_jet_axis(p)
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument(
        "--metrics",
        type=_metric_list,
        default=list(METRIC_NAMES),
        help=f"comma-separated subset of {','.join(METRIC_NAMES)} (default: all)",
    )
    p.add_argument(
        "--efp-jobs",
        type=positive_int,
        default=None,
        help="processes for the EFP computation (default: all CPUs)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from hepvae.evaluate import evaluate, metrics_table, substructure_table, write_metrics
    from hepvae.evaluate.report import notes

    result = evaluate(
        args.real,
        args.generated,
        n=args.n,
        n_particles=args.particles,
        seed=args.seed,
        metrics=args.metrics,
        efp_jobs=args.efp_jobs,
        progress=True,
        jet_axis=args.jet_axis,
    )
    path = write_metrics(result, args.output)
    console = Console()
    for table in (metrics_table(result), substructure_table(result)):
        if table is not None:
            console.print(table)
    for line in notes(result):
        console.print(f"note: {line}", style="yellow")
    console.print(f"wrote {path} ({result['runtime_s']:.1f} s)")
    return 0
