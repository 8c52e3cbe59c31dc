"""The rest of the jet: what lies beyond the N stored constituents.

Files store the full jet (``Jet_pt``, ``Jet_eta``, ``Jet_phi``, ``Jet_mass``: all its
constituents) and its multiplicity before truncation (``Jet_nparticles``), while the decoder
emits only the leading N constituents. The full jet is described relative to the sum of the
stored constituents by the five REST_TARGETS

    (ln pT_full/pT_sum, y_full - y_sum, wrap(phi_full - phi_sum), ln m_full/m_sum,
     ln(1 + n_full - n_stored))

with rapidities y. The first four are invariant under rotations about the beam and boosts
along it, so they are the same in the lab and in the sum's canonical frame; the masses are
floored at ``MASS_FLOOR * pT_sum``. :func:`rest_targets` computes them, :func:`apply_rest`
inverts them. :class:`RestHead` predicts a diagonal Gaussian for the targets divided by
``REST_SCALE`` (so that its outputs are of order one), trained by its negative
log-likelihood (:func:`gaussian_nll`); at sampling, standard-normal noise feeds it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from hepvae.model.layers import MLP
from hepvae.physics.kinematics import azimuth, invariant_mass, pt_of, rapidity, wrap_angle

REST_TARGETS = ("log_pt_ratio", "delta_y", "delta_phi", "log_mass_ratio", "log1p_extra")
REST_DIM = len(REST_TARGETS)
#: typical spread of each target (fixed, unit-free): the Gaussian lives in target / REST_SCALE
REST_SCALE = (0.1, 0.02, 0.02, 0.1, 1.0)
#: masses below this fraction of the constituent sum's pT count as this value
MASS_FLOOR = 1e-6
#: range of the predicted log-variances (in scaled units)
LOGVAR_RANGE = (-12.0, 6.0)


def rest_targets(total: Tensor, full: Tensor, nparticles: Tensor, stored: Tensor) -> Tensor:
    """REST_TARGETS [B, 5] of full jets ``full`` [B, 4] relative to the constituent sums
    ``total`` [B, 4] (both (E, px, py, pz) in one unit), from the multiplicity before
    truncation ``nparticles`` [B] and the stored count ``stored`` [B] (a missing count,
    nparticles < stored, gives 0 extra particles)."""
    pt_sum = pt_of(total)
    floor = MASS_FLOOR * pt_sum
    extra = (nparticles - stored).clamp_min(0).to(total.dtype)
    return torch.stack(
        [
            torch.log(pt_of(full) / pt_sum),
            rapidity(full) - rapidity(total),
            wrap_angle(azimuth(full) - azimuth(total)),
            torch.log(
                invariant_mass(full).clamp_min(floor) / invariant_mass(total).clamp_min(floor)
            ),
            torch.log1p(extra),
        ],
        dim=-1,
    )


def apply_rest(total: Tensor, rest: Tensor, stored: Tensor) -> tuple[Tensor, Tensor]:
    """Invert :func:`rest_targets`: constituent sums ``total`` [B, 4] (E, px, py, pz), targets
    ``rest`` [B, 5] and stored counts [B] -> (full jets [B, 4] (E, px, py, pz) in the unit of
    ``total``, multiplicity before truncation [B] int64, at least ``stored``)."""
    pt_sum = pt_of(total)
    pt = pt_sum * torch.exp(rest[:, 0])
    y = rapidity(total) + rest[:, 1]
    phi = azimuth(total) + rest[:, 2]
    mass = invariant_mass(total).clamp_min(MASS_FLOOR * pt_sum) * torch.exp(rest[:, 3])
    mt = torch.sqrt(pt * pt + mass * mass)
    full = torch.stack(
        [mt * torch.cosh(y), pt * torch.cos(phi), pt * torch.sin(phi), mt * torch.sinh(y)], -1
    )
    extra = torch.round(torch.expm1(rest[:, 4]).clamp_min(0.0)).to(torch.long)
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
