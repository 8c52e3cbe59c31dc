"""Lorentz frames: Minkowski products, beam-axis rotations, longitudinal boosts, references.

Four-momenta are (E, px, py, pz) with metric (+, -, -, -). The *canonical frame* of a jet is
the lab frame rotated about the beam axis by -phi_J and boosted along the beam by -y_J, where
phi_J and y_J are the azimuth and rapidity of the jet four-momentum: there the jet points along
+x with zero rapidity. Both maps are exact Lorentz transformations, so masses are kept.
"""

from __future__ import annotations

import math

import torch

#: Minkowski metric diagonal (+, -, -, -)
METRIC = (1.0, -1.0, -1.0, -1.0)

#: reference vectors by name, in the canonical frame: the time direction, the beam axis (+z),
#: the jet's transverse direction (+x) and the normal of the jet-beam plane (+y)
REFERENCE_VECTORS = {
    "time": (1.0, 0.0, 0.0, 0.0),
    "beam": (0.0, 0.0, 0.0, 1.0),
    "jet_axis": (0.0, 1.0, 0.0, 0.0),
    "normal": (0.0, 0.0, 1.0, 0.0),
}


def minkowski(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Minkowski product a.b over the last axis (size 4)."""
    metric = a.new_tensor(METRIC)
    return (a * b * metric).sum(-1)


def references(names: tuple[str, ...] | list[str], like: torch.Tensor) -> torch.Tensor:
    """The named reference vectors as a tensor [R, 4] with the dtype and device of ``like``."""
    return like.new_tensor([REFERENCE_VECTORS[n] for n in names]).reshape(len(names), 4)


def jet_momentum(p4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum of the real constituents' four-momenta: [B, N, 4], [B, N] -> [B, 4]."""
    return (p4 * mask.unsqueeze(-1).to(p4.dtype)).sum(-2)


def pt_of(p4: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """Transverse momentum sqrt(px^2 + py^2 + eps^2)."""
    return torch.sqrt(p4[..., 1] ** 2 + p4[..., 2] ** 2 + eps**2)


def rapidity(p4: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Rapidity y = 1/2 ln((E + pz) / (E - pz))."""
    e, pz = p4[..., 0], p4[..., 3]
    return 0.5 * (torch.log((e + pz).clamp_min(eps)) - torch.log((e - pz).clamp_min(eps)))


def pseudorapidity(p4: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Pseudorapidity eta = asinh(pz / pT) (pT floored at ``eps``)."""
    return torch.asinh(p4[..., 3] / pt_of(p4).clamp_min(eps))


def azimuth(p4: torch.Tensor) -> torch.Tensor:
    """Azimuth phi = atan2(py, px) in (-pi, pi]."""
    return torch.atan2(p4[..., 2], p4[..., 1])


def invariant_mass(p4: torch.Tensor) -> torch.Tensor:
    """sqrt(max(p.p, 0))."""
    return torch.sqrt(minkowski(p4, p4).clamp_min(0.0))


def rotate_z(p4: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
    """Rotate about the beam axis by angle ``phi`` (broadcast over the leading axes)."""
    c, s = torch.cos(phi), torch.sin(phi)
    e, px, py, pz = p4.unbind(-1)
    return torch.stack([e, c * px - s * py, s * px + c * py, pz], dim=-1)


def boost_z(p4: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Boost along the beam axis by rapidity ``y`` (a particle at rest gets rapidity ``y``)."""
    ch, sh = torch.cosh(y), torch.sinh(y)
    e, px, py, pz = p4.unbind(-1)
    return torch.stack([ch * e + sh * pz, px, py, sh * e + ch * pz], dim=-1)


def to_canonical(p4: torch.Tensor, jet: torch.Tensor) -> torch.Tensor:
    """Constituents [B, N, 4] in their jet's canonical frame (jet along +x at rapidity 0)."""
    phi = azimuth(jet)[:, None]
    y = rapidity(jet)[:, None]
    return boost_z(rotate_z(p4, -phi), -y)


def from_canonical(p4: torch.Tensor, y: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
    """Place canonical-frame constituents [B, N, 4] at jet rapidity ``y`` and azimuth ``phi``."""
    return rotate_z(boost_z(p4, y[:, None]), phi[:, None])


def random_lorentz(
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
    max_rapidity: float = 1.0,
) -> torch.Tensor:
    """A random proper orthochronous Lorentz transformation [4, 4] (rotation times boost).

    Used by the symmetry tests: apply as ``p @ L.T``.
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
