"""``hepvae export``: write a trained model's sampler as one self-contained ONNX file."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export the generator to ONNX",
        description=(
            "Export the sampler of a HyperVAE checkpoint (noise, label, temperature -> "
            "constituents in GeV, mask, multiplicity, jet features) to one ONNX file with a "
            "dynamic batch size and its description in the metadata. OUTPUT is a folder "
            "(the file is OUTPUT/sampler.onnx) or a path ending in .onnx. The export checks "
            "onnxruntime against torch before the file appears."
        ),
    )
    p.add_argument("--checkpoint", required=True, metavar="CKPT", help="model checkpoint")
    p.add_argument("-o", "--output", required=True, metavar="OUTPUT", help="folder or .onnx path")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from hepvae.export.onnx_export import export_checkpoint

    path = export_checkpoint(args.checkpoint, args.output)
    size = path.stat().st_size / 1e6
    Console().print(f"wrote {path} ({size:.1f} MB)")
    return 0
