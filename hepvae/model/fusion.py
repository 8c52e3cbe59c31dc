"""Cross-attention fusion: particles attend to the edges and hyperedges of their jet.

Each particle token is a query; the keys are every pair edge and hyperedge token of the same jet
plus one learned null token (so a jet with fewer than two particles still has a key). Padded
edges and hyperedges are masked out. Edge and hyperedge tokens carry their features and the
(projected) states of the particles they join, so a particle can single out its own
neighbourhood by content while it sees the whole jet.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hepvae.model.layers import FeedForward


class CrossAttentionFusion(nn.Module):
    """Particles [B, N, dim] attend to keys [B, K, key_dim]; returns updated particles."""

    def __init__(self, dim: int, key_dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"fusion width {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.norm_q = nn.LayerNorm(dim)
        self.norm_k = nn.LayerNorm(key_dim)
        self.query = nn.Linear(dim, dim)
        self.key_value = nn.Linear(key_dim, 2 * dim)
        self.out = nn.Linear(dim, dim)
        self.null_key = nn.Parameter(torch.zeros(1, 1, key_dim))
        self.ff = FeedForward(dim)

    def forward(self, x: torch.Tensor, keys: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
        """x [B, N, dim], keys [B, K, key_dim], key_mask [B, K] bool -> [B, N, dim]."""
        b, n, dim = x.shape
        keys = torch.cat([self.null_key.expand(b, -1, -1), keys], dim=1)
        key_mask = torch.cat([key_mask.new_ones(b, 1), key_mask], dim=1)

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.unflatten(-1, (self.heads, -1)).transpose(1, 2)

        q = heads(self.query(self.norm_q(x)))
        k, v = self.key_value(self.norm_k(keys)).chunk(2, dim=-1)
        attended = F.scaled_dot_product_attention(
            q, heads(k), heads(v), attn_mask=key_mask[:, None, None, :]
        )
        x = x + self.out(attended.transpose(1, 2).reshape(b, n, dim))
        return self.ff(x)
