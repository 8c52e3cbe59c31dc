"""Particle decoder: latent and condition broadcast to particle slots, an L-GATr over the
slots, and a gated readout to one massless four-momentum per slot (canonical frame).

Covariance: the only vector inputs are the reference vectors; a scalar-to-vector lift forms each
slot's input vectors as invariant-scalar combinations of the references, and the readout sums
the network's output vectors with invariant-scalar gates plus an "anchor", a positive invariant
multiple of (time + jet_axis) that starts every slot as a massless momentum along the jet axis
(model units, E about 1). All these steps commute with any Lorentz transformation applied to
the references, so the whole map from (scalars, references) to the readout vector is covariant. Putting the constituent on the mass shell (E = |p|, with E and p
taken in the frame of the ``time`` reference) is the one step that is not: it is done after.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from hepvae.model.backbone import EquivariantTransformer
from hepvae.model.config import ModelConfig
from hepvae.model.layers import MLP

#: E = sqrt(|p|^2 + MASS_EPS^2): keeps the gradient finite at p = 0 (model units)
MASS_EPS = 1e-6


class Decoder(nn.Module):
    """(condition [B, C], slot mask [B, N], references [R, 4]) -> readout vectors [B, N, 4]."""

    def __init__(self, config: ModelConfig, cond_dim: int) -> None:
        super().__init__()
        c = config
        n_refs = len(c.references)
        self.n_refs = n_refs
        self.lift_channels = c.lift_channels
        self.cond = MLP(cond_dim, c.hidden, c.hidden)
        self.slots = nn.Parameter(c.slot_init_std * torch.randn(c.n_particles, c.hidden))
        self.lift = nn.Linear(c.hidden, c.lift_channels * n_refs)
        self.net = EquivariantTransformer(
            c.decoder.kind,
            in_v=c.lift_channels + n_refs,
            out_v=c.readout_channels,
            hidden_v=c.decoder.hidden_v,
            in_s=c.hidden,
            out_s=c.hidden,
            hidden_s=c.decoder.hidden_s,
            blocks=c.decoder.blocks,
            heads=c.decoder.heads,
            checkpoint=c.gradient_checkpointing,
        )
        self.gate = nn.Linear(c.hidden, c.readout_channels)
        with torch.no_grad():  # start close to the anchor below
            self.gate.weight.mul_(0.1)
            self.gate.bias.zero_()
        # anchor: an invariant, positive multiple of a massless momentum along the jet axis,
        # (time + jet_axis), so that training starts from jets pointing the right way
        names = list(c.references)
        self.anchor_index = (
            (names.index("time"), names.index("jet_axis"))
            if {"time", "jet_axis"} <= set(names)
            else None
        )
        if self.anchor_index is not None:
            self.anchor = nn.Linear(c.hidden, 1)
            with torch.no_grad():
                self.anchor.weight.mul_(0.1)
                self.anchor.bias.fill_(math.log(math.e - 1.0))  # softplus(bias) = 1

    def vectors(self, cond: torch.Tensor, mask: torch.Tensor, refs: torch.Tensor) -> torch.Tensor:
        """The covariant part: readout four-vectors [B, N, 4] (before the mass shell)."""
        b, n = mask.shape
        s = self.cond(cond).unsqueeze(1) + self.slots[:n]
        coeff = self.lift(s).unflatten(-1, (self.lift_channels, self.n_refs))
        lifted = coeff @ refs
        vectors = torch.cat([lifted, refs.expand(b, n, -1, -1)], dim=2)
        out_v, out_s = self.net(vectors, s, mask)
        v = (self.gate(out_s).unsqueeze(-1) * out_v).sum(2)
        if self.anchor_index is not None:
            axis = refs[self.anchor_index[0]] + refs[self.anchor_index[1]]
            v = v + torch.nn.functional.softplus(self.anchor(out_s)) * axis
        return v

    def forward(self, cond: torch.Tensor, mask: torch.Tensor, refs: torch.Tensor) -> torch.Tensor:
        """Massless constituents [B, N, 4] in the canonical frame (model units)."""
        return on_mass_shell(self.vectors(cond, mask, refs))


def on_mass_shell(v: torch.Tensor) -> torch.Tensor:
    """(|p|, px, py, pz) from (E, px, py, pz): a massless particle with the same momentum."""
    p = v[..., 1:]
    # eps before the trailing unit axis: onnxruntime adds a scalar to [.., 1] slowly
    e = torch.sqrt((p * p).sum(-1) + MASS_EPS**2)
    return torch.cat([e.unsqueeze(-1), p], dim=-1)
