"""Normalization statistics of the model, computed once from the training split.

Everything the model needs to map physical jets to network inputs and back: the global
four-momentum scale (one constant in GeV, never per component), means and widths of the
canonical-frame particle features, loss coordinates, pair and triplet features and jet targets,
and per-class quantiles of the jet rapidity (used to place generated jets in the lab frame).
The statistics travel with the model as buffers and, as plain lists, in checkpoints.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from hepvae.model import features as F
from hepvae.model.config import ModelConfig
from hepvae.physics.kinematics import jet_momentum, pt_of, rapidity, to_canonical

#: number of rapidity quantiles stored per class
N_QUANTILES = 65


@dataclass
class ModelNormalization:
    """Statistics as plain lists (JSON-able). Units: ``p4_scale`` in GeV."""

    p4_scale: float
    particle_mean: list[float]
    particle_std: list[float]
    coord_mean: list[float]
    coord_std: list[float]
    edge_mean: list[float]
    edge_std: list[float]
    hyper_mean: list[float]
    hyper_std: list[float]
    jet_mean: list[float]
    jet_std: list[float]
    #: [n_labels][N_QUANTILES] quantiles of the jet rapidity per class
    rapidity_quantiles: list[list[float]]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelNormalization:
        names = {f.name for f in dataclasses.fields(cls)}
        if set(data) != names:
            raise ValueError(f"normalization keys differ: {sorted(set(data) ^ names)}")
        return cls(**data)

    def tensors(self) -> dict[str, torch.Tensor]:
        """The statistics as float32 tensors, keyed like the buffers of the model."""
        out = {}
        for f in dataclasses.fields(self):
            out[f.name] = torch.tensor(getattr(self, f.name), dtype=torch.float32)
        return out


def _mean_std(values: torch.Tensor) -> tuple[list[float], list[float]]:
    values = values.double()
    if len(values) < 2:
        dim = values.shape[-1]
        return [0.0] * dim, [1.0] * dim
    std = values.std(0).clamp_min(1e-6)
    return values.mean(0).tolist(), std.tolist()


def jet_targets(jet_c: torch.Tensor) -> torch.Tensor:
    """Jet regression targets (log pT, log mass) [B, 2] (units of the four-momentum scale)."""
    m2 = jet_c[:, 0] ** 2 - (jet_c[:, 1:] ** 2).sum(-1)
    return torch.stack(
        [torch.log(pt_of(jet_c, F.PT_FLOOR)), 0.5 * torch.log(m2.clamp_min(F.LOG_FLOOR**2))], -1
    )


@torch.no_grad()
def compute_normalization(
    p4: torch.Tensor,
    mask: torch.Tensor,
    label: torch.Tensor,
    config: ModelConfig,
    max_jets: int = 10000,
) -> ModelNormalization:
    """Statistics from training jets: p4 [J, N, 4] in GeV, mask [J, N] bool, label [J],
    with the edge and hyperedge selection of the model ``config``.

    Uses the first ``max_jets`` jets with finite four-momenta and at least one constituent.
    """
    good = torch.isfinite(p4).flatten(1).all(1) & mask.any(1)
    p4, mask, label = p4[good][:max_jets].double(), mask[good][:max_jets], label[good][:max_jets]
    jet = jet_momentum(p4, mask)
    p4c = to_canonical(p4, jet)
    real_e = p4c[..., 0][mask]
    scale = float(real_e.mean()) if real_e.numel() else 1.0
    p4c, jet, jet_c = p4c / scale, jet / scale, jet_momentum(p4c / scale, mask)
    values: dict[str, list[torch.Tensor]] = {k: [] for k in ("particle", "coord", "edge", "hyper")}
    for i in torch.arange(len(mask)).split(1024):  # bounded memory for the triplet search
        _features(p4c[i], mask[i], jet_c[i], config, values)
    y = rapidity(jet)
    probs = torch.linspace(0, 1, N_QUANTILES, dtype=torch.float64)
    pooled = torch.quantile(y, probs)
    quantiles = [
        (torch.quantile(y[label == k], probs) if (label == k).sum() > 1 else pooled).tolist()
        for k in range(config.n_labels)
    ]
    stats = {}
    values["jet"] = [jet_targets(jet_c)]
    for name, chunks in values.items():
        stats[f"{name}_mean"], stats[f"{name}_std"] = _mean_std(torch.cat(chunks))
    return ModelNormalization(p4_scale=scale, rapidity_quantiles=quantiles, **stats)


def _features(p4c, mask, jet_c, config: ModelConfig, out: dict) -> None:
    """Append the real entries of all normalized feature kinds of a chunk of jets to ``out``."""
    out["particle"].append(F.particle_features(p4c, mask, jet_c)[mask])
    out["coord"].append(F.loss_coordinates(p4c)[mask])
    jet_pt = pt_of(jet_c, F.PT_FLOOR)
    pairs, pair_mask = F.select_edges(p4c, mask, jet_pt, config.max_edges)
    out["edge"].append(F.pair_features_at(p4c, jet_pt, pairs[..., 0], pairs[..., 1])[pair_mask])
    triplets, tmask = F.select_triplets(p4c, mask, jet_pt, config.max_hyperedges)
    out["hyper"].append(F.triplet_features(p4c, mask, jet_pt, triplets)[tmask])
