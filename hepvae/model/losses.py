"""Loss terms of the VAE on dense padded jets.

Set losses compare predicted particles (i, mask ``pmask``) with true particles (j, mask
``tmask``) through a cost matrix ``cost`` [B, Np, Nt] and return the loss per jet [B] together
with an *assignment* [B, Nt]: the predicted slot that stands for each true particle. The edge
and hyperedge losses use that same assignment, so they are consistent with the particle loss.

- ``chamfer``: mean over true of the nearest prediction plus mean over predictions of the
  nearest true particle; each true particle is assigned its nearest prediction.
- ``hungarian``: the optimal one-to-one matching (scipy's ``linear_sum_assignment`` on the
  detached cost); particles left over when the counts differ add their nearest distance.
- ``sinkhorn``: entropic optimal transport with uniform weights (log domain); each true
  particle is assigned the prediction carrying most of its mass.
- ``ordered``: no matching: the k-th real predicted slot stands for the k-th hardest true
  particle (by pT), so that each slot has one stable target (the leading particle, the
  second, ...); particles left over when the counts differ add their nearest distance.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

BIG = 1e9


def squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """|a_i - b_j|^2: [B, N, D], [B, M, D] -> [B, N, M]."""
    return ((a.unsqueeze(2) - b.unsqueeze(1)) ** 2).sum(-1)


def coordinate_cost(pred: torch.Tensor, true: torch.Tensor, angle_weight: float = 1.0):
    """Set-loss cost [B, Np, Nt] between standardized (eta, phi, ln pT) [B, N, 3]:
    ``angle_weight`` (d eta^2 + d phi^2) + d ln pT^2."""
    scale = pred.new_tensor([angle_weight**0.5, angle_weight**0.5, 1.0])
    return squared_distances(pred * scale, true * scale)


def _nearest(cost, pmask, tmask):
    masked = cost.masked_fill(~(pmask[:, :, None] & tmask[:, None, :]), BIG)
    to_true, nearest_pred = masked.min(1)  # per true particle
    to_pred, _ = masked.min(2)  # per predicted particle
    return to_true, nearest_pred, to_pred


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    w = mask.to(values.dtype)
    return (values * w).sum(-1) / w.sum(-1).clamp_min(1.0)


def chamfer(cost, pmask, tmask):
    """Chamfer loss [B] and nearest-prediction assignment [B, Nt]."""
    to_true, nearest_pred, to_pred = _nearest(cost, pmask, tmask)
    loss = _masked_mean(to_true, tmask) + _masked_mean(to_pred, pmask)
    return loss, nearest_pred


def hungarian(cost, pmask, tmask):
    """Optimal one-to-one matching loss [B] and assignment [B, Nt]."""
    to_true, nearest_pred, to_pred = _nearest(cost, pmask, tmask)
    assign = nearest_pred.clone()
    matched_p = torch.zeros_like(pmask)
    matched_t = torch.zeros_like(tmask)
    detached = cost.detach().cpu().numpy()
    np_counts = pmask.sum(1).tolist()
    nt_counts = tmask.sum(1).tolist()
    pmask_np, tmask_np = pmask.cpu().numpy(), tmask.cpu().numpy()
    rows_all, cols_all, batch_all = [], [], []
    for b in range(cost.shape[0]):
        if np_counts[b] == 0 or nt_counts[b] == 0:
            continue
        p_idx = np.flatnonzero(pmask_np[b])
        t_idx = np.flatnonzero(tmask_np[b])
        r, c = linear_sum_assignment(detached[b][np.ix_(p_idx, t_idx)])
        rows_all.append(p_idx[r])
        cols_all.append(t_idx[c])
        batch_all.append(np.full(len(r), b))
    loss = cost.new_zeros(cost.shape[0])
    if rows_all:
        bi = torch.from_numpy(np.concatenate(batch_all)).to(cost.device)
        ri = torch.from_numpy(np.concatenate(rows_all)).to(cost.device)
        ci = torch.from_numpy(np.concatenate(cols_all)).to(cost.device)
        loss = loss.index_add(0, bi, cost[bi, ri, ci])
        assign[bi, ci] = ri
        matched_p[bi, ri] = True
        matched_t[bi, ci] = True
    loss = loss + (to_true * (tmask & ~matched_t)).sum(1) + (to_pred * (pmask & ~matched_p)).sum(1)
    n = torch.maximum(pmask.sum(1), tmask.sum(1)).clamp_min(1).to(cost.dtype)
    return loss / n, assign


def ordered(cost, pmask, tmask, true_pt):
    """Loss [B] and assignment [B, Nt] pairing the k-th real predicted slot with the k-th
    hardest true particle by ``true_pt`` [B, Nt] (any unit)."""
    to_true, nearest_pred, to_pred = _nearest(cost, pmask, tmask)
    n_pred, n_true = pmask.sum(1, keepdim=True), tmask.sum(1, keepdim=True)
    rank = torch.arange(cost.shape[1], device=cost.device).expand_as(pmask)
    slot_of_rank = torch.where(pmask, rank, cost.shape[1]).sort(1).values  # real slots first
    by_pt = true_pt.masked_fill(~tmask, float("-inf")).argsort(1, descending=True)
    k = min(cost.shape[1], cost.shape[2])
    paired = torch.arange(k, device=cost.device) < torch.minimum(n_pred, n_true)  # [B, k]
    slots, trues = slot_of_rank[:, :k].clamp_max(cost.shape[1] - 1), by_pt[:, :k]
    pair_cost = cost.gather(1, slots.unsqueeze(-1).expand(-1, -1, cost.shape[2]))
    pair_cost = pair_cost.gather(2, trues.unsqueeze(-1)).squeeze(-1)
    matched_t = torch.zeros_like(tmask).scatter(1, trues, paired) & tmask
    matched_p = pmask & (pmask.cumsum(1) <= torch.minimum(n_pred, n_true))
    kept = nearest_pred.gather(1, trues)
    assign = nearest_pred.scatter(1, trues, torch.where(paired, slots, kept))
    loss = (pair_cost * paired).sum(1)
    loss = loss + (to_true * (tmask & ~matched_t)).sum(1) + (to_pred * (pmask & ~matched_p)).sum(1)
    return loss / torch.maximum(n_pred, n_true).squeeze(1).clamp_min(1).to(cost.dtype), assign


def sinkhorn(cost, pmask, tmask, epsilon: float = 0.05, iterations: int = 30):
    """Entropic optimal-transport loss [B] and assignment [B, Nt]."""
    valid = pmask[:, :, None] & tmask[:, None, :]
    log_a = torch.log(pmask.to(cost.dtype) / pmask.sum(1, keepdim=True).clamp_min(1))
    log_b = torch.log(tmask.to(cost.dtype) / tmask.sum(1, keepdim=True).clamp_min(1))
    log_k = (-cost / epsilon).masked_fill(~valid, -BIG)
    f = torch.zeros_like(log_a)
    g = torch.zeros_like(log_b)
    for _ in range(iterations):
        f = log_a - torch.logsumexp(log_k + g[:, None, :], dim=2)
        f = f.masked_fill(~pmask, -BIG)
        g = log_b - torch.logsumexp(log_k + f[:, :, None], dim=1)
        g = g.masked_fill(~tmask, -BIG)
    plan = torch.exp(log_k + f[:, :, None] + g[:, None, :]) * valid
    loss = (plan * cost.masked_fill(~valid, 0.0)).sum((1, 2))
    return loss, plan.argmax(1)


def pt_weights(pt: torch.Tensor, mask: torch.Tensor, share: float) -> torch.Tensor:
    """Per-particle weights [B, N] of a set loss: (1 - share) + share * n * z_j.

    ``pt`` [B, N] (any unit), ``mask`` [B, N]; z_j = pT_j / sum_k pT_k over the n real particles
    of the jet. The weights average to 1 over each jet's real particles (0 on padding), so
    ``share = 0`` weighs every particle the same and ``share = 1`` weighs them by pT, which
    lets the few hard particles that make a jet's prongs count as much as its many soft ones.
    """
    w = mask.to(pt.dtype)
    n = w.sum(-1, keepdim=True)
    z = pt * w / (pt * w).sum(-1, keepdim=True).clamp_min(torch.finfo(pt.dtype).tiny)
    return ((1.0 - share) + share * n * z) * w


def set_loss(
    kind: str, cost, pmask, tmask, epsilon: float = 0.05, iterations: int = 30, true_pt=None
):
    """Dispatch to ``chamfer``, ``hungarian``, ``sinkhorn`` or ``ordered`` (needs ``true_pt``)."""
    if kind == "chamfer":
        return chamfer(cost, pmask, tmask)
    if kind == "hungarian":
        return hungarian(cost, pmask, tmask)
    if kind == "sinkhorn":
        return sinkhorn(cost, pmask, tmask, epsilon, iterations)
    if kind == "ordered":
        return ordered(cost, pmask, tmask, true_pt)
    raise ValueError(f"unknown set loss {kind!r}")


def feature_loss(pred: torch.Tensor, true: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared difference [B] of features [B, K, F] over the entries where ``mask``."""
    return _masked_mean(((pred - true) ** 2).mean(-1), mask)


#: the per-jet observables of :func:`shape_observables`
SHAPE_OBSERVABLES = ("m20", "m11", "m02", "m30", "m21", "m12", "m03", "width", "eec_log_dr")


def shape_observables(
    eta: torch.Tensor, phi: torch.Tensor, pt: torch.Tensor, mask: torch.Tensor, eps: float = 1e-4
) -> torch.Tensor:
    """pT-weighted jet-shape observables [B, 9] (SHAPE_OBSERVABLES) from eta, phi, pt [B, N].

    With z_i = pT_i / sum pT and angles taken from the pT-weighted centroid: the second and
    third angular moments sum_i z_i eta^a phi^b (a + b = 2, 3; they fix the orientation and
    layout of the prongs), the width sum_i z_i dR_i, and the EEC's mean
    sum_{i != j} z_i z_j ln dR_ij / sum_{i != j} z_i z_j (the collinear structure). ``eps``
    (rad) softens dR so that the gradient stays finite for coincident particles.
    """
    w = mask.to(pt.dtype)
    z = pt * w / (pt * w).sum(-1, keepdim=True).clamp_min(torch.finfo(pt.dtype).tiny)
    de = eta - (z * eta).sum(-1, keepdim=True)
    dp = phi - (z * phi).sum(-1, keepdim=True)
    moments = [(z * de**a * dp ** (n - a)).sum(-1) for n in (2, 3) for a in range(n, -1, -1)]
    width = (z * torch.sqrt(de**2 + dp**2 + eps**2)).sum(-1)
    dr2 = (de[:, :, None] - de[:, None, :]) ** 2 + (dp[:, :, None] - dp[:, None, :]) ** 2
    eye = torch.eye(z.shape[1], dtype=z.dtype, device=z.device)
    pair = z[:, :, None] * z[:, None, :] * (1.0 - eye)
    log_dr = 0.5 * torch.log(dr2 + eps**2 + eye)  # the diagonal (weight 0) stays finite
    eec = (pair * log_dr).sum((1, 2)) / pair.sum((1, 2)).clamp_min(torch.finfo(pt.dtype).tiny)
    return torch.stack([*moments, width, eec], dim=-1)


#: the per-jet observables of :func:`nsubjettiness_observables`
NSUBJETTINESS_OBSERVABLES = ("tau1", "tau2", "tau3", "tau21", "tau32")


#: hardest particles whose N-subsets seed :func:`nsubjettiness`'s axes
SEED_PARTICLES = 8


def nsubjettiness(
    eta: torch.Tensor,
    phi: torch.Tensor,
    pt: torch.Tensor,
    mask: torch.Tensor,
    n_max: int = 3,
    r0: float = 0.8,
    iterations: int = 4,
    eps: float = 1e-4,
) -> torch.Tensor:
    """Normalized N-subjettiness tau_1 ... tau_{n_max} [B, n_max] (beta = 1) from eta, phi,
    pt [B, N].

    tau_N = sum_i pT_i min_k dR_ik / (sum_i pT_i r0), with ``r0`` and dR in rad. The N axes
    locally minimize it: ``iterations`` rounds towards each subjet's pT-weighted geometric
    median, from two seeds (tau_{N-1}'s axes plus the particle that adds most to it; the best N
    of the SEED_PARTICLES hardest particles), keeping the better per jet. The axes carry no
    gradient (at a minimum their own gradient vanishes); the particles do. ``eps`` (rad)
    softens dR on an axis.
    """
    w = pt * mask.to(pt.dtype)
    points = torch.stack([eta, phi], dim=-1)  # [B, N, 2]
    weight, fixed = w.detach(), points.detach()  # what the axis search sees
    tiny = torch.finfo(pt.dtype).tiny

    def distances(axes):  # [B, N, K]
        d_eta = points[:, :, None, 0] - axes[:, None, :, 0]
        d_phi = points[:, :, None, 1] - axes[:, None, :, 1]
        return torch.sqrt(d_eta**2 + d_phi**2 + eps**2)

    def unnormalized(axes, weights):  # sum_i w_i min_k dR_ik [B]
        return (weights * distances(axes).amin(-1)).sum(-1)

    def refine(axes):  # a pT-weighted mean, then Weiszfeld steps towards each median
        for step in range(iterations):
            d = distances(axes)
            member = torch.nn.functional.one_hot(d.argmin(-1), axes.shape[1]).to(pt.dtype)
            share = member * (weight / (d.amin(-1) if step else 1.0)).unsqueeze(-1)
            norm = share.sum(1).unsqueeze(-1)
            moved = share.transpose(1, 2) @ fixed / norm.clamp_min(tiny)
            axes = torch.where(norm > 0, moved, axes)
        return axes

    def particles(index):  # [B, K, 2]
        return fixed.gather(1, index.unsqueeze(-1).expand(-1, -1, 2))

    def best_combination(index, n):  # the n of ``index`` that, as axes, give the lowest tau
        combos = torch.combinations(torch.arange(index.shape[1], device=index.device), n)
        d = distances(particles(index))  # [B, N, S]
        tau = (weight.unsqueeze(-1) * d[:, :, combos].amin(-1)).sum(1)  # [B, C]
        return particles(index.gather(1, combos[tau.argmin(1)]))

    found = []
    with torch.no_grad():
        share = weight / weight.sum(-1, keepdim=True).clamp_min(tiny)
        axes = refine((share.unsqueeze(-1) * fixed).sum(1, keepdim=True))
        found.append(axes)
        hardest = weight.argsort(1, descending=True)
        for n in range(2, n_max + 1):
            gain = weight * distances(axes).amin(-1)
            seeds = [torch.cat([axes, particles(gain.argmax(1, keepdim=True))], dim=1)]
            seeds.append(best_combination(hardest[:, :SEED_PARTICLES], n))
            candidates = [refine(seed) for seed in seeds]
            tau = torch.stack([unnormalized(c, weight) for c in candidates])
            best = tau.argmin(0)[:, None, None]
            axes = torch.where(best == 0, candidates[0], candidates[1])
            found.append(axes)
    total = w.sum(-1).clamp_min(tiny) * r0
    return torch.stack([unnormalized(a, w) / total for a in found], dim=-1)


def nsubjettiness_observables(
    eta: torch.Tensor, phi: torch.Tensor, pt: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """tau_1, tau_2, tau_3 and the ratios tau_21, tau_32 [B, 5] (NSUBJETTINESS_OBSERVABLES)
    of :func:`nsubjettiness`; a ratio is 0 where its denominator is 0."""
    tau = nsubjettiness(eta, phi, pt, mask)
    tiny = torch.finfo(tau.dtype).tiny
    ratios = [tau[:, k + 1] / tau[:, k].clamp_min(tiny) * (tau[:, k] > 0) for k in (0, 1)]
    return torch.cat([tau, torch.stack(ratios, dim=-1)], dim=-1)


def observable_loss(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Mean squared difference [B] of per-jet observables [B, K], each in units of its spread
    over the batch's true jets (detached)."""
    scale = true.detach().std(0, keepdim=True).clamp_min(1e-6) if len(true) > 1 else 1.0
    return (((pred - true) / scale) ** 2).mean(-1)


def kl_divergence(mu, logvar, free_bits: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """KL(q(z|x) || N(0, 1)): (penalized value, raw value), both summed over dimensions.

    Free bits: the batch mean of each dimension's KL is floored at ``free_bits`` nats before the
    sum, so dimensions below it get no pressure towards the prior.
    """
    per_dim = 0.5 * (mu**2 + logvar.exp() - 1.0 - logvar)
    raw = per_dim.mean(0)
    penalized = torch.clamp(raw, min=free_bits) if free_bits > 0 else raw
    return penalized.sum(), raw.sum()


def kl_weight(step: int, weight: float, warmup_steps: int) -> float:
    """Linear KL annealing from 0 to ``weight`` over ``warmup_steps`` optimizer steps."""
    if warmup_steps <= 0:
        return weight
    return weight * min(1.0, step / warmup_steps)
