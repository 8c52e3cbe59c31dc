"""The one normalization of the package: statistics of the training split.

Everything the model needs to map physical jets to network inputs and back: the global
four-momentum scale (one constant in GeV, never per component, so that normalization commutes
with Lorentz transformations), means and widths of each feature group of
:mod:`hepvae.model.features` (particle features, loss coordinates, pair and triplet features,
jet targets) and per-class quantiles of the jet rapidity (used to place generated jets in the
lab frame). The statistics are accumulated chunk by chunk (:class:`NormalizationBuilder`), travel
with the model as buffers and, as JSON, in checkpoints and in the data cache
(:meth:`Normalization.to_dict` / :meth:`Normalization.from_dict`, which validates and names the
file it reads).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from hepvae.errors import HepvaeError
from hepvae.model import features as F
from hepvae.physics.kinematics import jet_momentum, rapidity, to_canonical

#: number of rapidity quantiles stored per class
N_QUANTILES = 65
FORMAT_VERSION = 2
#: feature group -> names; the model's buffers are ``{group}_mean`` and ``{group}_std``
GROUPS = {
    "particle": F.PARTICLE_FEATURES,
    "coord": F.LOSS_COORDINATES,
    "edge": F.EDGE_FEATURES,
    "hyper": F.HYPEREDGE_FEATURES,
    "jet": F.JET_TARGETS,
}


@dataclasses.dataclass(frozen=True)
class Normalization:
    """Feature statistics of a training split. ``p4_scale`` in GeV; features as named in
    :data:`GROUPS`; ``rapidity_quantiles`` [n_labels][N_QUANTILES]; ``n_jets`` jets used."""

    p4_scale: float
    particle_mean: tuple[float, ...]
    particle_std: tuple[float, ...]
    coord_mean: tuple[float, ...]
    coord_std: tuple[float, ...]
    edge_mean: tuple[float, ...]
    edge_std: tuple[float, ...]
    hyper_mean: tuple[float, ...]
    hyper_std: tuple[float, ...]
    jet_mean: tuple[float, ...]
    jet_std: tuple[float, ...]
    rapidity_quantiles: tuple[tuple[float, ...], ...]
    n_jets: int = 0

    def __post_init__(self) -> None:
        if not (self.p4_scale > 0 and math.isfinite(self.p4_scale)):
            raise HepvaeError(f"normalization: p4_scale must be > 0, got {self.p4_scale!r}")
        for group, names in GROUPS.items():
            for kind in ("mean", "std"):
                values = getattr(self, f"{group}_{kind}")
                if len(values) != len(names) or not all(math.isfinite(v) for v in values):
                    raise HepvaeError(
                        f"normalization: {group}_{kind} must be {len(names)} finite numbers "
                        f"({', '.join(names)}), got {list(values)}"
                    )
            if any(v <= 0 for v in getattr(self, f"{group}_std")):
                raise HepvaeError(f"normalization: {group}_std must be > 0")
        rows = self.rapidity_quantiles
        if not rows or any(len(r) != N_QUANTILES for r in rows):
            raise HepvaeError(
                f"normalization: rapidity_quantiles must be rows of {N_QUANTILES} numbers"
            )

    # -- use --------------------------------------------------------------------------------
    def tensors(self) -> dict[str, torch.Tensor]:
        """The statistics as float32 tensors, keyed like the buffers of the model."""
        names = [f.name for f in dataclasses.fields(self) if f.name != "n_jets"]
        return {n: torch.tensor(getattr(self, n), dtype=torch.float32) for n in names}

    def standardize(self, group: str, x: torch.Tensor) -> torch.Tensor:
        """(x - mean) / std of a feature group [..., F] (see :data:`GROUPS`)."""
        mean, std = self._stats(group, x)
        return (x - mean) / std

    def destandardize(self, group: str, x: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`standardize`."""
        mean, std = self._stats(group, x)
        return x * std + mean

    def _stats(self, group: str, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if group not in GROUPS:
            raise HepvaeError(f"normalization: unknown feature group {group!r}")
        mean = torch.tensor(getattr(self, f"{group}_mean"), dtype=x.dtype, device=x.device)
        std = torch.tensor(getattr(self, f"{group}_std"), dtype=x.dtype, device=x.device)
        return mean, std

    # -- serialization ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict with feature names (floats round-trip exactly through JSON)."""
        out: dict[str, Any] = {"format": FORMAT_VERSION, "p4_scale": self.p4_scale}
        for group, names in GROUPS.items():
            out[group] = {
                "features": list(names),
                "mean": list(getattr(self, f"{group}_mean")),
                "std": list(getattr(self, f"{group}_std")),
            }
        out["rapidity_quantiles"] = [list(r) for r in self.rapidity_quantiles]
        out["n_jets"] = self.n_jets
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "normalization") -> Normalization:
        """Inverse of :meth:`to_dict`; also reads the flat dicts of earlier checkpoints.
        Errors name ``where`` (the file) and what does not match."""
        if not isinstance(data, Mapping):
            raise HepvaeError(f"{where}: normalization is not a mapping")
        if "format" not in data:
            return cls._from_flat(data, where)
        expected = {"format", "p4_scale", "rapidity_quantiles", "n_jets", *GROUPS}
        if set(data) != expected:
            raise HepvaeError(f"{where}: normalization keys differ: {sorted(set(data) ^ expected)}")
        if data["format"] != FORMAT_VERSION:
            raise HepvaeError(
                f"{where}: normalization format {data['format']!r}, expected {FORMAT_VERSION}"
            )
        values: dict[str, Any] = {}
        for group, names in GROUPS.items():
            entry = data[group]
            found = entry.get("features") if isinstance(entry, Mapping) else entry
            if found is None or tuple(found) != names:
                raise HepvaeError(
                    f"{where}: {group} features {found!r} do not match this version of hepvae "
                    f"({', '.join(names)})"
                )
            values[f"{group}_mean"], values[f"{group}_std"] = entry["mean"], entry["std"]
        values["p4_scale"] = data["p4_scale"]
        values["rapidity_quantiles"] = data["rapidity_quantiles"]
        values["n_jets"] = data["n_jets"]
        return cls._checked(values, where)

    @classmethod
    def _from_flat(cls, data: Mapping[str, Any], where: str) -> Normalization:
        """The flat {name: list} dict that checkpoints of earlier versions hold."""
        names = {f.name for f in dataclasses.fields(cls)} - {"n_jets"}
        if set(data) != names:
            raise HepvaeError(f"{where}: normalization keys differ: {sorted(set(data) ^ names)}")
        return cls._checked(dict(data), where)

    @classmethod
    def _checked(cls, values: dict[str, Any], where: str) -> Normalization:
        try:
            values["p4_scale"] = float(values["p4_scale"])
            values["n_jets"] = int(values.get("n_jets", 0))
            values["rapidity_quantiles"] = tuple(
                tuple(float(v) for v in row) for row in values["rapidity_quantiles"]
            )
            for group in GROUPS:
                for kind in ("mean", "std"):
                    key = f"{group}_{kind}"
                    values[key] = tuple(float(v) for v in values[key])
            return cls(**values)
        except (TypeError, ValueError) as exc:
            raise HepvaeError(f"{where}: invalid normalization value ({exc})") from None
        except HepvaeError as exc:
            raise HepvaeError(f"{where}: {exc}") from None


class RunningStats:
    """Mean and standard deviation of feature columns, accumulated in float64 chunk by chunk."""

    def __init__(self, n_features: int):
        self.count = 0
        self.sum = np.zeros(n_features)
        self.sumsq = np.zeros(n_features)
        self.min = np.full(n_features, np.inf)
        self.max = np.full(n_features, -np.inf)

    def update(self, x: torch.Tensor) -> None:
        """Add rows of ``x`` [M, F]."""
        if x.shape[0] == 0:
            return
        x64 = x.detach().to(torch.float64).cpu()
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
        std = np.where(std > 1e-6 * np.maximum(np.abs(mean), 1.0), std, 1.0)
        return tuple(float(v) for v in mean), tuple(float(v) for v in std)


class NormalizationBuilder:
    """Streaming statistics: feed chunks of jets with :meth:`add`, then :meth:`result`.

    ``p4_scale`` [GeV] (e.g. from :func:`energy_scale`) divides the four-momenta before the
    features are taken; ``max_edges`` and ``max_hyperedges`` are those of the model config.
    """

    def __init__(
        self,
        n_labels: int,
        max_edges: int,
        max_hyperedges: int,
        p4_scale: float,
        oriented: bool = False,
    ):
        self.n_labels, self.max_edges, self.max_hyperedges = n_labels, max_edges, max_hyperedges
        self.p4_scale, self.oriented = p4_scale, oriented
        self.stats = {group: RunningStats(len(names)) for group, names in GROUPS.items()}
        self.rapidities: list[torch.Tensor] = []
        self.labels: list[torch.Tensor] = []

    @torch.no_grad()
    def add(self, p4: torch.Tensor, mask: torch.Tensor, label: torch.Tensor) -> None:
        """Add jets: ``p4`` [B, N, 4] lab frame in GeV, ``mask`` [B, N], ``label`` [B].
        Jets with non-finite four-momenta or without constituents are skipped."""
        good = _good(p4, mask)
        p4, mask, label = p4[good].double(), mask[good], label[good]
        if not len(p4):
            return
        x = F.jet_inputs(
            p4 / self.p4_scale, mask, self.max_edges, self.max_hyperedges, self.oriented
        )
        self.stats["particle"].update(x.particle[mask])
        self.stats["coord"].update(x.coords[mask])
        self.stats["edge"].update(x.edges[x.edge_mask])
        self.stats["hyper"].update(x.hyper[x.hmask])
        self.stats["jet"].update(x.targets)
        self.rapidities.append(rapidity(x.jet))
        self.labels.append(label.cpu())

    def result(self, where: str = "training split") -> Normalization:
        """The :class:`Normalization` of everything added (raises if nothing was)."""
        if not self.rapidities:
            raise HepvaeError(f"{where}: no jets with constituents for normalization statistics")
        y = torch.cat(self.rapidities).cpu()
        label = torch.cat(self.labels)
        probs = torch.linspace(0, 1, N_QUANTILES, dtype=torch.float64)
        pooled = torch.quantile(y, probs)
        quantiles = [
            (torch.quantile(y[label == k], probs) if (label == k).sum() > 1 else pooled).tolist()
            for k in range(self.n_labels)
        ]
        values: dict[str, Any] = {}
        for group, s in self.stats.items():
            values[f"{group}_mean"], values[f"{group}_std"] = s.mean_std()
        return Normalization(
            p4_scale=float(self.p4_scale),
            rapidity_quantiles=tuple(tuple(q) for q in quantiles),
            n_jets=len(y),
            **values,
        )


def model_inputs(
    p4: torch.Tensor,
    mask: torch.Tensor,
    stats: Mapping[str, torch.Tensor],
    max_edges: int,
    max_hyperedges: int,
    oriented: bool = False,
) -> tuple[F.JetInputs, torch.Tensor, torch.Tensor, torch.Tensor]:
    """What the model sees of dense jets: lab-frame ``p4`` [B, N, 4] in GeV and ``mask``
    [B, N] -> (:class:`~hepvae.model.features.JetInputs`, standardized particle [B, N, 6],
    edge [B, E, 5] and hyperedge [B, H, 5] features, zero where padded). ``stats`` holds
    tensors named like the model's buffers (:meth:`Normalization.tensors`); ``oriented``: in
    the oriented frame (:func:`hepvae.model.features.jet_inputs`)."""
    mask = mask.bool()
    x = F.jet_inputs(p4 / stats["p4_scale"], mask, max_edges, max_hyperedges, oriented)

    def standardize(values: torch.Tensor, group: str, real: torch.Tensor) -> torch.Tensor:
        out = (values - stats[f"{group}_mean"]) / stats[f"{group}_std"]
        return out * real.unsqueeze(-1)

    particle = standardize(x.particle, "particle", mask)
    return (x, particle, standardize(x.edges, "edge", x.edge_mask),
            standardize(x.hyper, "hyper", x.hmask))  # fmt: skip


def _good(p4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Jets with finite four-momenta and at least one constituent [J] bool."""
    return torch.isfinite(p4).flatten(1).all(1) & mask.any(1)


@torch.no_grad()
def energy_sum(p4: torch.Tensor, mask: torch.Tensor) -> tuple[float, int]:
    """Sum [GeV] and number of the canonical-frame constituent energies of good jets; the
    four-momentum scale is their mean (sum over all chunks / count)."""
    good = _good(p4, mask)
    p4, mask = p4[good].double(), mask[good]
    energy = to_canonical(p4, jet_momentum(p4, mask))[..., 0][mask]
    return float(energy.sum()), int(energy.numel())


def compute_normalization(
    p4: torch.Tensor,
    mask: torch.Tensor,
    label: torch.Tensor,
    config,
    max_jets: int = 10000,
    chunk: int = 1024,
) -> Normalization:
    """Statistics of dense training jets: p4 [J, N, 4] in GeV, mask [J, N] bool, label [J],
    with the label count and edge and hyperedge selection of the model ``config``
    (a :class:`hepvae.model.ModelConfig`). Uses the first ``max_jets`` good jets."""
    good = torch.nonzero(_good(p4, mask)).squeeze(1)[:max_jets]
    total, count = energy_sum(p4[good], mask[good])
    scale = total / count if count else 1.0
    builder = NormalizationBuilder(
        config.n_labels, config.max_edges, config.max_hyperedges, scale, config.orient
    )
    for index in good.split(chunk):
        builder.add(p4[index], mask[index], label[index])
    return builder.result()
