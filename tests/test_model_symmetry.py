"""Symmetry claims of hepvae.model, checked numerically in float64."""

from __future__ import annotations

import math

import pytest
import torch

from hepvae.physics.kinematics import (
    boost_z,
    invariant_mass,
    minkowski,
    random_lorentz,
    rotate_z,
    to_canonical,
)
from tests.model_helpers import dense_jets, small_model

REL = 1e-6


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))


@pytest.fixture(scope="module")
def model64():
    return small_model(seed=1).double().eval()


@pytest.fixture(scope="module")
def batch64():
    return dense_jets(16, seed=3)


def test_random_lorentz_preserves_metric():
    lam = random_lorentz(torch.Generator().manual_seed(0))
    metric = torch.diag(torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=torch.float64))
    assert torch.allclose(lam.T @ metric @ lam, metric, atol=1e-12)


@pytest.mark.parametrize("angle,rapidity", [(0.7, 0.0), (0.0, 1.3), (-2.9, -0.8)])
def test_latent_invariant_under_beam_rotation_and_longitudinal_boost(
    model64, batch64, angle, rapidity
):
    p4, mask, label = batch64
    moved = boost_z(
        rotate_z(p4, torch.tensor(angle, dtype=p4.dtype)), torch.tensor(rapidity, dtype=p4.dtype)
    )
    moved = moved * mask.unsqueeze(-1)
    mu, logvar = model64.encode(p4, mask, label)
    mu2, logvar2 = model64.encode(moved, mask, label)
    assert _rel(mu2, mu) < REL
    assert _rel(logvar2, logvar) < REL


def test_latent_changes_under_a_transverse_boost(model64, batch64):
    """The claim is specific: a boost along x is not a symmetry of the latent."""
    p4, mask, label = batch64
    lam = torch.eye(4, dtype=p4.dtype)
    lam[0, 0] = lam[1, 1] = math.cosh(0.5)
    lam[0, 1] = lam[1, 0] = math.sinh(0.5)
    mu, _ = model64.encode(p4, mask, label)
    mu2, _ = model64.encode(p4 @ lam.T, mask, label)
    assert _rel(mu2, mu) > 1e-3


def test_latent_invariant_under_permutations_and_padding(model64, batch64):
    p4, mask, label = batch64
    perm = torch.randperm(p4.shape[1], generator=torch.Generator().manual_seed(5))
    mu, _ = model64.encode(p4, mask, label)
    mu2, _ = model64.encode(p4[:, perm], mask[:, perm], label)
    assert _rel(mu2, mu) < REL
    junk = p4 + 50.0 * (~mask).unsqueeze(-1)  # values in padded slots are ignored
    mu3, _ = model64.encode(junk, mask, label)
    assert _rel(mu3, mu) < REL


def test_canonical_frame_is_a_lorentz_transformation(batch64):
    p4, mask, _ = batch64
    jet = (p4 * mask.unsqueeze(-1)).sum(1)
    p4c = to_canonical(p4, jet)
    assert torch.allclose(minkowski(p4c, p4c), minkowski(p4, p4), atol=1e-6)
    jet_c = to_canonical(jet.unsqueeze(1), jet)[:, 0]
    assert torch.allclose(jet_c[:, 2:], torch.zeros_like(jet_c[:, 2:]), atol=1e-8)
    assert torch.allclose(invariant_mass(jet_c), invariant_mass(jet))


def _transform_refs(lam, refs):
    return refs @ lam.T


@pytest.mark.parametrize("seed", [0, 1])
def test_decoder_network_is_lorentz_covariant(model64, seed):
    """Decoder lift + L-GATr + gated readout: v(Lambda refs) = Lambda v(refs)."""
    gen = torch.Generator().manual_seed(seed)
    lam = random_lorentz(gen)
    b, n = 3, model64.config.n_particles
    cond_dim = model64.decoder.cond[0].in_features
    cond = torch.randn(b, cond_dim, generator=gen, dtype=torch.float64)
    mask = torch.arange(n)[None, :] < torch.tensor([[n], [5], [1]])
    refs = model64.references(cond)
    out = model64.decoder.vectors(cond, mask, refs)
    out2 = model64.decoder.vectors(cond, mask, _transform_refs(lam, refs))
    assert _rel(out2[mask], (out @ lam.T)[mask]) < REL
    assert out[mask].abs().max() > 1e-3  # not trivially zero


@pytest.mark.parametrize("seed", [0, 1])
def test_encoder_network_is_lorentz_covariant(model64, batch64, seed):
    """The encoder's L-GATr: scalar outputs invariant when particles and references move."""
    gen = torch.Generator().manual_seed(seed)
    lam = random_lorentz(gen)
    p4, mask, _ = batch64
    p4 = p4 / model64.p4_scale
    refs = model64.references(p4)
    b, n, _ = p4.shape
    scalars = torch.randn(b, n, model64.encoder.net.net.linear_in.linear_s.in_features,
                          generator=gen, dtype=torch.float64)  # fmt: skip

    def run(vecs, refs):
        vectors = torch.cat([vecs.unsqueeze(2), refs.expand(b, n, -1, -1)], dim=2)
        return model64.encoder.net(vectors, scalars, mask)[1]

    assert _rel(run(p4 @ lam.T, refs @ lam.T)[mask], run(p4, refs)[mask]) < REL


def test_generated_constituents_are_massless_with_positive_pt(model64):
    p4, mask, jet = model64.sample(32, 2, 1.0, torch.Generator().manual_seed(0))
    real = p4[mask]
    assert len(real) > 0
    e, p = real[:, 0], real[:, 1:].norm(dim=-1)
    assert torch.allclose(e, p, rtol=1e-9, atol=1e-4)
    assert (real[:, 1:3].norm(dim=-1) > 0).all()
    assert (p4[~mask] == 0).all()
