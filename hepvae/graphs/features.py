"""Pair and triplet feature kernels and the edge and hyperedge selection rules, in torch.

The public functions work on dense padded batches, ``p4`` of shape [B, N, 4] holding
(E, px, py, pz) **in GeV** and a boolean ``mask`` [B, N] that is True for real particles.
They are vectorized and differentiable; the model's features (:mod:`hepvae.model.features`,
which the graph view shows) are built on them. Each feature is defined once, in a ``*_terms``
kernel on per-particle :class:`Kinematics` of any shape.

Conventions
-----------
* Rapidity ``y = asinh(pz / mT)`` with ``mT = sqrt(pT^2 + max(m^2, 0))``. For massless
  particles (the schema's default) y equals the pseudorapidity; for massive ones rapidity
  differences, unlike pseudorapidity differences, are exactly invariant under longitudinal
  boosts. For massless constituents both make dR invariant under longitudinal boosts.
  Non-physical (space-like) decoded vectors count as massless, so y is always defined.
  ``dR^2 = dy^2 + dphi^2`` with dphi wrapped to [-pi, pi).
* Logarithms are clamped at fixed floors: dR at ``DR_FLOOR``, pair and triplet masses
  squared at ``M2_FLOOR`` GeV^2.
* Masses: from (E, px, py, pz) the mass is ``sqrt(max(E^2 - p^2, 0))``, which in float32
  carries a rounding error of order 1e-3 E for massless particles; ln m^2 of nearly
  collinear pairs is then imprecise; pass float64 for exact checks.
* ``pair_features`` returns the full symmetric N x N matrix. Its ``eec`` channel includes the
  diagonal pT_i^2 / pT_J^2, so that the sum over the matrix is (sum_i pT_i / pT_J)^2; the
  logarithmic channels are zero on the diagonal. Graph edges list each unordered pair once,
  with i < j (``edge_index[0] < edge_index[1]``).
* Entries that involve a padded particle are zero, and their gradients are zero.
* Hyperedge selection (``select_triplets``): all C(n, 3) triplets when C(n, 3) <= K,
  otherwise the K triplets with the largest weight pT_i pT_j pT_k, ties broken by the
  lexicographic order of the particles' pT ranks. The top K are found among a fixed,
  small candidate list (:func:`triplet_candidates`), never among all C(n, 3) triplets.
  Selected triplets are listed in the lexicographic order of their pT ranks, each as
  particle indices i < j < k.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from torch import Tensor

# per-particle kinematics come from the one kinematics layer (re-exported here)
from hepvae.physics.kinematics import (  # noqa: F401
    Kinematics,
    four_momenta,
    kinematics,
    wrap_angle,
)

EDGE_FEATURES = ("eec", "log_dr", "log_kt", "log_z", "log_m2")
HYPEREDGE_FEATURES = ("e3c", "log_dr_max", "log_dr_mid", "log_dr_min", "log_m2")

DR_FLOOR = 1e-4
M2_FLOOR = 1e-8  # GeV^2


# -- kernels: one definition per feature, any leading shape ---------------------------------
def _angles(a: Kinematics, b: Kinematics) -> tuple[Tensor, Tensor, Tensor]:
    """Rapidity difference, azimuth difference wrapped to [-pi, pi), ln dR (floored) of a - b."""
    dphi = wrap_angle(a.phi - b.phi)
    dy = a.y - b.y
    log_dr = 0.5 * torch.log((dy * dy + dphi * dphi).clamp_min(DR_FLOOR**2))
    return dy, dphi, log_dr


def _pair_m2(a: Kinematics, b: Kinematics, dy: Tensor, dphi: Tensor) -> Tensor:
    """Invariant mass squared (p_a + p_b)^2 [GeV^2] without catastrophic cancellation.

    m^2 = m_a^2 + m_b^2 + 2 [mT_a mT_b (cosh dy - 1) + pT_a pT_b (1 - cos dphi)
    + (mT_a mT_b - pT_a pT_b)], with cosh x - 1 = 2 sinh^2(x/2) and 1 - cos x = 2 sin^2(x/2).
    """
    mtmt = a.mt * b.mt
    ptpt = a.pt * b.pt
    sh = torch.sinh(0.5 * dy)
    sn = torch.sin(0.5 * dphi)
    return a.m2 + b.m2 + 4.0 * (mtmt * sh * sh + ptpt * sn * sn) + 2.0 * (mtmt - ptpt)


def pair_terms(a: Kinematics, b: Kinematics, jet_pt: Tensor) -> Tensor:
    """EDGE_FEATURES [..., 5] of particle pairs (a, b); ``jet_pt`` [GeV] broadcastable."""
    dy, dphi, log_dr = _angles(a, b)
    log_pt_min = torch.log(torch.minimum(a.pt, b.pt))
    m2 = _pair_m2(a, b, dy, dphi)
    return torch.stack(
        [
            a.pt * b.pt / (jet_pt * jet_pt),
            log_dr,
            log_pt_min + log_dr,
            log_pt_min - torch.log(a.pt + b.pt),
            torch.log(m2.clamp_min(M2_FLOOR)),
        ],
        dim=-1,
    )


def triplet_terms(a: Kinematics, b: Kinematics, c: Kinematics, jet_pt: Tensor) -> Tensor:
    """HYPEREDGE_FEATURES [..., 5] of particle triplets; ``jet_pt`` [GeV] broadcastable.

    The 3-point weight pT_a pT_b pT_c / pT_J^3, the three ln dR sides of the triangle from
    longest to shortest, and ln m^2 of the triplet [GeV^2].
    """
    sides, masses = [], []
    for u, v in ((a, b), (a, c), (b, c)):
        dy, dphi, log_dr = _angles(u, v)
        sides.append(log_dr)
        masses.append(_pair_m2(u, v, dy, dphi))
    s_ab, s_ac, s_bc = sides
    lo, hi = torch.minimum(s_ab, s_ac), torch.maximum(s_ab, s_ac)
    longest = torch.maximum(hi, s_bc)
    middle = torch.maximum(lo, torch.minimum(hi, s_bc))
    shortest = torch.minimum(lo, s_bc)
    m2 = masses[0] + masses[1] + masses[2] - a.m2 - b.m2 - c.m2
    weight = a.pt * b.pt * c.pt / (jet_pt * jet_pt * jet_pt)
    return torch.stack(
        [weight, longest, middle, shortest, torch.log(m2.clamp_min(M2_FLOOR))], dim=-1
    )


# -- dense padded batches ---------------------------------------------------------------------
def _gather(kin: Kinematics, index: Tensor) -> Kinematics:
    """Kinematics [B, N] of particles ``index`` [M] (shared) or [B, M] -> [B, M]."""
    stacked = kin.stacked()
    if index.dim() == 1:
        return Kinematics.unstack(stacked[:, index])
    expanded = index.unsqueeze(-1).expand(*index.shape, stacked.shape[-1])
    return Kinematics.unstack(torch.gather(stacked, 1, expanded))


def _gather_mask(mask: Tensor, index: Tensor) -> Tensor:
    return mask[:, index] if index.dim() == 1 else torch.gather(mask, 1, index)


def _zero_where(valid: Tensor, feats: Tensor) -> Tensor:
    return torch.where(valid.unsqueeze(-1), feats, torch.zeros_like(feats))


def pair_features(p4: Tensor, mask: Tensor, jet_pt: Tensor) -> Tensor:
    """Dense EDGE_FEATURES [B, N, N, 5] of all particle pairs of each jet.

    ``p4`` [B, N, 4] in GeV, ``mask`` [B, N] bool, ``jet_pt`` [B] in GeV (pT_J of the EEC
    weights). Symmetric in (i, j). The ``eec`` channel keeps its diagonal pT_i^2 / pT_J^2;
    the other channels are zero on the diagonal; entries with a padded particle are zero.
    """
    kin = kinematics(p4, mask)
    a = Kinematics(*(t.unsqueeze(2) for t in kin))
    b = Kinematics(*(t.unsqueeze(1) for t in kin))
    feats = pair_terms(a, b, jet_pt.reshape(-1, 1, 1))
    pair_mask = mask.unsqueeze(2) & mask.unsqueeze(1)
    off_diag = pair_mask & ~torch.eye(p4.shape[1], dtype=torch.bool, device=p4.device)
    keep = torch.cat(
        [pair_mask.unsqueeze(-1), off_diag.unsqueeze(-1).expand(-1, -1, -1, feats.shape[-1] - 1)],
        dim=-1,
    )
    return torch.where(keep, feats, torch.zeros_like(feats))


def edge_features(p4: Tensor, mask: Tensor, jet_pt: Tensor, pairs: Tensor) -> Tensor:
    """EDGE_FEATURES [B, P, 5] of listed pairs ``pairs`` [P, 2] (shared) or [B, P, 2].

    The same values as :func:`pair_features` at those entries, without the N x N matrix.
    Pairs touching a padded particle, or with i == j, are zero.
    """
    kin = kinematics(p4, mask)
    i, j = pairs[..., 0], pairs[..., 1]
    feats = pair_terms(_gather(kin, i), _gather(kin, j), jet_pt.reshape(-1, 1))
    return _zero_where(_gather_mask(mask, i) & _gather_mask(mask, j) & (i != j), feats)


def triplet_features(p4: Tensor, mask: Tensor, jet_pt: Tensor, triplets: Tensor) -> Tensor:
    """HYPEREDGE_FEATURES [B, H, 5] of particle triplets ``triplets`` [B, H, 3] (long).

    See :func:`triplet_terms`. Padding triplets (a repeated index or a padded particle) give
    zeros.
    """
    kin = kinematics(p4, mask)
    i, j, k = triplets.unbind(-1)
    feats = triplet_terms(_gather(kin, i), _gather(kin, j), _gather(kin, k), jet_pt.reshape(-1, 1))
    valid = (
        _gather_mask(mask, i)
        & _gather_mask(mask, j)
        & _gather_mask(mask, k)
        & (i != j)
        & (i != k)
        & (j != k)
    )
    return _zero_where(valid, feats)


# -- graph structure --------------------------------------------------------------------------
@functools.lru_cache(maxsize=256)
def upper_pairs(n: int) -> Tensor:
    """All pairs (i, j) with i < j < n, lexicographic, as a long tensor [n (n - 1) / 2, 2]."""
    i, j = np.triu_indices(n, 1)
    return torch.from_numpy(np.stack([i, j], axis=1).astype(np.int64))


@functools.lru_cache(maxsize=512)
def triplet_candidates(n: int, max_hyperedges: int) -> Tensor:
    """Rank triplets (a < b < c < n) that can be among the top ``max_hyperedges`` [M, 3].

    With particles ordered by descending pT, a rank triplet (a, b, c) is outweighed (or tied
    and lexicographically preceded) by every rank triplet (a', b', c') with a' <= a, b' <= b,
    c' <= c. Their number, including itself, is D = sum_{b'=1..b} min(a+1, b') (c - b'),
    linear in c. Only triplets with D <= K can be selected, so for n = 150 and K = 256 this
    keeps 1,324 of the 551,300 triplets. It contains every triplet when C(n, 3) <= K, and
    its subset with c < m is the candidate list for a jet of m <= n particles. Lexicographic.
    """
    if n < 3 or max_hyperedges <= 0:
        return torch.zeros((0, 3), dtype=torch.int64)
    a, b = np.triu_indices(n, 1)
    a1 = a + 1
    m = np.minimum(a1, b)
    slope = m * (m + 1) // 2 + a1 * (b - m)
    offset = m * (m + 1) * (2 * m + 1) // 6 + a1 * (b * (b + 1) // 2 - m * (m + 1) // 2)
    c_max = np.minimum((max_hyperedges + offset) // np.maximum(slope, 1), n - 1)
    count = np.clip(c_max - b, 0, None)
    rep_a, rep_b = np.repeat(a, count), np.repeat(b, count)
    start = np.repeat(np.cumsum(count) - count, count)
    rep_c = rep_b + 1 + np.arange(int(count.sum())) - start
    return torch.from_numpy(np.stack([rep_a, rep_b, rep_c], axis=1).astype(np.int64))


def select_ranked(pt: Tensor, mask: Tensor, max_hyperedges: int) -> tuple[Tensor, Tensor]:
    """The selected triplets of each jet as a flat list, from pT [B, N] (any positive scale).

    Returns ``graph`` [M] (the jet of each triplet, ascending) and ``triplets`` [M, 3]
    (particle indices i < j < k into the input order). Within a jet the triplets follow the
    lexicographic order of their pT ranks. Rule as in :func:`select_triplets`.
    """
    bsz, n = mask.shape
    device = pt.device
    cands = triplet_candidates(n, max_hyperedges).to(device)
    if len(cands) == 0:
        empty = torch.zeros(0, dtype=torch.int64, device=device)
        return empty, torch.zeros((0, 3), dtype=torch.int64, device=device)
    with torch.no_grad():
        pt = pt.masked_fill(~mask, -1.0)
        pt_sorted, order = torch.sort(pt, dim=1, descending=True, stable=True)
        cols = [pt_sorted.index_select(1, cands[:, c]) for c in range(3)]
        weight = cols[0] * cols[1] * cols[2]
        real = cands[:, 2].unsqueeze(0) < mask.sum(dim=1, keepdim=True)
        weight = torch.where(real, weight, torch.full_like(weight, -1.0))
        if len(cands) > max_hyperedges:
            # the K-th largest weight, then ties at it in lexicographic (candidate) order
            kth = torch.topk(weight, max_hyperedges, dim=1, sorted=False).values.min(1).values
            above = weight > kth.unsqueeze(1)
            tied = weight == kth.unsqueeze(1)
            room = max_hyperedges - above.sum(1, keepdim=True)
            chosen = real & (above | (tied & (torch.cumsum(tied, 1) <= room)))
        else:
            chosen = real
        graph, slot = chosen.nonzero(as_tuple=True)
        ranks = cands[slot]
        index = order[graph.unsqueeze(1), ranks]
        lo = torch.minimum(index[:, 0], index[:, 1])
        hi = torch.maximum(index[:, 0], index[:, 1])
        index = torch.stack(
            [
                torch.minimum(lo, index[:, 2]),
                torch.maximum(lo, torch.minimum(hi, index[:, 2])),
                torch.maximum(hi, index[:, 2]),
            ],
            dim=1,
        )
    return graph, index


def select_triplets(
    p4: Tensor, mask: Tensor, jet_pt: Tensor, max_hyperedges: int
) -> tuple[Tensor, Tensor]:
    """Choose up to ``max_hyperedges`` triplets per jet: ([B, H, 3] long, [B, H] bool).

    All triplets when C(n, 3) <= K, otherwise the K largest by pT_i pT_j pT_k, ties broken
    by the lexicographic order of the particles' pT ranks. H = min(K, C(N, 3)). Each row
    holds particle indices i < j < k into the input order; rows follow the lexicographic
    order of pT ranks (leading particles first); padding rows are (0, 0, 0) with a False
    flag. Not differentiable (indices); the features of the chosen triplets are, through
    :func:`triplet_features`. ``jet_pt`` only scales the weights and does not change the
    choice; it is accepted for a uniform signature.
    """
    del jet_pt
    bsz, n = mask.shape
    n_out = min(max_hyperedges, math.comb(n, 3)) if max_hyperedges > 0 else 0
    graph, index = select_ranked(kinematics(p4, mask).pt.detach(), mask, max_hyperedges)
    per_jet = torch.bincount(graph, minlength=bsz)
    start = torch.cumsum(per_jet, 0) - per_jet
    slot = torch.arange(len(graph), device=graph.device) - start[graph]
    out = torch.zeros((bsz, n_out, 3), dtype=torch.int64, device=p4.device)
    valid = torch.zeros((bsz, n_out), dtype=torch.bool, device=p4.device)
    out[graph, slot] = index
    valid[graph, slot] = True
    return out, valid
