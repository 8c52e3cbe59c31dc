"""Four-momentum kinematics in torch: coordinates, Minkowski products and the canonical frame.

The torch twin of :mod:`hepvae.physics.p4` (awkward/vector); model, graph features, sampling
and ONNX export all take their kinematics from here. Every function is a plain tensor
expression without data-dependent Python control flow, so it is differentiable and exports
with ``torch.onnx.export`` (dynamo).

Conventions
-----------
* Four-momenta are (E, px, py, pz) on a last axis of size 4, in any one unit (GeV in the lab),
  with metric (+, -, -, -). Angles in radians.
* Rapidity of a four-vector (:func:`rapidity`): ``y = 1/2 ln((E + pz) / (E - pz))``, accurate
  for massive (jet) momenta also in float32. The per-particle :class:`Kinematics` use
  ``y = asinh(pz / mT)`` with ``mT = sqrt(pT^2 + max(m^2, 0))`` instead, consistent with their
  own mT (the pair-mass formula of the graph features needs sinh y = pz / mT): for massless
  particles it equals the pseudorapidity, and space-like vectors count as massless. Both
  agree to rounding for physical momenta (1e-13 in float64).
* Azimuths are in (-pi, pi] from ``atan2``; :func:`wrap_angle` maps angle differences to
  [-pi, pi) and returns values already in that range unchanged.
* The *canonical frame* of a jet is the lab frame rotated about the beam axis by -phi_J and
  boosted along the beam by -y_J (azimuth and rapidity of the jet four-momentum): there the
  jet points along +x with zero rapidity. Both maps are exact Lorentz transformations.
* The *oriented frame* (:func:`orient`) turns the canonical frame about the jet axis (+x) so
  that the leading constituent's (by canonical-frame energy) momentum transverse to the axis
  points along +z, and reflects y -> -y where needed so that the second has py >= 0: an exact
  rotation times an (improper) reflection, fixed per jet by its constituents. In it the beam
  direction of the canonical frame, (0, 0, 0, 1), becomes (0, 0, s sin a, cos a) with the
  jet's own angle a and sign s of :func:`orientation`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

#: Minkowski metric diagonal (+, -, -, -)
METRIC = (1.0, -1.0, -1.0, -1.0)

_PT2_FLOOR = 1e-20  # squared units, keeps sqrt and division finite for vectors along the beam
_TWO_PI = 2.0 * math.pi


def wrap_angle(phi: Tensor) -> Tensor:
    """Angles (differences) wrapped to [-pi, pi); exact for angles already in range.

    The torch twin of :func:`hepvae.physics.p4.wrap_phi` (same formula).
    """
    return phi - _TWO_PI * torch.floor((phi + math.pi) / _TWO_PI)


def four_momenta(pt: Tensor, eta: Tensor, phi: Tensor, mass: Tensor | None = None) -> Tensor:
    """(E, px, py, pz) [..., 4] in the units of ``pt`` and ``mass`` from pT, eta, phi, m.

    ``mass`` None means massless (E = pT cosh eta).
    """
    pz = pt * torch.sinh(eta)
    if mass is None:
        energy = pt * torch.cosh(eta)
    else:
        energy = torch.sqrt((pt * torch.cosh(eta)) ** 2 + mass**2)
    return torch.stack([energy, pt * torch.cos(phi), pt * torch.sin(phi), pz], dim=-1)


def minkowski(a: Tensor, b: Tensor) -> Tensor:
    """Minkowski product a.b over the last axis (size 4)."""
    metric = a.new_tensor(METRIC)
    return (a * b * metric).sum(-1)


def invariant_mass(p4: Tensor) -> Tensor:
    """Mass sqrt(max(p.p, 0)) (space-like vectors count as massless)."""
    return torch.sqrt(minkowski(p4, p4).clamp_min(0.0))


def pt_of(p4: Tensor, eps: float = 0.0) -> Tensor:
    """Transverse momentum sqrt(px^2 + py^2 + eps^2)."""
    return torch.sqrt(p4[..., 1] ** 2 + p4[..., 2] ** 2 + eps**2)


def azimuth(p4: Tensor) -> Tensor:
    """Azimuth phi = atan2(py, px) in (-pi, pi]."""
    return torch.atan2(p4[..., 2], p4[..., 1])


def pseudorapidity(p4: Tensor, eps: float = 1e-12) -> Tensor:
    """Pseudorapidity eta = asinh(pz / pT) (pT floored at ``eps``)."""
    return torch.asinh(p4[..., 3] / pt_of(p4).clamp_min(eps))


def rapidity(p4: Tensor, eps: float = 1e-12) -> Tensor:
    """Rapidity y = 1/2 ln((E + pz) / (E - pz)) (both floored at ``eps``)."""
    e, pz = p4[..., 0], p4[..., 3]
    return 0.5 * (torch.log((e + pz).clamp_min(eps)) - torch.log((e - pz).clamp_min(eps)))


def pt_eta_phi_m(p4: Tensor) -> Tensor:
    """(pT, eta, phi, mass) [..., 4] of four-momenta [..., 4]; inverse of :func:`four_momenta`."""
    return torch.stack([pt_of(p4), pseudorapidity(p4), azimuth(p4), invariant_mass(p4)], dim=-1)


def jet_momentum(p4: Tensor, mask: Tensor) -> Tensor:
    """Sum of the real constituents' four-momenta: [B, N, 4], [B, N] bool -> [B, 4]."""
    return (p4 * mask.unsqueeze(-1).to(p4.dtype)).sum(-2)


class Kinematics(NamedTuple):
    """Per-particle pT, azimuth, rapidity, transverse mass and mass^2 (units of the input)."""

    pt: Tensor
    phi: Tensor
    y: Tensor
    mt: Tensor
    m2: Tensor

    def stacked(self) -> Tensor:
        """The five quantities stacked on a last axis [..., 5]."""
        return torch.stack(tuple(self), dim=-1)

    @classmethod
    def unstack(cls, values: Tensor) -> Kinematics:
        return cls(*values.unbind(-1))

    def take(self, index: Tensor) -> Kinematics:
        """Rows ``index`` of flat kinematics (leading dimension)."""
        return Kinematics.unstack(self.stacked()[index])


def kinematics(p4: Tensor, mask: Tensor | None = None) -> Kinematics:
    """:class:`Kinematics` of four-momenta (E, px, py, pz) [..., 4].

    Padded entries (``mask`` False) are replaced by a unit massless particle before any
    division, so that neither values nor gradients become NaN; callers zero their outputs.
    pT^2 is floored at 1e-20 (squared units) and m^2 at 0.
    """
    if mask is not None:
        dummy = p4.new_tensor([1.0, 1.0, 0.0, 0.0])
        p4 = torch.where(mask.unsqueeze(-1), p4, dummy)
    energy, px, py, pz = p4.unbind(-1)
    pt2 = (px * px + py * py).clamp_min(_PT2_FLOOR)
    m2 = (energy * energy - pt2 - pz * pz).clamp_min(0.0)
    mt = torch.sqrt(pt2 + m2)
    return Kinematics(torch.sqrt(pt2), torch.atan2(py, px), torch.asinh(pz / mt), mt, m2)


def coordinate_kinematics(pt: Tensor, eta: Tensor, phi: Tensor, mass: Tensor) -> Kinematics:
    """:class:`Kinematics` from pT, pseudorapidity, azimuth and mass.

    Equal to ``kinematics(four_momenta(pt, eta, phi, mass))`` without its float32 rounding of
    small masses (y = eta exactly for massless particles).
    """
    mt = torch.sqrt(pt * pt + mass * mass)
    return Kinematics(pt, phi, torch.asinh(pt * torch.sinh(eta) / mt), mt, mass * mass)


# -- beam-axis rotations, longitudinal boosts, the canonical frame -----------------------------
def rotate_z(p4: Tensor, phi: Tensor) -> Tensor:
    """Rotate about the beam axis by angle ``phi`` (broadcast over the leading axes)."""
    c, s = torch.cos(phi), torch.sin(phi)
    e, px, py, pz = p4.unbind(-1)
    return torch.stack([e, c * px - s * py, s * px + c * py, pz], dim=-1)


def boost_z(p4: Tensor, y: Tensor) -> Tensor:
    """Boost along the beam axis by rapidity ``y`` (a particle at rest gets rapidity ``y``)."""
    ch, sh = torch.cosh(y), torch.sinh(y)
    e, px, py, pz = p4.unbind(-1)
    return torch.stack([ch * e + sh * pz, px, py, sh * e + ch * pz], dim=-1)


def to_canonical(p4: Tensor, jet: Tensor) -> Tensor:
    """Constituents [B, N, 4] in their jet's canonical frame (jet [B, 4] along +x at y = 0)."""
    phi = azimuth(jet)[:, None]
    y = rapidity(jet)[:, None]
    return boost_z(rotate_z(p4, -phi), -y)


def from_canonical(p4: Tensor, y: Tensor, phi: Tensor) -> Tensor:
    """Place canonical-frame constituents [B, N, 4] at jet rapidity ``y`` and azimuth ``phi``
    (both [B]); the inverse of :func:`to_canonical` for the jet's own (y, phi)."""
    return rotate_z(boost_z(p4, y[:, None]), phi[:, None])


# -- rotations about the jet axis and the y reflection: the oriented frame ---------------------
def rotate_x(p4: Tensor, angle: Tensor) -> Tensor:
    """Rotate about the x axis (the jet axis of the canonical frame) by ``angle`` [rad]:
    (py, pz) -> (c py - s pz, s py + c pz), broadcast over the leading axes."""
    c, s = torch.cos(angle), torch.sin(angle)
    e, px, py, pz = p4.unbind(-1)
    return torch.stack([e, px, c * py - s * pz, s * py + c * pz], dim=-1)


def reflect_y(p4: Tensor, sign: Tensor) -> Tensor:
    """Multiply py by ``sign`` (+1 or -1, broadcast): the identity or the reflection y -> -y."""
    e, px, py, pz = p4.unbind(-1)
    return torch.stack([e, px, sign * py, pz], dim=-1)


@torch.no_grad()
def orientation(p4c: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """(angle [B] in [-pi, pi), sign [B] of +-1) of canonical-frame constituents [B, N, 4] with
    ``mask`` [B, N] bool, such that :func:`orient` puts the leading constituent at py = 0,
    pz >= 0 and the second-leading at py >= 0. Jets with one constituent get sign +1.

    Leading means largest energy in the canonical frame (the jet's zero-rapidity frame; for
    constituents within the jet this orders them almost exactly as pT does), which, unlike pT,
    is unchanged by turns about the jet axis: the oriented jet is then the same for every turn
    and reflection of the input about its axis. Computed without gradient: a fixed function of
    the input, not of the model.
    """
    energy = torch.where(mask, p4c[..., 0], p4c.new_tensor(-1.0))
    top = torch.topk(energy, min(2, energy.shape[1]), dim=1).indices
    first = p4c.gather(1, top[:, :1, None].expand(-1, -1, 4))[:, 0]
    angle = wrap_angle(torch.atan2(first[:, 3], first[:, 2]) - 0.5 * math.pi)
    sign = torch.ones_like(angle)
    if top.shape[1] > 1:
        second = p4c.gather(1, top[:, 1:2, None].expand(-1, -1, 4))
        py = rotate_x(second, -angle[:, None])[:, 0, 2]
        has_second = mask.sum(1) > 1
        sign = torch.where(has_second & (py < 0), -sign, sign)
    return angle, sign


def orient(p4c: Tensor, angle: Tensor, sign: Tensor) -> Tensor:
    """Canonical-frame four-momenta [B, ..., 4] in the oriented frame: rotate about x by
    ``-angle``, then reflect y by ``sign`` (both [B], from :func:`orientation`)."""
    shape = (-1,) + (1,) * (p4c.dim() - 2)
    return reflect_y(rotate_x(p4c, -angle.reshape(shape)), sign.reshape(shape))


def unorient(p4o: Tensor, angle: Tensor, sign: Tensor) -> Tensor:
    """The inverse of :func:`orient`: oriented-frame four-momenta back to the canonical frame."""
    shape = (-1,) + (1,) * (p4o.dim() - 2)
    return rotate_x(reflect_y(p4o, sign.reshape(shape)), angle.reshape(shape))


def placement(
    y: Tensor, phi: Tensor, angle: Tensor | None = None, sign: Tensor | None = None
) -> Tensor:
    """The per-jet Lorentz matrices [B, 4, 4] of :func:`from_canonical` at rapidity ``y`` and
    azimuth ``phi`` (both [B]), after :func:`unorient` by ``angle`` and ``sign`` (both [B];
    none: the identity), to apply as ``p4 @ L.transpose(-1, -2)``: one batched matmul instead
    of the chain of per-component maps (the exported sampler's placement)."""
    ch, sh, c, s = torch.cosh(y), torch.sinh(y), torch.cos(phi), torch.sin(phi)
    zero, one = torch.zeros_like(y), torch.ones_like(y)
    ca, sa = (one, zero) if angle is None else (torch.cos(angle), torch.sin(angle))
    sign = one if sign is None else sign
    rows = [
        [ch, zero, sh * sa * sign, sh * ca],
        [zero, c, -s * ca * sign, s * sa],
        [zero, s, c * ca * sign, -c * sa],
        [sh, zero, ch * sa * sign, ch * ca],
    ]
    return torch.stack([torch.stack(row, -1) for row in rows], -2)


def random_lorentz(
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
    max_rapidity: float = 1.0,
) -> Tensor:
    """A random proper orthochronous Lorentz transformation [4, 4] (rotation times boost).

    Apply as ``p @ L.T``; the boost rapidity is uniform in [-max_rapidity, max_rapidity].
    """
    axis = torch.randn(3, generator=generator, dtype=dtype)
    axis = axis / axis.norm()
    angle = torch.rand((), generator=generator, dtype=dtype) * 2 * math.pi
    k = torch.zeros(3, 3, dtype=dtype)
    k[0, 1], k[0, 2], k[1, 2] = -axis[2], axis[1], -axis[0]
    k = k - k.T
    rot = torch.eye(3, dtype=dtype) + torch.sin(angle) * k + (1 - torch.cos(angle)) * (k @ k)
    direction = torch.randn(3, generator=generator, dtype=dtype)
    direction = direction / direction.norm()
    eta = (torch.rand((), generator=generator, dtype=dtype) * 2 - 1) * max_rapidity
    boost = torch.eye(4, dtype=dtype)
    boost[0, 0] = torch.cosh(eta)
    boost[0, 1:] = boost[1:, 0] = torch.sinh(eta) * direction
    boost[1:, 1:] += (torch.cosh(eta) - 1) * torch.outer(direction, direction)
    full = torch.eye(4, dtype=dtype)
    full[1:, 1:] = rot
    return full @ boost
