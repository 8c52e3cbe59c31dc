"""``hepvae simulate``: Pythia 8 + FastJet jets of one class into a ROOT file.

hepvae simulate --type t --n 5000 --particles 30 --seed 0 -o top.root
"""

from __future__ import annotations

import argparse

from hepvae.commands import positive_int

JET_TYPES = ("g", "q", "t", "w", "z")  # kept here so that --help needs no heavy imports


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "simulate",
        help="simulate JetNet-like jets with Pythia 8 and FastJet into a ROOT file",
        description=(
            "Simulate jets of one class (pp at 13 TeV, anti-kT R=0.8, 0.8 < pT < 1.6 TeV, "
            "|eta| < 2.5) and write them in the hepvae ROOT schema. The jets depend only on "
            "--type, --n, --particles and --seed, not on --workers."
        ),
    )
    p.add_argument(
        "--type",
        dest="jet_type",
        required=True,
        metavar="{" + ",".join(JET_TYPES) + "}",
        help="jet class: gluon, light quark, top, W or Z",
    )
    p.add_argument(
        "--n", dest="n_jets", type=int, required=True, metavar="N", help="number of jets"
    )
    p.add_argument(
        "--particles",
        type=int,
        default=30,
        metavar="{30,150}",
        help="constituents kept per jet, leading by pT (default 30)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed, >= 0 (default 0)")
    p.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="worker processes (default: all cores); does not change the jets",
    )
    p.add_argument(
        "-o",
        "--output",
        default=None,
        help="output ROOT file (default: jets_<type>_n<N>_p<particles>_seed<S>.root)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(
        func=run,
        parameter_options={"jet_type": "--type", "n_jets": "--n", "n_particles": "--particles"},
    )


def _check(args: argparse.Namespace) -> None:
    """The command's own rule (JetNet's particle counts); the library checks the rest."""
    from hepvae.errors import HepvaeError

    if args.particles not in (30, 150):
        raise HepvaeError(f"--particles: must be 30 or 150, got {args.particles}")


def run(args: argparse.Namespace) -> int:
    import time

    from hepvae.data.simulate import simulate_to_file

    _check(args)
    output = args.output or (
        f"jets_{args.jet_type}_n{args.n_jets}_p{args.particles}_seed{args.seed}.root"
    )
    start = time.perf_counter()
    path = simulate_to_file(
        output,
        args.jet_type,
        args.n_jets,
        n_particles=args.particles,
        seed=args.seed,
        workers=args.workers,
        progress=not args.quiet,
    )
    seconds = time.perf_counter() - start
    print(
        f"wrote {args.n_jets} {args.jet_type} jets ({args.particles} particles) to {path} "
        f"in {seconds:.1f} s ({args.n_jets / seconds:.0f} jets/s)"
    )
    return 0
