"""Per-particle, pair and triplet features of dense padded jets (torch, differentiable).

All functions take four-momenta ``p4`` [B, N, 4] (E, px, py, pz in any one unit) with a boolean
``mask`` [B, N] and return zeros in padded entries. Logarithms of small quantities are clamped at
``LOG_FLOOR``.

These are the only definitions of the features the model sees, and the graph stage
(``hepvae graphs``, :mod:`hepvae.graphs.build`) shows exactly them: :func:`jet_inputs` turns
dense jets into every (unnormalized) feature, and both :meth:`hepvae.model.HyperVAE.prepare`
and the PyG view call it.

Angle convention: constituents are described by their pseudorapidity eta (the schema's
``Part_eta``, JetNet's eta_rel). The pair and triplet kernels of
:mod:`hepvae.graphs.features` compute the rapidity y of each four-momentum; for massless
constituents (decoded jets, JetNet) y = eta exactly, and for hadron masses at the pT of jet
constituents the difference is far below the resolution of the features. Jets themselves are
massive: they are moved to and from the canonical frame by their rapidity (a boost), so all
features are unchanged by rotations about and boosts along the beam axis.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from hepvae.graphs import features as G
from hepvae.graphs.features import upper_pairs
from hepvae.physics.kinematics import (
    azimuth,
    jet_momentum,
    orient,
    orientation,
    pseudorapidity,
    pt_of,
    to_canonical,
)

LOG_FLOOR = 1e-6
PT_FLOOR = 1e-6

EDGE_FEATURES = G.EDGE_FEATURES  # ("eec", "log_dr", "log_kt", "log_z", "log_m2")
HYPEREDGE_FEATURES = ("log_e3c", "log_dr_max", "log_dr_mid", "log_dr_min", "log_m2")
PARTICLE_FEATURES = ("log_pt", "eta", "phi", "log_pt_rel", "log_e_rel", "log_dr_axis")
#: coordinates in which particle sets are compared (canonical frame)
LOSS_COORDINATES = ("eta", "phi", "log_pt")
#: jet regression targets (of the constituents' sum, in units of the four-momentum scale)
JET_TARGETS = ("log_pt", "log_mass")


class JetInputs(NamedTuple):
    """Every feature of a batch of dense jets, before standardization (model units).

    ``p4c`` [B, N, 4] constituents in the canonical frame; ``jet`` [B, 4] the constituents'
    sum in the lab frame, ``jet_c`` [B, 4] in the canonical frame; ``particle`` [B, N, 6]
    (PARTICLE_FEATURES) and ``coords`` [B, N, 3] (LOSS_COORDINATES); ``pairs`` [B, E, 2] the
    selected pair edges with ``edge_mask`` [B, E] and ``edges`` [B, E, 5] (EDGE_FEATURES);
    ``triplets`` [B, H, 3] with ``hmask`` [B, H] and ``hyper`` [B, H, 5]
    (HYPEREDGE_FEATURES); ``targets`` [B, 2] (JET_TARGETS). Padded entries are zero.
    """

    p4c: torch.Tensor
    jet: torch.Tensor
    jet_c: torch.Tensor
    particle: torch.Tensor
    coords: torch.Tensor
    pairs: torch.Tensor
    edge_mask: torch.Tensor
    edges: torch.Tensor
    triplets: torch.Tensor
    hmask: torch.Tensor
    hyper: torch.Tensor
    targets: torch.Tensor


def jet_inputs(
    p4: torch.Tensor,
    mask: torch.Tensor,
    max_edges: int,
    max_hyperedges: int,
    oriented: bool = False,
) -> JetInputs:
    """:class:`JetInputs` of lab-frame constituents ``p4`` [B, N, 4] already divided by the
    four-momentum scale, with ``mask`` [B, N] bool and the edge and hyperedge bounds of the
    model config. ``oriented``: ``p4c`` and ``jet_c`` are in the oriented frame
    (:func:`hepvae.physics.kinematics.orient`) instead of the canonical one."""
    p4 = p4 * mask.unsqueeze(-1).to(p4.dtype)
    jet = jet_momentum(p4, mask)
    p4c = to_canonical(p4, jet)
    if oriented:
        p4c = orient(p4c, *orientation(p4c, mask))
    jet_c = jet_momentum(p4c, mask)
    jet_pt = pt_of(jet_c, PT_FLOOR)
    pairs, edge_mask = select_edges(p4c, mask, jet_pt, max_edges)
    edges = pair_features_at(p4c, jet_pt, pairs[..., 0], pairs[..., 1])
    triplets, hmask = select_triplets(p4c, mask, jet_pt, max_hyperedges)
    real = mask.unsqueeze(-1).to(p4.dtype)
    return JetInputs(
        p4c, jet, jet_c, particle_features(p4c, mask, jet_c), loss_coordinates(p4c) * real,
        pairs, edge_mask, edges * edge_mask.unsqueeze(-1),
        triplets, hmask, triplet_features(p4c, mask, jet_pt, triplets),
        jet_targets(jet_c),
    )  # fmt: skip


def jet_targets(jet_c: torch.Tensor) -> torch.Tensor:
    """JET_TARGETS [B, 2] (log pT, log mass) of jets [B, 4] (units of the four-momentum scale)."""
    m2 = jet_c[:, 0] ** 2 - (jet_c[:, 1:] ** 2).sum(-1)
    return torch.stack(
        [torch.log(pt_of(jet_c, PT_FLOOR)), 0.5 * torch.log(m2.clamp_min(LOG_FLOOR**2))], -1
    )


def _log(x: torch.Tensor) -> torch.Tensor:
    return torch.log(x.clamp_min(LOG_FLOOR))


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


def pair_features_at(
    p4: torch.Tensor, jet_pt: torch.Tensor, first: torch.Tensor, second: torch.Tensor
) -> torch.Tensor:
    """EDGE_FEATURES [B, E, 5] of the pairs (first[b, e], second[b, e]) of each jet.

    The graph stage's :func:`hepvae.graphs.features.edge_features` (one implementation for real
    and decoded jets): eec = pT_i pT_j / pT_J^2, ln dR, ln kT, ln z, ln m^2. Callers zero the
    pairs that touch padded slots.
    """
    mask = torch.ones(p4.shape[:2], dtype=torch.bool, device=p4.device)
    return G.edge_features(p4, mask, jet_pt, torch.stack([first, second], dim=-1))


def select_triplets(
    p4: torch.Tensor, mask: torch.Tensor, jet_pt: torch.Tensor, max_hyperedges: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hyperedges [B, H, 3] (i < j < k) and their mask [B, H], H = min(C(N,3), max_hyperedges).

    The graph stage's rule (:func:`hepvae.graphs.features.select_triplets`): all triplets of
    real particles when they fit, otherwise the ``max_hyperedges`` with the largest weight
    pT_i pT_j pT_k / pT_J^3. Padded rows point at (0, 0, 0) with mask False.
    """
    with torch.no_grad():
        return G.select_triplets(p4, mask, jet_pt, max_hyperedges)


def triplet_features(
    p4: torch.Tensor, mask: torch.Tensor, jet_pt: torch.Tensor, triplets: torch.Tensor
) -> torch.Tensor:
    """HYPEREDGE_FEATURES [B, H, 5]: the graph stage's triplet features with the skewed 3-point
    weight taken as a logarithm (ln e3c, sorted ln dR sides, ln m^2)."""
    feats = G.triplet_features(p4, mask, jet_pt, triplets)
    valid = feats[..., :1] > 0
    log_w = torch.where(valid, _log(feats[..., :1]), torch.zeros_like(feats[..., :1]))
    return torch.cat([log_w, feats[..., 1:]], dim=-1)


def select_edges(
    p4: torch.Tensor, mask: torch.Tensor, jet_pt: torch.Tensor, max_edges: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pair edges [B, E, 2] (i < j) and their mask [B, E], E = min(N (N - 1) / 2, max_edges).

    Rule: all pairs of real particles when they fit, otherwise the ``max_edges`` with the
    largest EEC weight pT_i pT_j / pT_J^2 (a permutation-invariant choice). Padded rows point
    at (0, 0) with mask False.
    """
    b, n = mask.shape
    pairs = upper_pairs(n).to(p4.device)
    e = min(len(pairs), max_edges)
    if e == 0:
        return pairs.new_zeros(b, 0, 2), mask.new_zeros(b, 0)
    with torch.no_grad():
        first, second = (pairs[:, k].expand(b, -1) for k in (0, 1))
        valid = mask.gather(1, first) & mask.gather(1, second)
        if e == len(pairs):
            chosen, chosen_mask = pairs.expand(b, -1, -1), valid
        else:
            pt = pt_of(p4, PT_FLOOR)
            weight = pt.gather(1, first) * pt.gather(1, second) / jet_pt[:, None] ** 2
            top = torch.where(valid, weight, torch.full_like(weight, -1.0)).topk(e, dim=1).indices
            chosen = pairs[top]
            chosen_mask = valid.gather(1, top)
    return chosen * chosen_mask.unsqueeze(-1), chosen_mask
