"""Encoder: L-GATr over the particles, MLPs over edges and hyperedges, cross-attention fusion,
mean and max pooling, and the Gaussian posterior (mu, log sigma^2) of the latent.

Inputs are in the jet's canonical frame (see :mod:`hepvae.physics.kinematics`), so the latent
does not depend on the jet's azimuth or rapidity in the lab.
"""

from __future__ import annotations

import torch
from torch import nn

from hepvae.model import features as F
from hepvae.model.backbone import EquivariantTransformer
from hepvae.model.config import ModelConfig
from hepvae.model.fusion import CrossAttentionFusion
from hepvae.model.layers import MLP


class Encoder(nn.Module):
    """Jet -> (mu, logvar) of the latent [B, latent_dim]."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        c = config
        self.config = c
        n_refs = len(c.references)
        self.net = EquivariantTransformer(
            c.encoder.kind,
            in_v=1 + n_refs,
            out_v=0 if c.encoder.kind == "slim" else 1,
            hidden_v=c.encoder.hidden_v,
            in_s=len(F.PARTICLE_FEATURES),
            out_s=c.hidden,
            hidden_s=c.encoder.hidden_s,
            blocks=c.encoder.blocks,
            heads=c.encoder.heads,
            checkpoint=c.gradient_checkpointing,
        )
        self.use_fusion = c.use_edges or c.use_hyperedges
        if c.use_edges:
            self.edge_mlp = MLP(len(F.EDGE_FEATURES), c.edge_dim, c.edge_dim, depth=1)
        if c.use_hyperedges:
            self.hyper_mlp = MLP(len(F.HYPEREDGE_FEATURES), c.edge_dim, c.edge_dim, depth=1)
        if self.use_fusion:
            self.endpoints = nn.Linear(c.hidden, c.edge_dim)
            self.fusion = CrossAttentionFusion(c.hidden, c.edge_dim, c.fusion_heads)
        self.head = MLP(2 * c.hidden + c.label_dim, 2 * c.latent_dim, c.hidden)

    def forward(
        self,
        p4c: torch.Tensor,
        mask: torch.Tensor,
        refs: torch.Tensor,
        particle_feats: torch.Tensor,
        label_emb: torch.Tensor,
        edges: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
        hyperedges: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode one batch.

        p4c [B, N, 4] canonical four-momenta (model units), mask [B, N] bool, refs [R, 4],
        particle_feats [B, N, 6] normalized, label_emb [B, label_dim];
        edges: (features [B, E, 5] normalized, mask [B, E], pairs [B, E, 2]);
        hyperedges: (features [B, H, 4] normalized, mask [B, H], triplets [B, H, 3]).
        """
        b, n, _ = p4c.shape
        vectors = torch.cat([p4c.unsqueeze(2), refs.expand(b, n, -1, -1)], dim=2)
        _, x = self.net(vectors, particle_feats, mask)
        if self.use_fusion:
            x = self.fusion(x, *self._keys(x, edges, hyperedges))
        w = mask.unsqueeze(-1).to(x.dtype)
        mean = (x * w).sum(1) / w.sum(1).clamp_min(1.0)
        top = x.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(1)
        top = torch.where(mask.any(1, keepdim=True), top, torch.zeros_like(top))
        mu, logvar = self.head(torch.cat([mean, top, label_emb], -1)).chunk(2, dim=-1)
        return mu, logvar

    def _keys(self, x, edges, hyperedges):
        """Edge and hyperedge tokens: feature MLP plus the projected states of their particles."""
        ends = self.endpoints(x)
        keys, key_masks = [], []
        if self.config.use_edges:
            feats, edge_mask, pairs = edges
            keys.append(self.edge_mlp(feats) + _gather_sum(ends, pairs))
            key_masks.append(edge_mask)
        if self.config.use_hyperedges:
            feats, hmask, triplets = hyperedges
            keys.append(self.hyper_mlp(feats) + _gather_sum(ends, triplets))
            key_masks.append(hmask)
        return torch.cat(keys, 1), torch.cat(key_masks, 1)


def _gather_sum(values: torch.Tensor, members: torch.Tensor) -> torch.Tensor:
    """Sum of values [B, N, D] over the member slots [B, K, m] of each key -> [B, K, D]."""
    index = members.flatten(1).unsqueeze(-1).expand(-1, -1, values.shape[-1])
    return values.gather(1, index).unflatten(1, members.shape[1:]).sum(2)
