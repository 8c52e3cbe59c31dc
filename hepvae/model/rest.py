"""The rest of the jet: what lies beyond the N stored constituents.

Files store the full jet (``Jet_pt``, ``Jet_eta``, ``Jet_phi``, ``Jet_mass``: all its
constituents) and its multiplicity before truncation (``Jet_nparticles``), while the decoder
emits only the leading N constituents. The full jet is described relative to the sum of the
stored constituents by the five REST_TARGETS

    (ln pT_full/pT_sum, y_full - y_sum, wrap(phi_full - phi_sum), ln m_full/m_sum,
     ln(1 + n_full - n_stored))

with rapidities y. The first four are invariant under rotations about the beam and boosts
along it, so they are the same in the lab and in the sum's canonical frame; the masses are
floored at ``MASS_FLOOR * pT_sum``, and the sum's mass is that of its constituents taken as
massless (the decoder emits massless constituents; :func:`constituent_sum`).
:func:`rest_targets` computes them, :func:`apply_rest` inverts them. :class:`RestHead`
predicts a diagonal Gaussian for the targets divided by ``REST_SCALE`` (so that its outputs are
of order one), trained by its negative log-likelihood (:func:`gaussian_nll`); at sampling,
standard-normal noise feeds it.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from hepvae.model.layers import MLP
from hepvae.physics.kinematics import azimuth, pt_of, rapidity, wrap_angle

REST_TARGETS = ("log_pt_ratio", "delta_y", "delta_phi", "log_mass_ratio", "log1p_extra")
REST_DIM = len(REST_TARGETS)
#: typical spread of each target (fixed, unit-free): the Gaussian lives in target / REST_SCALE
REST_SCALE = (0.1, 0.02, 0.02, 0.1, 1.0)
#: masses below this fraction of the constituent sum's pT count as this value (real jets of
#: several constituents lie far above it; it keeps nearly massless sums, whose float32 mass is
#: rounding noise, at one value)
MASS_FLOOR = 1e-3
#: range of the predicted log-variances (in scaled units)
LOGVAR_RANGE = (-12.0, 2.0)
#: most particles a generated jet may have beyond its stored ones (keeps counts finite)
MAX_EXTRA = 100_000


def constituent_sum(p4: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """(total four-momentum [B, 4] (E, px, py, pz), mass [B]) of the sum of constituents ``p4``
    [B, N, 4] (E, px, py, pz) with ``mask`` [B, N], in the unit of ``p4``.

    The mass is that of the constituents taken as massless (E_i = |p_i|), computed without the
    cancellation of E^2 - p^2: m^2 = A sum_i a_i |n_i - n|^2 with a_i = |p_i|, A = sum_i a_i,
    unit vectors n_i and their a-weighted mean n. It stays accurate in float32 for collimated
    jets, where E^2 - p^2 loses most digits. Both transform as the jet does: a Lorentz
    transformation L of the constituents takes the total to L total and keeps the mass.
    """
    # component by component on [B, N]: the exported sampler runs this several times faster
    # than on [B, N, 3] with broadcasts over the short last axis
    weight = mask.to(p4.dtype)
    e, px, py, pz = (c * weight for c in p4.unbind(-1))
    a = torch.sqrt(px * px + py * py + pz * pz)
    inverse_a = 1.0 / a.clamp_min(1e-30)
    total_a = a.sum(-1, keepdim=True)
    inverse_total = 1.0 / total_a.clamp_min(1e-30)
    spread = 0.0
    for component in (px, py, pz):
        mean = component.sum(-1, keepdim=True) * inverse_total  # a-weighted mean of n
        spread = spread + (component * inverse_a - mean) ** 2
    mass = torch.sqrt(total_a.squeeze(-1) * (a * spread).sum(-1))
    total = torch.stack([e.sum(-1), px.sum(-1), py.sum(-1), pz.sum(-1)], dim=-1)
    return total, mass


def sum_coordinates(p4: Tensor, mask: Tensor) -> Tensor:
    """(pT, rapidity, azimuth, mass) [B, 4] of the sum of constituents ``p4`` [B, N, 4] (E, px,
    py, pz) with ``mask`` [B, N], in the unit of ``p4``; the mass as in
    :func:`constituent_sum`."""
    total, mass = constituent_sum(p4, mask)
    return torch.stack([pt_of(total), rapidity(total), azimuth(total), mass], dim=-1)


def _rapidity(pt: Tensor, eta: Tensor, mass: Tensor) -> Tensor:
    return torch.asinh(pt * torch.sinh(eta) / torch.sqrt(pt * pt + mass * mass))


def _pseudorapidity(pt: Tensor, y: Tensor, mass: Tensor) -> Tensor:
    return torch.asinh(torch.sqrt(pt * pt + mass * mass) * torch.sinh(y) / pt)


def rest_targets(p4: Tensor, mask: Tensor, full: Tensor, nparticles: Tensor) -> Tensor:
    """REST_TARGETS [B, 5] of full jets ``full`` [B, 4] (pT, eta, phi, mass) relative to the
    sum of their stored constituents ``p4`` [B, N, 4] (E, px, py, pz; same unit) with
    ``mask`` [B, N], given the multiplicity before truncation ``nparticles`` [B] (a count
    below the stored one gives 0 extra particles)."""
    pt_sum, y_sum, phi_sum, m_sum = sum_coordinates(p4, mask).unbind(-1)
    pt, eta, phi, mass = full.unbind(-1)
    floor = MASS_FLOOR * pt_sum
    extra = (nparticles - mask.sum(-1)).clamp_min(0).to(p4.dtype)
    return torch.stack(
        [
            torch.log(pt / pt_sum),
            _rapidity(pt, eta, mass) - y_sum,
            wrap_angle(phi - phi_sum),
            torch.log(mass.clamp_min(floor) / m_sum.clamp_min(floor)),
            torch.log1p(extra),
        ],
        dim=-1,
    )


def apply_rest(total: Tensor, mass: Tensor, stored: Tensor, rest: Tensor) -> tuple[Tensor, Tensor]:
    """Invert :func:`rest_targets`: the stored constituents' sum (``total`` [B, 4] (E, px, py,
    pz) and ``mass`` [B], as :func:`constituent_sum` gives them), their number ``stored`` [B]
    and the targets ``rest`` [B, 5] -> (full jets [B, 4] (pT, eta, phi in [-pi, pi), mass) in
    the unit of ``total``, multiplicity before truncation [B] int64, at least ``stored`` and at
    most ``MAX_EXTRA`` more)."""
    pt_sum, y_sum, phi_sum = pt_of(total), rapidity(total), azimuth(total)
    pt = pt_sum * torch.exp(rest[:, 0])
    mass = mass.clamp_min(MASS_FLOOR * pt_sum) * torch.exp(rest[:, 3])
    eta = _pseudorapidity(pt, y_sum + rest[:, 1], mass)
    full = torch.stack([pt, eta, wrap_angle(phi_sum + rest[:, 2]), mass], dim=-1)
    log_extra = rest[:, 4].clamp(0.0, math.log1p(MAX_EXTRA))
    extra = torch.round(torch.expm1(log_extra)).to(torch.long)
    return full, stored.to(torch.long) + extra


class RestHead(nn.Module):
    """Diagonal Gaussian over REST_TARGETS / REST_SCALE given a conditioning vector.

    ``forward(inputs [B, d_in]) -> (mean [B, 5], logvar [B, 5])``; the last layer starts at
    zero, so an untrained head predicts the standard normal (a full jet near the sum).
    """

    def __init__(self, d_in: int, hidden: int) -> None:
        super().__init__()
        self.net = MLP(d_in, 2 * REST_DIM, hidden)
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)
        self.register_buffer("scale", torch.tensor(REST_SCALE), persistent=False)

    def forward(self, inputs: Tensor) -> tuple[Tensor, Tensor]:
        mean, logvar = self.net(inputs).chunk(2, dim=-1)
        return mean, logvar.clamp(*LOGVAR_RANGE)

    def draw(self, inputs: Tensor, noise: Tensor, temperature: Tensor) -> Tensor:
        """Targets [B, 5] (physical units) from standard-normal ``noise`` [B, 5], its spread
        scaled by ``temperature`` [B]."""
        mean, logvar = self(inputs)
        spread = torch.exp(0.5 * logvar) * temperature.unsqueeze(-1)
        return (mean + spread * noise) * self.scale.to(mean.dtype)


def gaussian_nll(target: Tensor, mean: Tensor, logvar: Tensor, scale: Tensor) -> Tensor:
    """Negative log-likelihood per jet [B] (up to a constant) of ``target`` [B, 5] under the
    diagonal Gaussian (``mean``, ``logvar``) of target / ``scale``."""
    z = target / scale
    return 0.5 * (logvar + (z - mean) ** 2 * torch.exp(-logvar)).sum(-1)
