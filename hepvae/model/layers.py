"""Small generic layers: an MLP and a residual feed-forward block."""

from __future__ import annotations

import torch
from torch import nn


class MLP(nn.Sequential):
    """Linear -> SiLU -> ... -> Linear with ``depth`` hidden layers of width ``hidden``."""

    def __init__(self, d_in: int, d_out: int, hidden: int, depth: int = 2) -> None:
        dims = [d_in] + [hidden] * depth
        layers: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(a, b), nn.SiLU()]
        layers.append(nn.Linear(dims[-1], d_out))
        super().__init__(*layers)


class FeedForward(nn.Module):
    """Pre-norm residual MLP block: x + MLP(LayerNorm(x))."""

    def __init__(self, dim: int, ratio: int = 2) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.mlp = MLP(dim, dim, ratio * dim, depth=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mlp(self.norm(x))
