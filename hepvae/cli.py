"""The ``hepvae`` command: one subcommand per stage, each defined in ``hepvae.commands``.

The CLI only parses arguments and calls the library. Errors the user can fix
(:class:`hepvae.HepvaeError`) print one line and exit with status 2; ``--debug`` shows the
traceback instead. Library errors that name parameters (:class:`hepvae.errors.ParameterError`)
are shown with the options that set them: ``batch_size`` is ``--batch-size`` unless the
command maps it otherwise with ``set_defaults(parameter_options={"n_jets": "--n"})``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from hepvae import __version__
from hepvae.errors import HepvaeError, ParameterError

#: subcommand modules in ``hepvae.commands``, in the order of the data flow
COMMANDS = (
    "simulate",
    "convert",
    "inspect",
    "graphs",
    "train",
    "generate",
    "export",
    "evaluate",
    "analyze",
    "doctor",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hepvae",
        description="Lorentz-equivariant hypergraph VAE for jet generation.",
    )
    parser.add_argument("--version", action="version", version=f"hepvae {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"hepvae.commands.{name}").register(sub)
    return parser


def error_message(exc: HepvaeError, args: argparse.Namespace) -> str:
    """The one-line message of ``exc``, with parameters shown as the command's options."""
    if not isinstance(exc, ParameterError):
        return str(exc)
    options = getattr(args, "parameter_options", {})
    return exc.named(lambda name: options.get(name, "--" + name.replace("_", "-")))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except HepvaeError as exc:
        if args.debug:
            raise
        print(f"hepvae {args.command}: error: {error_message(exc, args)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"hepvae {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
