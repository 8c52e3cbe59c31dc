"""``hepvae inspect FILE...``: summarize schema files; non-zero exit if one breaks the schema."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="summarize jet ROOT files and check their schema")
    p.add_argument("files", nargs="+", help="ROOT files in the hepvae schema")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from hepvae.data.inspect import summarize

    console = Console()
    for path in args.files:
        console.print(summarize(path))
    return 0
