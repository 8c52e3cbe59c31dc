"""Symmetry claims of hepvae.model, checked numerically in float64."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from hepvae.model import NetConfig
from hepvae.model.backbone import EquivariantTransformer
from hepvae.physics.kinematics import (
    azimuth,
    boost_z,
    from_canonical,
    invariant_mass,
    minkowski,
    random_lorentz,
    rapidity,
    reflect_y,
    rotate_x,
    rotate_z,
    to_canonical,
)
from tests.model_helpers import dense_jets, small_model

REL = 1e-6


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))


@pytest.fixture(scope="module", params=["slim", "full"])
def model64(request):
    """The tiny model in float64 with ``LGATrSlim`` or the full multivector ``LGATr``."""
    net = NetConfig(kind=request.param, hidden_v=4, hidden_s=16, blocks=1, heads=2)
    return small_model(seed=1, encoder=net, decoder=net).double().eval()


@pytest.fixture(scope="module")
def batch64():
    return dense_jets(16, seed=3)


def _lorentz(seed: int) -> torch.Tensor:
    return random_lorentz(torch.Generator().manual_seed(seed))


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


def _turned_about_jet_axis(p4, mask, angle: float, sign: float, jet=None) -> torch.Tensor:
    """Jets turned by ``angle`` about their own axis (and reflected if ``sign`` < 0): exact
    Lorentz transformations that keep each jet's four-momentum but move its constituents.
    ``jet`` [B, 4]: turn about this axis instead (default: the constituents' sum)."""
    if jet is None:
        jet = (p4 * mask.unsqueeze(-1)).sum(1)
    p4c = to_canonical(p4, jet)
    turned = reflect_y(rotate_x(p4c, torch.tensor(angle, dtype=p4.dtype)), torch.tensor(sign))
    return from_canonical(turned, rapidity(jet), azimuth(jet)) * mask.unsqueeze(-1)


@pytest.mark.parametrize("angle,sign", [(0.9, 1.0), (-2.3, -1.0)])
def test_oriented_latent_is_invariant_under_turns_about_the_jet_axis(model64, batch64, angle, sign):
    """With ``orient`` (the default) the frame fixes each jet's turn and reflection about its
    axis, so the latent does not see them; without it, it does."""
    p4, mask, label = batch64
    several = mask.sum(1) > 2  # two-constituent jets have no defined reflection
    p4, mask, label = p4[several], mask[several], label[several]
    moved = _turned_about_jet_axis(p4, mask, angle, sign)
    assert model64.config.orient
    assert _rel(model64.encode(moved, mask, label)[0], model64.encode(p4, mask, label)[0]) < REL
    with torch.random.fork_rng():  # leave the global generator as the other tests expect it
        plain = small_model(seed=1, orient=False).double().eval()
    assert _rel(plain.encode(moved, mask, label)[0], plain.encode(p4, mask, label)[0]) > 1e-3


def test_oriented_reconstruction_turns_with_its_input(model64, batch64):
    """Reconstruction undoes the input's own orientation exactly: turning the input about its
    axis turns the reconstructed jet by the same Lorentz transformation."""
    p4, mask, label = batch64
    several = mask.sum(1) > 2
    p4, mask, label = p4[several], mask[several], label[several]
    jet = (p4 * mask.unsqueeze(-1)).sum(1)
    rec, rmask = model64.reconstruct(p4, mask, label, true_multiplicity=True)
    moved = _turned_about_jet_axis(p4, mask, 0.9, -1.0)
    rec2, rmask2 = model64.reconstruct(moved, mask, label, true_multiplicity=True)
    assert torch.equal(rmask2, rmask)
    expected = _turned_about_jet_axis(rec, rmask, 0.9, -1.0, jet=jet)
    assert _rel(rec2, expected) < REL
    assert _rel(rec2, rec) > 1e-4  # the (narrow, untrained) decoded jets did move


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


@pytest.mark.parametrize("kind", ["slim", "full"])
def test_lgatr_backbone_is_covariant_and_uses_its_vector_inputs(kind):
    """v(Lambda x) = Lambda v(x), s(Lambda x) = s(x); another Lambda does not fit, and moving one
    particle's vector changes the outputs of the others (through attention)."""
    gen = torch.Generator().manual_seed(7)
    torch.manual_seed(7)  # weights independent of the tests that ran before
    net = EquivariantTransformer(kind, in_v=3, out_v=2, hidden_v=4, in_s=5, out_s=6,
                                 hidden_s=16, blocks=1, heads=2).double()  # fmt: skip
    b, n = 2, 6
    vectors = torch.randn(b, n, 3, 4, generator=gen, dtype=torch.float64)
    scalars = torch.randn(b, n, 5, generator=gen, dtype=torch.float64)
    mask = torch.arange(n)[None, :] < torch.tensor([[n], [4]])
    lam, other = _lorentz(0), _lorentz(1)
    v, s = net(vectors, scalars, mask)
    v2, s2 = net(vectors @ lam.T, scalars, mask)
    assert _rel(v2[mask], (v @ lam.T)[mask]) < REL
    assert _rel(s2[mask], s[mask]) < REL
    assert _rel(v2[mask], (v @ other.T)[mask]) > 1e-2
    moved = vectors.clone()
    moved[:, 0, 0] = moved[:, 0, 0] @ lam.T  # particle 0's first vector only
    v3, s3 = net(moved, scalars, mask)
    assert _rel(v3[:, 1:][mask[:, 1:]], v[:, 1:][mask[:, 1:]]) > 1e-3
    assert _rel(s3[:, 1:][mask[:, 1:]], s[:, 1:][mask[:, 1:]]) > 1e-3


def _decoder_inputs(model, seed: int):
    gen = torch.Generator().manual_seed(seed)
    b, n = 3, model.config.n_particles
    cond = torch.randn(b, model.decoder.cond[0].in_features, generator=gen, dtype=torch.float64)
    mask = torch.arange(n)[None, :] < torch.tensor([[n], [5], [1]])
    return cond, mask, model.references(cond)


@pytest.mark.parametrize("seed", [0, 1])
def test_decoder_network_is_lorentz_covariant(model64, seed):
    """Decoder lift + L-GATr + gated readout: v(Lambda refs) = Lambda v(refs), and not
    Lambda' v(refs) for another Lambda'."""
    lam, other = _lorentz(seed), _lorentz(seed + 10)
    cond, mask, refs = _decoder_inputs(model64, seed)
    out = model64.decoder.vectors(cond, mask, refs)
    out2 = model64.decoder.vectors(cond, mask, refs @ lam.T)
    assert _rel(out2[mask], (out @ lam.T)[mask]) < REL
    assert _rel(out2[mask], (out @ other.T)[mask]) > 1e-2
    assert out[mask].abs().max() > 1e-3  # not trivially zero


def test_decoder_readout_is_more_than_its_anchor(model64):
    """The anchor term alone (an invariant multiple of time + jet axis) is covariant: the gated
    L-GATr readout must be covariant on its own and contribute off the anchor's direction."""
    cond, mask, refs = _decoder_inputs(model64, 3)
    gated = copy.deepcopy(model64.decoder)
    gated.anchor_index = None  # the network's gated vector outputs only
    lam = _lorentz(3)
    out, out2 = gated.vectors(cond, mask, refs), gated.vectors(cond, mask, refs @ lam.T)
    assert _rel(out2[mask], (out @ lam.T)[mask]) < REL
    assert out[mask].abs().max() > 1e-4
    full = model64.decoder.vectors(cond, mask, refs)[mask]
    axis = refs[model64.decoder.anchor_index[0]] + refs[model64.decoder.anchor_index[1]]
    along = (full @ axis)[:, None] / (axis @ axis) * axis  # Euclidean projection on the axis
    assert (full - along).abs().max() > 1e-4 * full.abs().max()


@pytest.mark.parametrize("seed", [0, 1])
def test_encoder_network_is_lorentz_covariant(model64, batch64, seed):
    """The encoder's L-GATr: scalar outputs invariant when particles and references move."""
    gen = torch.Generator().manual_seed(seed)
    lam = random_lorentz(gen)
    p4, mask, _ = batch64
    p4 = p4 / model64.p4_scale
    refs = model64.references(p4)
    b, n, _ = p4.shape
    n_s = model64.prepare(*batch64).particle_feats.shape[-1]
    scalars = torch.randn(b, n, n_s, generator=gen, dtype=torch.float64)

    def run(vecs, refs):
        vectors = torch.cat([vecs.unsqueeze(2), refs.expand(b, n, -1, -1)], dim=2)
        return model64.encoder.net(vectors, scalars, mask)[1]

    assert _rel(run(p4 @ lam.T, refs @ lam.T)[mask], run(p4, refs)[mask]) < REL


def test_latent_depends_on_the_four_momenta_through_lgatr(model64, batch64):
    """With the scalar, edge and hyperedge features held fixed, the latent is unchanged when
    the constituents and the references move together, and changes when only the
    constituents move: the four-momenta reach the latent through the L-GATr vector path."""
    x = model64.prepare(*batch64)
    lam = _lorentz(4)

    def encode(p4c, refs):
        return model64.encoder(
            p4c,
            x.mask,
            refs,
            x.particle_feats,
            model64.label_embedding(x.label),
            edges=(x.edges, x.edge_mask, x.pairs),
            hyperedges=(x.hyper_feats, x.hmask, x.triplets),
        )[0]

    refs = model64.references(x.p4c)
    mu = encode(x.p4c, refs)
    assert _rel(mu, model64.encode_prepared(x)[0]) < REL
    assert _rel(encode(x.p4c @ lam.T, refs @ lam.T), mu) < REL
    assert _rel(encode(x.p4c @ lam.T, refs), mu) > 1e-3


def test_generated_constituents_are_massless_with_positive_pt(model64):
    p4, mask, *_ = model64.sample(32, 2, 1.0, torch.Generator().manual_seed(0))
    real = p4[mask]
    assert len(real) > 0
    e, p = real[:, 0], real[:, 1:].norm(dim=-1)
    assert torch.allclose(e, p, rtol=1e-9, atol=1e-4)
    assert (real[:, 1:3].norm(dim=-1) > 0).all()
    assert (p4[~mask] == 0).all()


def test_sampler_turns_the_decoded_jet_about_its_axis_with_its_own_noise_columns(model64):
    """The last two noise columns only turn and reflect the jet about its axis: the same
    constituents up to an exact Lorentz transformation (so the same jet mass; the jet's pT
    and eta move only as far as the decoded sum is off the canonical jet axis)."""
    from hepvae.model.sampler import JetSampler

    sampler = JetSampler(model64)
    width = model64.config.latent_dim + 4 + 5 + 2
    assert JetSampler.noise_dim(model64) == width
    noise = torch.randn(8, width, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    label, temp = torch.full((8,), 2), torch.tensor(1.0, dtype=torch.float64)
    p4, mask, jet, nparticles = sampler(noise, label, temp)
    again = sampler(noise.clone(), label, temp)
    assert torch.equal(again[0], p4) and torch.equal(again[1], mask)  # fixed noise: same jets
    other = noise.clone()
    other[:, -2] += 1.0
    other[:, -1] *= -1.0
    p4b, maskb, jetb, nparticlesb = sampler(other, label, temp)
    assert torch.equal(maskb, mask) and torch.equal(nparticlesb, nparticles)
    assert _rel(jetb[:, 3], jet[:, 3]) < REL  # the full jet's mass
    gram = minkowski(p4[:, :, None], p4[:, None, :])
    assert _rel(minkowski(p4b[:, :, None], p4b[:, None, :]), gram) < REL
    assert _rel(p4b, p4) > 1e-3  # moved (the untrained jets are narrow: small moves)
