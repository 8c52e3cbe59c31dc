"""``hepvae convert INPUT... -o OUT.root``: JetNet HDF5 or external ROOT files to the schema."""

from __future__ import annotations

import argparse

from hepvae.commands import positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert",
        help="convert JetNet HDF5 or external ROOT files to the hepvae schema",
        description=(
            "Convert JetNet HDF5 files (class from the file name, e.g. t.hdf5, g150.hdf5, or "
            "--type; jet phi set to 0) or ROOT files read through a branch map into one ROOT "
            "file in the hepvae schema. Constituents are sorted by descending pT."
        ),
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="JetNet .h5/.hdf5 or .root files")
    p.add_argument("-o", "--output", required=True, metavar="OUT.root", help="output ROOT file")
    p.add_argument(
        "--format",
        choices=("jetnet", "root"),
        help="input format (default: from the extension, .h5/.hdf5 jetnet, .root root)",
    )
    p.add_argument("--branch-map", metavar="MAP.yaml", help="branch map for ROOT input")
    p.add_argument(
        "--type",
        dest="jet_type",
        metavar="{g,q,t,w,z}",
        help="jet type for all jets (overrides the file name or the branch map)",
    )
    p.add_argument(
        "--particles",
        type=positive_int,
        metavar="N",
        help="keep the leading N constituents by pT (the full multiplicity is stored too)",
    )
    p.add_argument(
        "--drop-empty",
        action="store_true",
        help="skip jets without constituents instead of failing (they are counted)",
    )
    p.set_defaults(
        func=run, parameter_options={"jet_type": "--type", "fmt": "--format", "inputs": "INPUT"}
    )


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from hepvae.data.convert import convert

    path, report = convert(
        args.inputs,
        args.output,
        fmt=args.format,
        branch_map=args.branch_map,
        jet_type=args.jet_type,
        particles=args.particles,
        drop_empty=args.drop_empty,
        progress=True,
    )
    notes = []
    if report.dropped_empty:
        notes.append(f"skipped {report.dropped_empty} jets without constituents")
    if report.truncated:
        notes.append(f"truncated {report.truncated} jets to {args.particles} constituents")
    extra = f" ({'; '.join(notes)})" if notes else ""
    Console().print(f"wrote {report.jets} jets to {path}{extra}")
    return 0
