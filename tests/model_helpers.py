"""Small dense jet batches and models for the model and training tests."""

from __future__ import annotations

import awkward as ak
import torch

from hepvae.model import HyperVAE, LossConfig, ModelConfig, NetConfig, compute_normalization
from tests.conftest import random_jets


def dense_jets(n: int = 64, seed: int = 0, n_particles: int = 12, label: int = 2):
    """(p4 [n, N, 4] GeV, mask [n, N], label [n]) from ``random_jets`` (float64)."""
    jets = random_jets(n, seed=seed, label=label, max_particles=n_particles)

    def pad(a):
        return torch.tensor(ak.to_numpy(ak.fill_none(ak.pad_none(a, n_particles, clip=True), 0.0)))

    pt, eta, phi = pad(jets.Part.pt), pad(jets.Part.eta), pad(jets.Part.phi)
    mask = pt > 0
    p4 = torch.stack(
        [pt * torch.cosh(eta), pt * torch.cos(phi), pt * torch.sin(phi), pt * torch.sinh(eta)], -1
    )
    p4 = p4 * mask.unsqueeze(-1)
    labels = torch.tensor(ak.to_numpy(jets.Jet.label), dtype=torch.long)
    return p4, mask, labels


def small_config(n_particles: int = 12, **kw) -> ModelConfig:
    net = NetConfig(hidden_v=4, hidden_s=16, blocks=1, heads=2)
    base = dict(
        n_particles=n_particles,
        latent_dim=8,
        label_dim=4,
        hidden=16,
        encoder=net,
        decoder=net,
        max_hyperedges=16,
        edge_dim=8,
        fusion_heads=2,
        lift_channels=4,
        readout_channels=2,
    )
    base.update(kw)
    return ModelConfig(**base)


def small_model(seed: int = 0, n_particles: int = 12, loss: LossConfig | None = None, **kw):
    p4, mask, label = dense_jets(128, seed=seed + 100, n_particles=n_particles)
    norm = compute_normalization(p4, mask, label, 5, kw.get("max_hyperedges", 16))
    torch.manual_seed(seed)
    return HyperVAE(small_config(n_particles, **kw), norm, loss)
