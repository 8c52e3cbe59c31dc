"""Per-particle, pair and triplet features of dense padded jets (torch, differentiable).

All functions take four-momenta ``p4`` [B, N, 4] (E, px, py, pz in any one unit) with a boolean
``mask`` [B, N] and return zeros in padded entries. Logarithms of small quantities are clamped at
``LOG_FLOOR``. Angles use the pseudorapidity, which equals the rapidity of the massless
constituents the model works with, so pair and triplet features are unchanged by rotations
about and boosts along the beam axis.

The pair and triplet features follow the graph stage's contract (``EDGE_FEATURES`` and
``HYPEREDGE_FEATURES``) so that edge and hyperedge losses of decoded jets compare like with like.
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache

import torch

from hepvae.model.frames import azimuth, pseudorapidity, pt_of

LOG_FLOOR = 1e-6
PT_FLOOR = 1e-6

EDGE_FEATURES = ("eec", "log_dr", "log_kt", "log_z", "log_m2")
HYPEREDGE_FEATURES = ("log_weight", "log_dr_min", "log_dr_mid", "log_dr_max")
PARTICLE_FEATURES = ("log_pt", "eta", "phi", "log_pt_rel", "log_e_rel", "log_dr_axis")
#: coordinates in which particle sets are compared (canonical frame)
LOSS_COORDINATES = ("eta", "phi", "log_pt")


def _log(x: torch.Tensor) -> torch.Tensor:
    return torch.log(x.clamp_min(LOG_FLOOR))


def wrap_angle(phi: torch.Tensor) -> torch.Tensor:
    """Wrap an angle difference to [-pi, pi)."""
    return torch.remainder(phi + math.pi, 2 * math.pi) - math.pi


def loss_coordinates(p4c: torch.Tensor) -> torch.Tensor:
    """(eta, phi, log pT) [B, N, 3] of canonical-frame constituents (phi near 0 for jet members)."""
    return torch.stack(
        [pseudorapidity(p4c, PT_FLOOR), azimuth(p4c), torch.log(pt_of(p4c, PT_FLOOR))], dim=-1
    )


def particle_features(p4c: torch.Tensor, mask: torch.Tensor, jet_c: torch.Tensor) -> torch.Tensor:
    """PARTICLE_FEATURES [B, N, 6] of canonical-frame constituents; ``jet_c`` [B, 4]."""
    eta, phi, log_pt = loss_coordinates(p4c).unbind(-1)
    jet_pt = pt_of(jet_c, PT_FLOOR)[:, None]
    log_e_rel = _log(p4c[..., 0] / jet_c[:, None, 0].clamp_min(PT_FLOOR))
    dr = torch.sqrt(eta**2 + phi**2 + LOG_FLOOR**2)
    feats = torch.stack(
        [log_pt, eta, phi, log_pt - torch.log(jet_pt), log_e_rel, torch.log(dr)], dim=-1
    )
    return feats * mask.unsqueeze(-1).to(feats.dtype)


def _pair_geometry(p4: torch.Tensor):
    pt = pt_of(p4, PT_FLOOR)
    eta = pseudorapidity(p4, PT_FLOOR)
    phi = azimuth(p4)
    return pt, eta, phi


def _delta_r(eta_a, phi_a, eta_b, phi_b) -> torch.Tensor:
    return torch.sqrt((eta_a - eta_b) ** 2 + wrap_angle(phi_a - phi_b) ** 2 + LOG_FLOOR**2)


def pair_features_at(
    p4: torch.Tensor, jet_pt: torch.Tensor, first: torch.Tensor, second: torch.Tensor
) -> torch.Tensor:
    """EDGE_FEATURES [B, E, 5] of the pairs (first[b, e], second[b, e]) of each jet.

    eec = pT_i pT_j / pT_J^2; dR from (eta, phi); kT = min(pT_i, pT_j) dR;
    z = min(pT_i, pT_j) / (pT_i + pT_j); m2 = (p_i + p_j)^2.
    """
    pt, eta, phi = _pair_geometry(p4)
    pt_i, pt_j = pt.gather(1, first), pt.gather(1, second)
    dr = _delta_r(eta.gather(1, first), phi.gather(1, first), eta.gather(1, second),
                  phi.gather(1, second))  # fmt: skip
    pt_min = torch.minimum(pt_i, pt_j)
    index = torch.stack([first, second], 1).unsqueeze(-1).expand(-1, -1, -1, 4)
    total = p4.unsqueeze(1).expand(-1, 2, -1, -1).gather(2, index).sum(1)
    m2 = total[..., 0] ** 2 - (total[..., 1:] ** 2).sum(-1)
    return torch.stack(
        [
            pt_i * pt_j / jet_pt[:, None] ** 2,
            _log(dr),
            _log(pt_min * dr),
            _log(pt_min / (pt_i + pt_j)),
            _log(m2),
        ],
        dim=-1,
    )


def pair_features(p4: torch.Tensor, mask: torch.Tensor, jet_pt: torch.Tensor) -> torch.Tensor:
    """EDGE_FEATURES [B, N, N, 5] of all particle pairs (zero where either is padded)."""
    b, n = mask.shape
    first = torch.arange(n, device=p4.device).repeat_interleave(n).expand(b, -1)
    second = torch.arange(n, device=p4.device).repeat(n).expand(b, -1)
    feats = pair_features_at(p4, jet_pt, first, second).view(b, n, n, -1)
    pair_mask = mask[:, :, None] & mask[:, None, :]
    return feats * pair_mask.unsqueeze(-1).to(feats.dtype)


@lru_cache(maxsize=8)
def _all_triplets(n: int) -> torch.Tensor:
    combos = list(itertools.combinations(range(n), 3)) or [(0, 0, 0)][:0]
    return torch.tensor(combos, dtype=torch.long).reshape(-1, 3)


def _gather_particles(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """values [B, N] gathered at index [B, H, 3] -> [B, H, 3]."""
    b, h, _ = index.shape
    return values.gather(1, index.reshape(b, h * 3)).reshape(b, h, 3)


def triplet_weights(pt: torch.Tensor, jet_pt: torch.Tensor, triplets: torch.Tensor) -> torch.Tensor:
    """pT_i pT_j pT_k / pT_J^3 for triplets [B, H, 3] -> [B, H]."""
    return _gather_particles(pt, triplets).prod(-1) / jet_pt[:, None] ** 3


def select_triplets(
    p4: torch.Tensor, mask: torch.Tensor, jet_pt: torch.Tensor, max_hyperedges: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hyperedges [B, H, 3] (i < j < k) and their mask [B, H], H = min(C(N,3), max_hyperedges).

    Rule: all triplets of real particles when they fit, otherwise the ``max_hyperedges`` with the
    largest weight pT_i pT_j pT_k / pT_J^3. Padded rows point at (0, 0, 0) with mask False.
    """
    b, n = mask.shape
    combos = _all_triplets(n).to(p4.device)
    h = min(len(combos), max_hyperedges)
    if h == 0:
        return combos.new_zeros(b, 0, 3), mask.new_zeros(b, 0)
    with torch.no_grad():
        pt = pt_of(p4, PT_FLOOR)
        triplets = combos.unsqueeze(0).expand(b, -1, -1)
        weight = triplet_weights(pt, jet_pt, triplets)
        valid = _gather_particles(mask.long(), triplets).prod(-1).bool()
        score = torch.where(valid, weight, torch.full_like(weight, -1.0))
        top = score.topk(h, dim=1).indices
        chosen = triplets.gather(1, top.unsqueeze(-1).expand(-1, -1, 3))
        chosen_mask = valid.gather(1, top)
    return chosen * chosen_mask.unsqueeze(-1), chosen_mask


def triplet_features(
    p4: torch.Tensor, mask: torch.Tensor, jet_pt: torch.Tensor, triplets: torch.Tensor
) -> torch.Tensor:
    """HYPEREDGE_FEATURES [B, H, 4]: log weight and the sorted log dR of the triangle's sides.

    ``mask`` is unused beyond API symmetry: padded hyperedges are zeroed by the caller's mask.
    """
    del mask
    pt, eta, phi = _pair_geometry(p4)
    e = _gather_particles(eta, triplets)
    f = _gather_particles(phi, triplets)
    sides = torch.stack(
        [_delta_r(e[..., a], f[..., a], e[..., b], f[..., b]) for a, b in ((0, 1), (0, 2), (1, 2))],
        dim=-1,
    )
    sides = _log(sides).sort(dim=-1).values
    log_w = _log(triplet_weights(pt, jet_pt, triplets))
    return torch.cat([log_w.unsqueeze(-1), sides], dim=-1)


@lru_cache(maxsize=8)
def upper_pairs(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Row and column indices of the pairs i < j of ``n`` slots."""
    rows, cols = torch.triu_indices(n, n, offset=1)
    return rows, cols
