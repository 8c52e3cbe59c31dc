"""The rest head: full jets and multiplicities before truncation, in training and in files."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import torch

from hepvae.data.schema import read_jets
from hepvae.generate import generate
from hepvae.model.rest import REST_DIM, apply_rest, constituent_sum, rest_targets, sum_coordinates
from hepvae.physics.kinematics import jet_momentum, placement, pt_eta_phi_m, wrap_angle
from hepvae.train.data import jets_to_tensors
from tests.model_helpers import dense_jets, small_model
from tests.sampler_fixtures import N_PARTICLES, tiny_checkpoint, training_jets


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory)


def test_rest_targets_round_trip_on_simulated_jets():
    data = jets_to_tensors(training_jets(), N_PARTICLES)
    stored = data.mask.sum(1)
    assert (data.nparticles > stored).float().mean() > 0.9  # most jets are truncated
    p4, jet = data.p4.double(), data.jet.double()
    targets = rest_targets(p4, data.mask, jet, data.nparticles)
    assert targets.shape == (len(data), REST_DIM) and torch.isfinite(targets).all()
    # the soft rest carries pT and mass: the leading constituents' sum is not the jet
    assert targets[:, 0].abs().mean() > 1e-2 and targets[:, 3].abs().mean() > 1e-2
    back, nparticles = apply_rest(*constituent_sum(p4, data.mask), data.mask.sum(1), targets)
    assert torch.equal(nparticles, data.nparticles)
    torch.testing.assert_close(back[:, [0, 1]], jet[:, [0, 1]], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(back[:, 3], jet[:, 3], rtol=1e-6, atol=1e-6 * float(jet[:, 0].max()))
    assert wrap_angle(back[:, 2] - jet[:, 2]).abs().max() < 1e-6


def test_sum_mass_is_accurate_in_float32_for_collimated_jets():
    data = jets_to_tensors(training_jets(), N_PARTICLES)
    p4 = data.p4.double()
    p4[..., 0] = p4[..., 1:].norm(dim=-1)  # massless constituents
    exact = pt_eta_phi_m(jet_momentum(p4, data.mask))
    torch.testing.assert_close(sum_coordinates(p4, data.mask)[:, 3], exact[:, 3], rtol=1e-9, atol=0)
    fast = sum_coordinates(p4.float(), data.mask)[:, 3].double()
    naive = pt_eta_phi_m(jet_momentum(p4.float(), data.mask))[:, 3].double()
    error = ((fast - exact[:, 3]) / exact[:, 3]).abs().max()
    assert error < 1e-5 < ((naive - exact[:, 3]) / exact[:, 3]).abs().max()


def test_rest_loss_is_zero_without_targets_and_trains_with_them():
    model = small_model().double()
    p4, mask, label = dense_jets(32)
    out = model(p4, mask, label)
    assert out.parts["rest"] == 0
    out.total.backward()  # the head is in the graph (a zero gradient)
    assert model.rest_head.net[-1].bias.grad is not None
    model.zero_grad()
    jet = pt_eta_phi_m(jet_momentum(p4, mask))
    jet[:, 0] *= 1.3  # a full jet harder than its stored constituents
    out = model(p4, mask, label, 1.0, jet, mask.sum(1) + 20)
    assert out.parts["rest"] > 1.0
    out.total.backward()
    grad = model.rest_head.net[-1].bias.grad
    assert grad[0] < 0 and grad[4] < 0  # pushes the predicted pT ratio and extra count up


def test_generated_files_hold_full_jets(checkpoint, tmp_path):
    (path,) = generate(checkpoint, tmp_path / "g.root", 300, "all", seed=3, progress=False)
    jets = read_jets(path)
    n_part = ak.num(jets.Part.pt)
    assert ak.all(jets.Jet.nparticles >= n_part)
    assert ak.mean(jets.Jet.nparticles) > ak.mean(n_part)
    fraction = ak.to_numpy(ak.sum(jets.Part.pt, axis=1) / jets.Jet.pt)
    assert np.isfinite(fraction).all() and fraction.mean() < 1.0


def test_constituent_sum_transforms_with_the_jet():
    """The sampler applies the rest to the placed canonical sum: the sum of the placed
    constituents is the placed sum, and its mass is unchanged (reflection included)."""
    data = jets_to_tensors(training_jets(), N_PARTICLES)
    p4 = data.p4.double()
    p4[..., 0] = p4[..., 1:].norm(dim=-1)
    g = torch.Generator().manual_seed(3)
    n = len(data)
    y, phi, angle = (torch.rand(n, generator=g, dtype=torch.float64) * 4 - 2 for _ in range(3))
    sign = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0).double()
    lorentz = placement(y, phi, angle, sign)
    total, mass = constituent_sum(p4, data.mask)
    placed_total, placed_mass = constituent_sum(p4 @ lorentz.transpose(-1, -2), data.mask)
    torch.testing.assert_close(placed_total, (lorentz @ total.unsqueeze(-1)).squeeze(-1))
    torch.testing.assert_close(placed_mass, mass, rtol=1e-9, atol=1e-9 * float(mass.max()))
