"""Devices and numerical precision: what this machine can do, tried rather than guessed."""

from __future__ import annotations

import functools
import time
from typing import Literal

import torch

from hepvae.errors import ConfigError

Precision = Literal["auto", "fp32", "bf16", "fp16"]
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks the first CUDA device if there is one, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r}: CUDA is not available on this machine")
    return device


def autocast_works(device: torch.device, precision: str) -> bool:
    """Whether autocast in ``precision`` runs a small forward and backward pass on ``device``."""
    if precision == "fp32":
        return True
    try:
        layer = torch.nn.Linear(64, 64).to(device)
        x = torch.randn(32, 64, device=device)
        with torch.autocast(device_type=device.type, dtype=DTYPES[precision]):
            y = torch.nn.functional.gelu(layer(x)).softmax(-1).sum()
        y.backward()
        return bool(torch.isfinite(y).item()) and layer.weight.grad is not None
    except (RuntimeError, TypeError, AssertionError):
        return False


@functools.cache
def _bf16_faster_on_cpu() -> bool:
    """Time a small MLP in fp32 and in bf16 autocast on the CPU; True if bf16 wins by 20 %."""
    if not autocast_works(torch.device("cpu"), "bf16"):
        return False
    mlp = torch.nn.Sequential(torch.nn.Linear(256, 512), torch.nn.GELU(), torch.nn.Linear(512, 256))
    x = torch.randn(512, 256)

    def timed(ctx) -> float:
        """Best of five timings of ten forward passes (robust against a busy machine)."""
        best = float("inf")
        with torch.no_grad(), ctx:
            mlp(x)
            for _ in range(5):
                start = time.perf_counter()
                for _ in range(10):
                    mlp(x)
                best = min(best, time.perf_counter() - start)
        return best

    fp32 = timed(torch.autocast("cpu", enabled=False))
    bf16 = timed(torch.autocast("cpu", dtype=torch.bfloat16))
    return bf16 < 0.8 * fp32


def choose_precision(requested: str, device: torch.device) -> str:
    """Resolve ``auto`` to fp32, bf16 or fp16 for ``device``; check an explicit choice works.

    ``auto``: bf16 on CUDA GPUs with compute capability >= 8.0, fp16 (with a gradient
    scaler) on older CUDA GPUs, fp32 on the CPU unless bf16 is measured faster there.
    """
    if requested not in ("auto", *DTYPES):
        raise ConfigError(f"precision {requested!r}: choose auto, fp32, bf16 or fp16")
    if requested == "auto":
        if device.type == "cuda":
            major, _ = torch.cuda.get_device_capability(device)
            if major >= 8 and autocast_works(device, "bf16"):
                return "bf16"
            return "fp16" if autocast_works(device, "fp16") else "fp32"
        return "bf16" if _bf16_faster_on_cpu() else "fp32"
    if not autocast_works(device, requested):
        raise ConfigError(f"precision {requested!r} does not work on {device}")
    return requested
