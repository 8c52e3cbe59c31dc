"""Two CPU processes on the gloo backend under torchrun keep identical weights."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

from hepvae.train.checkpoint import Checkpoint

WORKER = Path(__file__).with_name("ddp_worker.py")


def test_two_process_ddp_keeps_ranks_in_step(tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--standalone", str(WORKER), str(tmp_path)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert ranks[0]["world"] == 2
    # 96 jets over 2 processes with batches of 16: 3 steps per epoch, 2 epochs
    assert ranks[0]["steps"] == ranks[1]["steps"] == 6
    a, b = ranks[0]["state"], ranks[1]["state"]
    for name in a:
        assert torch.equal(a[name], b[name]), name
    last = Checkpoint.load(tmp_path / "last.pt")
    assert torch.equal(last.model["decoder.slots"], a["decoder.slots"])
    assert last.step == 6
