"""Normalization of graph features: one global four-momentum scale and per-feature z-scores.

Four-momenta are divided by a single constant ``p4_scale`` (GeV), never per component, so a
Lorentz transformation commutes with normalization: normalize(L p) = L normalize(p).
Scalar features (nodes, edges, hyperedges, jet targets) are z-scored with means and
standard deviations from the training split. A feature with zero spread gets std 1, so it
is only centred. All statistics are plain floats, stored as JSON with the data set and in
model checkpoints (:meth:`Normalization.to_dict` / :meth:`Normalization.from_dict`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from hepvae.errors import HepvaeError
from hepvae.graphs.features import EDGE_FEATURES, HYPEREDGE_FEATURES, JET_FEATURES, NODE_FEATURES

FORMAT_VERSION = 1
_GROUPS = {
    "node": NODE_FEATURES,
    "edge": EDGE_FEATURES,
    "hyperedge": HYPEREDGE_FEATURES,
    "jet": JET_FEATURES,
}


def nice_scale(value: float) -> float:
    """Round a positive number to the nearest of 1, 2, 5 x 10^k (in log space)."""
    if not (value > 0 and math.isfinite(value)):
        raise HepvaeError(f"cannot choose a four-momentum scale from {value!r} GeV")
    exponent = math.floor(math.log10(value))
    mantissa = value / 10**exponent
    best = min((1.0, 2.0, 5.0, 10.0), key=lambda m: abs(math.log(mantissa / m)))
    return float(best * 10**exponent)


@dataclasses.dataclass(frozen=True)
class Normalization:
    """Feature statistics of a training split (GeV for ``p4_scale``; features as named)."""

    p4_scale: float
    node_mean: tuple[float, ...]
    node_std: tuple[float, ...]
    edge_mean: tuple[float, ...]
    edge_std: tuple[float, ...]
    hyperedge_mean: tuple[float, ...]
    hyperedge_std: tuple[float, ...]
    jet_mean: tuple[float, ...]
    jet_std: tuple[float, ...]
    n_jets: int = 0

    def __post_init__(self) -> None:
        if not (self.p4_scale > 0 and math.isfinite(self.p4_scale)):
            raise HepvaeError(f"normalization: p4_scale must be > 0, got {self.p4_scale!r}")
        for group, names in _GROUPS.items():
            for kind in ("mean", "std"):
                values = getattr(self, f"{group}_{kind}")
                if len(values) != len(names):
                    raise HepvaeError(
                        f"normalization: {group}_{kind} has {len(values)} values, "
                        f"expected {len(names)} ({', '.join(names)})"
                    )
                if not all(math.isfinite(v) for v in values):
                    raise HepvaeError(f"normalization: {group}_{kind} has non-finite values")
            if any(v <= 0 for v in getattr(self, f"{group}_std")):
                raise HepvaeError(f"normalization: {group}_std must be > 0")

    # -- four-momenta ---------------------------------------------------------------------
    def normalize_p4(self, p4: Tensor) -> Tensor:
        """(E, px, py, pz) in GeV -> dimensionless, divided by ``p4_scale``."""
        return p4 / self.p4_scale

    def denormalize_p4(self, p4: Tensor) -> Tensor:
        """Inverse of :meth:`normalize_p4`: back to GeV."""
        return p4 * self.p4_scale

    # -- z-scored scalars -----------------------------------------------------------------
    def normalize_node(self, x: Tensor) -> Tensor:
        return self._forward("node", x)

    def denormalize_node(self, x: Tensor) -> Tensor:
        return self._inverse("node", x)

    def normalize_edge(self, x: Tensor) -> Tensor:
        return self._forward("edge", x)

    def denormalize_edge(self, x: Tensor) -> Tensor:
        return self._inverse("edge", x)

    def normalize_hyperedge(self, x: Tensor) -> Tensor:
        return self._forward("hyperedge", x)

    def denormalize_hyperedge(self, x: Tensor) -> Tensor:
        return self._inverse("hyperedge", x)

    def normalize_jet(self, x: Tensor) -> Tensor:
        return self._forward("jet", x)

    def denormalize_jet(self, x: Tensor) -> Tensor:
        return self._inverse("jet", x)

    def _stats(self, group: str, x: Tensor) -> tuple[Tensor, Tensor]:
        mean = torch.tensor(getattr(self, f"{group}_mean"), dtype=x.dtype, device=x.device)
        std = torch.tensor(getattr(self, f"{group}_std"), dtype=x.dtype, device=x.device)
        return mean, std

    def _forward(self, group: str, x: Tensor) -> Tensor:
        mean, std = self._stats(group, x)
        return (x - mean) / std

    def _inverse(self, group: str, x: Tensor) -> Tensor:
        mean, std = self._stats(group, x)
        return x * std + mean

    # -- serialization --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (floats round-trip exactly through JSON) with feature names."""
        out: dict[str, Any] = {"format": FORMAT_VERSION, "p4_scale": self.p4_scale}
        for group, names in _GROUPS.items():
            out[group] = {
                "features": list(names),
                "mean": list(getattr(self, f"{group}_mean")),
                "std": list(getattr(self, f"{group}_std")),
            }
        out["n_jets"] = self.n_jets
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "normalization") -> Normalization:
        """Inverse of :meth:`to_dict`; errors name ``where`` and what does not match."""
        if not isinstance(data, Mapping):
            raise HepvaeError(f"{where}: expected a mapping")
        expected = {"format", "p4_scale", "n_jets", *_GROUPS}
        if set(data) != expected:
            raise HepvaeError(
                f"{where}: keys {sorted(data)} do not match the expected {sorted(expected)}"
            )
        if data["format"] != FORMAT_VERSION:
            raise HepvaeError(f"{where}: format {data['format']!r}, expected {FORMAT_VERSION}")
        values: dict[str, Any] = {"p4_scale": float(data["p4_scale"]), "n_jets": data["n_jets"]}
        for group, names in _GROUPS.items():
            entry = data[group]
            if not isinstance(entry, Mapping) or tuple(entry.get("features", ())) != names:
                raise HepvaeError(
                    f"{where}: {group} features {entry.get('features') if isinstance(entry, Mapping) else entry!r} "
                    f"do not match this version of hepvae ({', '.join(names)})"
                )
            values[f"{group}_mean"] = tuple(float(v) for v in entry["mean"])
            values[f"{group}_std"] = tuple(float(v) for v in entry["std"])
        return cls(**values)


class RunningStats:
    """Mean and standard deviation of feature columns, accumulated in float64 chunk by chunk."""

    def __init__(self, n_features: int):
        self.count = 0
        self.sum = np.zeros(n_features)
        self.sumsq = np.zeros(n_features)
        self.min = np.full(n_features, np.inf)
        self.max = np.full(n_features, -np.inf)

    def update(self, x: Tensor) -> None:
        """Add rows of ``x`` [M, F]."""
        if x.shape[0] == 0:
            return
        x64 = x.detach().to(torch.float64)
        self.count += x.shape[0]
        self.sum += x64.sum(0).numpy()
        self.sumsq += (x64 * x64).sum(0).numpy()
        self.min = np.minimum(self.min, x64.min(0).values.numpy())
        self.max = np.maximum(self.max, x64.max(0).values.numpy())

    def mean_std(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Means and standard deviations; (0, 1) when empty, std 1 where the spread is zero."""
        if self.count == 0:
            return tuple(0.0 for _ in self.sum), tuple(1.0 for _ in self.sum)
        mean = self.sum / self.count
        var = np.maximum(self.sumsq / self.count - mean * mean, 0.0)
        std = np.sqrt(var)
        scale = np.maximum(np.abs(mean), 1.0)
        std = np.where(std > 1e-6 * scale, std, 1.0)
        return tuple(float(v) for v in mean), tuple(float(v) for v in std)
