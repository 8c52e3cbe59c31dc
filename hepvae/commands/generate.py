"""``hepvae generate``: sample jets from a trained model into ROOT files of the hepvae schema."""

from __future__ import annotations

import argparse

from hepvae.commands import add_dask_options, positive_float, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate",
        help="generate jets with a trained model into ROOT files",
        description=(
            "Sample jets from a HyperVAE checkpoint and write them in the hepvae ROOT schema "
            "(GeV, constituents sorted by pT, jet = sum of constituents). The same seed gives "
            "the same jets for any batch size, shard count or cluster. With --shards K > 1 "
            "the files are OUT_0.root .. OUT_<K-1>.root (index zero-padded to the width of "
            "K-1)."
        ),
    )
    p.add_argument("--checkpoint", required=True, metavar="CKPT", help="model checkpoint")
    p.add_argument("--n", required=True, type=positive_int, help="number of jets")
    p.add_argument(
        "--jet-type",
        required=True,
        metavar="{g,q,t,w,z,all}",
        help="jet type; all = the classes the model was trained on, in equal shares",
    )
    p.add_argument(
        "--temperature",
        type=positive_float,
        default=1.0,
        metavar="T",
        help="scale of the prior's spread (default 1)",
    )
    p.add_argument("--batch-size", type=positive_int, default=1024, metavar="B")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="default cpu")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    p.add_argument("--shards", type=positive_int, default=1, metavar="K", help="output files")
    add_dask_options(p, "the shards", metavar="W")
    p.add_argument("-o", "--output", required=True, metavar="OUT.root", help="output file")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from hepvae.generate import generate

    paths = generate(
        args.checkpoint,
        args.output,
        n=args.n,
        jet_type=args.jet_type,
        temperature=args.temperature,
        batch_size=args.batch_size,
        device=args.device,
        seed=args.seed,
        shards=args.shards,
        scheduler=args.scheduler,
        local_cluster=args.local_cluster,
        progress=not args.no_progress,
    )
    where = str(paths[0]) if len(paths) == 1 else f"{len(paths)} files {paths[0]} .. {paths[-1]}"
    Console().print(f"wrote {args.n} jets to {where}")
    return 0
