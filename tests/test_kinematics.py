"""The kinematics layer: torch (hepvae.physics.kinematics) against awkward/vector (physics.p4)."""

from __future__ import annotations

import math

import awkward as ak
import numpy as np
import pytest
import torch

from hepvae.physics import kinematics as K
from hepvae.physics.p4 import (
    cartesian,
    constituents,
    delta_r,
    invariant_mass,
    jet_coordinates,
    pt_eta_phi,
    sum_p4,
    to_cartesian,
    wrap_phi,
)


def _coordinates(n: int, seed: int, massless: bool = False) -> tuple[torch.Tensor, ...]:
    """pt [GeV], eta, phi, mass [GeV] of ``n`` particles in float64."""
    g = torch.Generator().manual_seed(seed)
    pt = 1.0 + 999.0 * torch.rand(n, generator=g, dtype=torch.float64)
    eta = 6.0 * torch.rand(n, generator=g, dtype=torch.float64) - 3.0
    phi = 2 * math.pi * torch.rand(n, generator=g, dtype=torch.float64) - math.pi
    mass = torch.zeros(n, dtype=torch.float64)
    if not massless:
        mass = 200.0 * torch.rand(n, generator=g, dtype=torch.float64)
    return pt, eta, phi, mass


@pytest.mark.parametrize("massless", [False, True])
def test_coordinates_round_trip_in_float64(massless):
    pt, eta, phi, mass = _coordinates(2000, seed=0, massless=massless)
    p4 = K.four_momenta(pt, eta, phi, None if massless else mass)
    back = K.pt_eta_phi_m(p4)
    torch.testing.assert_close(back[..., 0], pt, rtol=1e-12, atol=0)
    torch.testing.assert_close(back[..., 1], eta, rtol=0, atol=1e-12)
    torch.testing.assert_close(back[..., 2], phi, rtol=0, atol=1e-12)
    # m^2 = E^2 - p^2 carries a rounding error ~ 1e-16 E^2 (so m of massless ones ~ 1e-8 E)
    energy = p4[..., 0]
    assert ((K.minkowski(p4, p4) - mass**2).abs() / energy**2).max() < 1e-14
    assert ((back[..., 3] - mass).abs() / energy).max() < 1e-7
    torch.testing.assert_close(K.four_momenta(*back.unbind(-1)), p4, rtol=1e-12, atol=1e-9)
    if not massless:  # the rapidity of massive particles differs from eta
        assert (K.rapidity(p4) - eta).abs().max() > 1e-2


def test_rapidity_forms_and_coordinate_kinematics_agree():
    pt, eta, phi, mass = _coordinates(2000, seed=1)
    p4 = K.four_momenta(pt, eta, phi, mass)
    kin = K.kinematics(p4)
    torch.testing.assert_close(kin.y, K.rapidity(p4), rtol=0, atol=1e-10)
    exact = K.coordinate_kinematics(pt, eta, phi, mass)
    for name in ("pt", "phi", "y", "mt"):
        torch.testing.assert_close(getattr(kin, name), getattr(exact, name), rtol=1e-9, atol=1e-9)
    assert ((kin.m2 - exact.m2).abs() / p4[..., 0] ** 2).max() < 1e-14
    # massless: rapidity equals pseudorapidity
    p4 = K.four_momenta(pt, eta, phi)
    torch.testing.assert_close(K.rapidity(p4), eta, rtol=0, atol=1e-10)
    torch.testing.assert_close(K.pseudorapidity(p4), eta, rtol=0, atol=1e-12)


def test_wrap_angle_range_exactness_and_numpy_twin():
    g = torch.Generator().manual_seed(2)
    phi = 40.0 * torch.rand(100_000, generator=g, dtype=torch.float64) - 20.0
    edges = torch.tensor([-math.pi, math.pi, 0.0, -0.0, 2 * math.pi, -2 * math.pi, 1e-9, -1e-9])
    phi = torch.cat([phi, edges.double()])
    wrapped = K.wrap_angle(phi)
    assert wrapped.min() >= -math.pi and wrapped.max() < math.pi
    assert K.wrap_angle(torch.tensor(math.pi, dtype=torch.float64)) == -math.pi
    # a multiple of 2 pi away from the input
    turns = (phi - wrapped) / (2 * math.pi)
    torch.testing.assert_close(turns, turns.round(), rtol=0, atol=1e-12)
    # angles in range come back unchanged, bit for bit, also in float32
    inside = (torch.rand(1000, generator=g) * 2 - 1) * 3.1
    assert torch.equal(K.wrap_angle(inside), inside)
    assert np.array_equal(wrap_phi(inside.numpy()), inside.numpy())
    # numpy and awkward twins: the same numbers
    np.testing.assert_array_equal(wrap_phi(phi.numpy()), wrapped.numpy())
    jagged = ak.unflatten(phi.numpy(), [len(phi) - 3, 3])
    np.testing.assert_array_equal(ak.to_numpy(ak.flatten(wrap_phi(jagged))), wrapped.numpy())


def test_wrap_angle_has_unit_gradient():
    phi = torch.tensor([0.3, 4.0, -7.0], dtype=torch.float64, requires_grad=True)
    K.wrap_angle(phi).sum().backward()
    assert torch.equal(phi.grad, torch.ones(3, dtype=torch.float64))


def _jets(seed: int, n_jets: int = 6, n_max: int = 12):
    """Small padded jets around random axes (float64): p4 [B, N, 4], mask, coordinates."""
    g = torch.Generator().manual_seed(seed)
    counts = torch.randint(1, n_max + 1, (n_jets,), generator=g)
    mask = torch.arange(n_max)[None, :] < counts[:, None]
    axis_eta = 4.0 * torch.rand(n_jets, 1, generator=g, dtype=torch.float64) - 2.0
    axis_phi = 2 * math.pi * torch.rand(n_jets, 1, generator=g, dtype=torch.float64) - math.pi
    pt = 5.0 + 300.0 * torch.rand(n_jets, n_max, generator=g, dtype=torch.float64)
    eta = axis_eta + 0.4 * torch.randn(n_jets, n_max, generator=g, dtype=torch.float64)
    phi = K.wrap_angle(
        axis_phi + 0.4 * torch.randn(n_jets, n_max, generator=g, dtype=torch.float64)
    )
    mass = 2.0 * torch.rand(n_jets, n_max, generator=g, dtype=torch.float64)
    p4 = K.four_momenta(pt, eta, phi, mass)
    # padded slots hold garbage that the masked helpers must ignore
    p4 = torch.where(mask[..., None], p4, torch.full_like(p4, 1e6))
    return p4, mask, counts, (pt, eta, phi, mass)


def test_canonical_frame_is_an_exact_lorentz_transformation():
    p4, mask, _, _ = _jets(seed=3)
    jet = K.jet_momentum(p4, mask)
    p4c = K.to_canonical(p4, jet)
    # all Minkowski products between constituents are kept (masses included)
    gram = K.minkowski(p4[:, :, None], p4[:, None, :])
    gram_c = K.minkowski(p4c[:, :, None], p4c[:, None, :])
    torch.testing.assert_close(gram_c, gram, rtol=1e-10, atol=1e-6)
    jet_c = K.jet_momentum(p4c, mask)
    torch.testing.assert_close(K.invariant_mass(jet_c), K.invariant_mass(jet), rtol=1e-10, atol=0)
    # the jet points along +x at zero rapidity
    scale = jet_c[:, 0]
    assert (jet_c[:, 1] > 0).all()
    assert (jet_c[:, 2].abs() / scale).max() < 1e-12
    assert (jet_c[:, 3].abs() / scale).max() < 1e-12
    assert K.rapidity(jet_c).abs().max() < 1e-12 and K.azimuth(jet_c).abs().max() < 1e-12
    # and back
    back = K.from_canonical(p4c, K.rapidity(jet), K.azimuth(jet))
    torch.testing.assert_close(back[mask], p4[mask], rtol=1e-10, atol=1e-8)


def test_placement_matrix_is_unorient_then_from_canonical():
    p4, mask, _, _ = _jets(seed=4)
    g = torch.Generator().manual_seed(4)
    b = p4.shape[0]
    y = 4.0 * torch.rand(b, generator=g, dtype=torch.float64) - 2.0
    phi = 2 * math.pi * torch.rand(b, generator=g, dtype=torch.float64) - math.pi
    angle = 2 * math.pi * torch.rand(b, generator=g, dtype=torch.float64) - math.pi
    sign = torch.where(torch.rand(b, generator=g) < 0.5, -1.0, 1.0).double()
    expected = K.from_canonical(K.unorient(p4, angle, sign), y, phi)
    matrices = K.placement(y, phi, angle, sign)
    torch.testing.assert_close(p4 @ matrices.transpose(-1, -2), expected, rtol=1e-12, atol=1e-9)
    without = p4 @ K.placement(y, phi).transpose(-1, -2)
    torch.testing.assert_close(without, K.from_canonical(p4, y, phi), rtol=1e-12, atol=1e-9)
    # a proper or improper Lorentz transformation: L^T g L = g
    metric = torch.diag(torch.tensor(K.METRIC, dtype=torch.float64))
    kept = matrices.transpose(-1, -2) @ metric @ matrices
    torch.testing.assert_close(kept, metric.expand(b, 4, 4), rtol=0, atol=1e-10)


def test_random_lorentz_keeps_the_metric():
    lam = K.random_lorentz(torch.Generator().manual_seed(4))
    metric = torch.diag(torch.tensor(K.METRIC, dtype=torch.float64))
    torch.testing.assert_close(lam.T @ metric @ lam, metric, rtol=0, atol=1e-12)
    assert lam[0, 0] >= 1.0 and torch.linalg.det(lam) > 0  # orthochronous, proper


def test_numpy_coordinates_match_the_torch_twin():
    """p4's cartesian, pt_eta_phi and invariant_mass (numpy) agree with kinematics (torch)."""
    pt, eta, phi, mass = _coordinates(2000, seed=3)
    px, py, pz, energy = cartesian(pt.numpy(), eta.numpy(), phi.numpy(), mass.numpy())
    p4 = K.four_momenta(pt, eta, phi, mass).numpy()
    np.testing.assert_allclose(np.stack([energy, px, py, pz], -1), p4, rtol=1e-12)
    back = np.stack([*pt_eta_phi(px, py, pz), invariant_mass(energy, px, py, pz)], -1)
    expected = K.pt_eta_phi_m(torch.from_numpy(p4)).numpy()
    expected[:, 2] = wrap_phi(expected[:, 2])  # p4 wraps azimuths to [-pi, pi)
    np.testing.assert_allclose(back[:, :3], expected[:, :3], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(back[:, 3], mass.numpy(), rtol=1e-6, atol=1e-6)
    assert np.all((back[:, 2] >= -math.pi) & (back[:, 2] < math.pi))
    # delta R across the +-pi seam is the short way round
    assert delta_r(0.0, math.pi - 0.1, 0.0, -math.pi + 0.1) == pytest.approx(0.2)


def test_torch_and_vector_agree_on_small_jets():
    p4, mask, counts, coords = _jets(seed=5)
    parts = constituents(*(ak.unflatten(c[mask].numpy(), counts.numpy()) for c in coords))
    # constituents: (E, px, py, pz) and the rapidity
    np.testing.assert_allclose(to_cartesian(parts), p4[mask].numpy(), rtol=1e-12, atol=1e-9)
    flat = ak.flatten(parts)
    np.testing.assert_allclose(
        K.rapidity(p4)[mask].numpy(), ak.to_numpy(flat.rapidity), rtol=0, atol=1e-10
    )
    np.testing.assert_allclose(
        K.kinematics(p4, mask).y[mask].numpy(), ak.to_numpy(flat.rapidity), rtol=0, atol=1e-10
    )
    # jets: the masked torch sum against the awkward sum
    jet = K.jet_momentum(p4, mask)
    total = sum_p4(parts)
    for i, field in enumerate(("E", "px", "py", "pz")):
        np.testing.assert_allclose(jet[:, i].numpy(), ak.to_numpy(total[field]), rtol=1e-12)
    ours = K.pt_eta_phi_m(jet).numpy()
    theirs = jet_coordinates(parts)
    for i, field in enumerate(("pt", "eta", "phi", "mass")):
        np.testing.assert_allclose(ours[:, i], ak.to_numpy(theirs[field]), rtol=1e-10, atol=1e-10)


class _Frames(torch.nn.Module):
    """Every tensor function of the layer in one graph, for the ONNX check."""

    def forward(self, p4: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        jet = K.jet_momentum(p4, mask)
        p4c = K.to_canonical(p4, jet)
        kin = K.kinematics(p4c, mask)
        back = K.from_canonical(p4c, K.rapidity(jet), K.azimuth(jet))
        dphi = K.wrap_angle(kin.phi - 3.0)
        # particle masses (E^2 - p^2 of ~massless particles) are rounding noise in float32
        return K.pt_eta_phi_m(jet), back, kin.stacked()[..., :4], dphi


def test_layer_exports_to_onnx_with_a_free_batch(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    p4, mask, _, _ = _jets(seed=6)
    p4, module = p4.float(), _Frames().eval()
    batch = torch.export.Dim("batch")
    program = torch.onnx.export(
        module,
        (p4[:2], mask[:2]),
        dynamic_shapes={"p4": {0: batch}, "mask": {0: batch}},
        dynamo=True,
    )
    path = tmp_path / "frames.onnx"
    program.save(str(path), external_data=False)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    outputs = session.run(None, dict(zip(names, (p4.numpy(), mask.numpy()))))
    for ours, theirs in zip(module(p4, mask), outputs):
        np.testing.assert_allclose(theirs, ours.numpy(), rtol=1e-4, atol=1e-3)


def test_oriented_frame_is_exact_and_fixes_the_two_leading_constituents():
    p4, mask, _, _ = _jets(seed=7, n_jets=40)
    p4 = p4 * mask[..., None]
    jet = K.jet_momentum(p4, mask)
    p4c = K.to_canonical(p4, jet)
    angle, sign = K.orientation(p4c, mask)
    p4o = K.orient(p4c, angle, sign)
    # an exact (improper) Lorentz transformation: all pairwise Minkowski products are kept
    gram = K.minkowski(p4c[:, :, None], p4c[:, None, :])
    gram_o = K.minkowski(p4o[:, :, None], p4o[:, None, :])
    torch.testing.assert_close(gram_o, gram, rtol=1e-12, atol=1e-8)
    # the jet still points along +x; the inverse returns the input
    torch.testing.assert_close(K.jet_momentum(p4o, mask), K.jet_momentum(p4c, mask))
    torch.testing.assert_close(K.unorient(p4o, angle, sign), p4c, rtol=1e-12, atol=1e-9)
    # leading constituent on +z (py = 0, pz > 0), the second at py >= 0
    order = torch.argsort(torch.where(mask, p4c[..., 0], -1.0), dim=1, descending=True)
    rows = torch.arange(len(p4))
    first, second = p4o[rows, order[:, 0]], p4o[rows, order[:, 1]]
    assert (first[:, 2].abs() < 1e-9 * first[:, 0]).all() and (first[:, 3] >= 0).all()
    several = mask.sum(1) > 1
    assert several.sum() > 30 and (second[several, 2] >= 0).all()
    assert (sign < 0).any() and (sign > 0).any()  # both signs occur: the reflection is used
    assert (sign[~several] == 1).all()
    # a turn about the jet axis and a reflection of the input do not change the oriented jet
    # (except where the second lies at py = 0 to rounding: jets of two constituents)
    turned = K.reflect_y(K.rotate_x(p4c, torch.tensor(1.1, dtype=p4.dtype)), -torch.ones(()))
    again = K.orient(turned, *K.orientation(turned, mask))
    three = mask.sum(1) > 2
    torch.testing.assert_close(again[three], p4o[three], rtol=1e-10, atol=1e-9)
