"""Jets for training as dense padded tensors, and per-epoch batches.

The dense view of the data layer (:mod:`hepvae.graphs`): jets are read into compact arrays,
split by a hash of their identity (train and val of :func:`hepvae.graphs.splits.split_of`),
optionally cached, and made dense here. Constituents are the leading ``n_particles`` by pT,
as four-momenta (E, px, py, pz) in GeV in the lab frame; each jet also carries the file's full
jet (pT, eta, phi, mass) and its multiplicity before truncation. The model turns these into
features with :func:`hepvae.model.normalization.model_inputs`, as the graph view does.

Batching is deterministic: epoch ``e`` shuffles with seed ``seed + e`` and, with several
processes, each takes every ``world``-th jet of the (padded) permutation, as
``DistributedSampler`` does. A run can therefore resume in the middle of an epoch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import awkward as ak
import numpy as np
import torch

from hepvae.graphs.arrays import JetArrays, compact


@dataclass
class JetTensors:
    """p4 [J, N, 4] float32 GeV, mask [J, N] bool, label [J] int64; optionally ``jet`` [J, 4]
    float32 (the full jet's pT GeV, eta, phi, mass GeV) and ``nparticles`` [J] int64
    (multiplicity before truncation)."""

    p4: torch.Tensor
    mask: torch.Tensor
    label: torch.Tensor
    jet: torch.Tensor | None = None
    nparticles: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.label)

    def subset(self, index: torch.Tensor) -> JetTensors:
        extra = (None if t is None else t[index] for t in (self.jet, self.nparticles))
        return JetTensors(self.p4[index], self.mask[index], self.label[index], *extra)

    @classmethod
    def from_arrays(cls, arrays: JetArrays, n_particles: int, chunk: int = 65536) -> JetTensors:
        """Dense tensors of all jets of compact ``arrays`` (in chunks of ``chunk`` jets)."""
        parts = [arrays.dense(i, n_particles) for i in _chunks(len(arrays), chunk)]
        p4 = torch.cat([p for p, _ in parts]) if parts else torch.zeros(0, n_particles, 4)
        mask = (
            torch.cat([m for _, m in parts]) if parts else torch.zeros(0, n_particles, dtype=bool)
        )
        return cls(
            p4,
            mask,
            torch.from_numpy(np.asarray(arrays.label, dtype=np.int64)),
            torch.from_numpy(np.array(arrays.jets, dtype=np.float32)),
            torch.from_numpy(np.asarray(arrays.nparticles, dtype=np.int64)),
        )


def _chunks(n: int, size: int) -> list[np.ndarray]:
    return [np.arange(start, min(start + size, n)) for start in range(0, n, size)]


def jets_to_tensors(jets: ak.Array, n_particles: int) -> JetTensors:
    """Dense tensors from a jet array of the hepvae schema (leading constituents by pT)."""
    return JetTensors.from_arrays(compact(jets, n_particles), n_particles)


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
