"""The sampling graph that ``hepvae generate`` runs in torch and ``hepvae export`` writes to ONNX.

Inputs
    ``noise`` float32 [B, noise_dim]: standard normals. Columns ``[0, latent_dim)`` are the
    latent (scaled by the temperature inside the graph); the next four become uniforms that
    drive the prior component, the multiplicity, the jet rapidity and the jet azimuth; the
    next five feed the rest head (full jet and multiplicity before truncation), and for models
    with ``orient`` the last two give the turn about the jet axis and its reflection (see
    :mod:`hepvae.model.sampler`).
    ``label`` int64 [B]: JetNet coding (g=0, q=1, t=2, w=3, z=4).
    ``temperature`` float32 [B] or [1]: scales the prior's spread (> 0).

Outputs
    ``p4`` float32 [B, N, 4]: constituents (E, px, py, pz) in GeV, sorted by descending pT,
    the real ones first; empty slots are zero.
    ``mask`` bool [B, N]: slot i is real when i < multiplicity.
    ``multiplicity`` int64 [B]: number of constituents.
    ``jet`` float32 [B, 4]: (pt [GeV], eta, phi, mass [GeV]) of the full jet (the
    constituents and what lies beyond the N slots), as ``Jet_*`` in the files.
    ``nparticles`` int64 [B]: multiplicity before truncation (``Jet_nparticles``), at least
    ``multiplicity``.

Everything is a plain tensor operation, so torch and onnxruntime give the same numbers for the
same inputs; all randomness comes in through ``noise``.
"""

from __future__ import annotations

import torch
from torch import nn

from hepvae.physics.kinematics import pt_of

INPUTS = ("noise", "label", "temperature")
OUTPUTS = ("p4", "mask", "multiplicity", "jet", "nparticles")
P4_FIELDS = ("E", "px", "py", "pz")
JET_FIELDS = ("pt", "eta", "phi", "mass")


class SamplerGraph(nn.Module):
    """Wraps the model's pure-tensor sampler: temperature broadcast, pT ordering."""

    def __init__(self, vae: nn.Module) -> None:
        super().__init__()
        from hepvae.model.sampler import JetSampler

        self.sampler = JetSampler(vae)
        self.noise_dim = JetSampler.noise_dim(vae)
        self.latent_dim = vae.config.latent_dim
        self.max_particles = vae.config.n_particles

    def forward(
        self, noise: torch.Tensor, label: torch.Tensor, temperature: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        batch = noise.shape[0]
        temp = temperature.reshape(-1)
        # [1] or [B] -> [B] without a data-dependent branch (exports with a free length)
        length = torch.ones_like(temp, dtype=torch.long).sum()
        temp = temp[torch.remainder(torch.arange(batch, device=noise.device), length)]
        p4, mask, jet, nparticles = self.sampler(noise, label, temp)
        pt = pt_of(p4)
        key = torch.where(mask, pt, torch.full_like(pt, -1.0))
        order = torch.sort(key, dim=1, descending=True).indices
        # whole rows of the flattened [B N, 4] by one index per row (GatherND in the export):
        # an index expanded over the four components (GatherElements) is several times slower
        first = torch.arange(batch, device=noise.device).unsqueeze(-1) * order.shape[1]
        p4 = p4.reshape(-1, 4)[order + first]
        multiplicity = mask.sum(1).to(torch.long)
        slots = torch.arange(mask.shape[1], device=noise.device)
        mask = slots.unsqueeze(0) < multiplicity.unsqueeze(-1)
        return p4, mask, multiplicity, jet, nparticles
