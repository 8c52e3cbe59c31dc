"""``hepvae train``: train the HyperVAE from a config (default data when none is given)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train the HyperVAE",
        description="Train the HyperVAE. Without --config the built-in defaults (equal to "
        "configs/default.yaml) are used; without data files the default data set is simulated "
        "once and cached in $HEPVAE_CACHE or ~/.cache/hepvae. Run under torchrun for several "
        "processes or GPUs.",
    )
    p.add_argument("--config", help="YAML config (e.g. configs/default.yaml)")
    p.add_argument("--data", nargs="+", metavar="FILE", help="ROOT files in the hepvae schema")
    p.add_argument("--resume", metavar="CKPT", help="continue from this checkpoint")
    p.add_argument(
        "--save-dir",
        help="checkpoint folder (default: the folder of the --resume checkpoint, else runs/hepvae)",
    )
    p.add_argument("--log-dir", help="TensorBoard folder (default: SAVE_DIR/logs)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import os

    # Idle OpenMP threads sleep instead of spinning: on a CPU shared with other work, spinning
    # threads that wait for a descheduled partner made training steps several times slower.
    # Must be set before torch starts its thread pool; an explicit user setting wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

    from rich.console import Console

    from hepvae.train.checkpoint import Checkpoint
    from hepvae.train.config import load_train_config
    from hepvae.train.run import train

    resume = Checkpoint.load(args.resume) if args.resume is not None else None
    if args.config is None and resume is not None:
        config = resume.training_config()
    else:
        config = load_train_config(args.config)
    if args.data:
        config = dataclasses.replace(
            config, data=dataclasses.replace(config.data, files=list(args.data))
        )
    result = train(config, args.save_dir, args.log_dir, resume)
    if int(os.environ.get("RANK", "0")) == 0:
        console = Console()
        console.print(
            f"trained {result.steps} steps ({result.epochs} epochs) in {result.seconds:.0f} s, "
            f"{result.jets_per_second:.0f} jets/s; skipped batches: {result.bad_steps}"
        )
        console.print(f"last checkpoint: {result.last}")
        if result.best is not None:
            what = {"loss": "validation loss", "substructure": "substructure score"}
            criterion = what[config.train.select_by]
            console.print(f"best checkpoint: {result.best} ({criterion} {result.best_val:.4g})")
    return 0
