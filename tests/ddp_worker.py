"""Run by test_ddp under torchrun: a tiny DDP training run; each rank saves its weights."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hepvae.model import compute_normalization  # noqa: E402
from hepvae.train import distributed as D  # noqa: E402
from hepvae.train.loop import Trainer  # noqa: E402
from tests.train_helpers import tiny_config, tiny_data  # noqa: E402


def main(out: str) -> None:
    torch.set_num_threads(1)
    config = tiny_config(epochs=2, time_limit_minutes=30.0)  # the plan is agreed across ranks
    data, val = tiny_data(96, seed=0), tiny_data(32, seed=1)
    norm = compute_normalization(data.p4, data.mask, data.label, config.model)
    info = D.init("cpu")
    try:
        trainer = Trainer(config, data, val, norm, out, info=info)
        result = trainer.fit()
        rank = int(os.environ["RANK"])
        torch.save(
            {"state": trainer.model.state_dict(), "steps": result.steps, "world": info.world},
            Path(out) / f"rank{rank}.pt",
        )
    finally:
        D.shutdown(info)


if __name__ == "__main__":
    main(sys.argv[1])
