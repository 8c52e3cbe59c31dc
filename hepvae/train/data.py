"""Jets for training as dense padded tensors, deterministic splits and per-epoch batches.

Constituents are the leading ``n_particles`` by pT, as four-momenta (E, px, py, pz) in GeV in
the lab frame. Batching is deterministic: epoch ``e`` shuffles with seed ``seed + e`` and, with
several processes, each takes every ``world``-th jet of the (padded) permutation, as
``DistributedSampler`` does. A run can therefore resume in the middle of an epoch.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import awkward as ak
import numpy as np
import torch

from hepvae.errors import HepvaeError


@dataclass
class JetTensors:
    """p4 [J, N, 4] float32 GeV, mask [J, N] bool, label [J] int64."""

    p4: torch.Tensor
    mask: torch.Tensor
    label: torch.Tensor

    def __len__(self) -> int:
        return len(self.label)

    def subset(self, index: torch.Tensor) -> JetTensors:
        return JetTensors(self.p4[index], self.mask[index], self.label[index])


def jets_to_tensors(jets: ak.Array, n_particles: int) -> JetTensors:
    """Dense tensors from a jet array of the hepvae schema (leading constituents by pT)."""
    from hepvae.physics.p4 import constituents

    part = jets.Part
    part = part[ak.argsort(part.pt, axis=1, ascending=False)][:, :n_particles]
    vec = constituents(part.pt, part.eta, part.phi, part.mass)

    def pad(values) -> np.ndarray:
        padded = ak.fill_none(ak.pad_none(values, n_particles, axis=1, clip=True), 0.0)
        return ak.to_numpy(padded).astype(np.float64)

    p4 = np.stack([pad(vec.E), pad(vec.px), pad(vec.py), pad(vec.pz)], axis=-1)
    counts = ak.to_numpy(ak.num(part, axis=1))
    mask = np.arange(n_particles)[None, :] < counts[:, None]
    return JetTensors(
        torch.from_numpy(p4.astype(np.float32)),
        torch.from_numpy(mask),
        torch.from_numpy(ak.to_numpy(jets.Jet.label).astype(np.int64)),
    )


def load_jets(paths: Sequence[str | os.PathLike], n_particles: int, max_jets=None) -> JetTensors:
    """Read schema files into dense tensors; jets without constituents are dropped."""
    from hepvae.data.schema import read_jets

    for path in paths:
        if not Path(path).is_file():
            raise HepvaeError(f"{path}: no such data file")
    data = jets_to_tensors(read_jets([str(p) for p in paths], max_jets=max_jets), n_particles)
    keep = data.mask.any(1)
    if not bool(keep.any()):
        raise HepvaeError(f"{', '.join(map(str, paths))}: no jets with constituents")
    return data.subset(torch.nonzero(keep).squeeze(1))


def split(data: JetTensors, val_fraction: float, seed: int) -> tuple[JetTensors, JetTensors]:
    """Deterministic disjoint (train, validation) split."""
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
    n_val = int(round(val_fraction * len(data)))
    if len(data) - n_val <= 0:
        raise HepvaeError(f"too few jets ({len(data)}) for a validation fraction {val_fraction}")
    return data.subset(order[n_val:]), data.subset(order[:n_val])


def epoch_indices(n: int, epoch: int, seed: int, rank: int = 0, world: int = 1) -> torch.Tensor:
    """This process's jet order for an epoch (padded so every process gets the same count)."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch))
    total = math.ceil(n / world) * world
    if total > n:
        order = torch.cat([order, order[: total - n]])
    return order[rank::world]


def batches_per_epoch(n: int, batch_size: int, world: int = 1) -> int:
    return math.ceil(math.ceil(n / world) / batch_size)


def iterate_batches(
    data: JetTensors, index: torch.Tensor, batch_size: int, start: int = 0
) -> Iterator[JetTensors]:
    """Batches of ``data`` in the order ``index``, skipping the first ``start`` batches."""
    for first in range(start * batch_size, len(index), batch_size):
        yield data.subset(index[first : first + batch_size])
