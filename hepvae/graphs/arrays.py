"""Compact jet arrays: the one in-memory (or memory-mapped) form of the jets of a split.

Each split keeps the leading ``n_particles`` constituents of every jet flattened into one
[P, 4] float32 array (pT, eta, phi, mass in GeV) with offsets, plus per-jet arrays: the
**full** jet four-momentum as stored in the file (``Jet_pt``, ``Jet_eta``, ``Jet_phi``,
``Jet_mass``: all constituents, before truncation), the multiplicity before truncation
(``Jet_nparticles``), the label and where the jet comes from. That is about 16 bytes per
stored constituent and 40 per jet. Dense padded tensors (:meth:`JetArrays.dense`) and PyG
graphs (:mod:`hepvae.graphs.build`) are built from these arrays batch by batch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import awkward as ak
import numpy as np
import torch

from hepvae.data.schema import JET_FIELDS, PART_FIELDS
from hepvae.graphs.features import four_momenta

#: array names, as stored in the cache (``{split}-{name}.npy``)
ARRAY_FIELDS = ("parts", "offsets", "jets", "nparticles", "label", "event", "source")


@dataclasses.dataclass
class JetArrays:
    """Compact jets of one split: ``parts`` [P, 4] float32 (pT, eta, phi, mass in GeV, each
    jet's leading constituents by descending pT), ``offsets`` [J + 1] int64, ``jets``
    [J, 4] float32 (pT, eta, phi, mass of the full jet), ``nparticles`` [J] int32
    (multiplicity before truncation), ``label`` [J] int8, ``event`` [J] uint64, ``source``
    [J] int32 (index into the data set's ``sources``)."""

    parts: np.ndarray
    offsets: np.ndarray
    jets: np.ndarray
    nparticles: np.ndarray
    label: np.ndarray
    event: np.ndarray
    source: np.ndarray

    def __len__(self) -> int:
        return len(self.jets)

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, f).nbytes for f in ARRAY_FIELDS)

    @property
    def counts(self) -> np.ndarray:
        """Stored constituents per jet [J]."""
        return np.diff(self.offsets)

    @classmethod
    def empty(cls) -> JetArrays:
        return cls.concatenate([])

    @classmethod
    def concatenate(cls, chunks: Sequence[JetArrays]) -> JetArrays:
        if not chunks:
            return cls(
                np.zeros((0, 4), np.float32),
                np.zeros(1, np.int64),
                np.zeros((0, 4), np.float32),
                np.zeros(0, np.int32),
                np.zeros(0, np.int8),
                np.zeros(0, np.uint64),
                np.zeros(0, np.int32),
            )
        counts = np.concatenate([c.counts for c in chunks])
        return cls(
            np.concatenate([c.parts for c in chunks]),
            _offsets(counts),
            *(np.concatenate([getattr(c, f) for c in chunks]) for f in ARRAY_FIELDS[2:]),
        )

    def take(self, index: np.ndarray) -> JetArrays:
        """The jets ``index`` as a new JetArrays (copies)."""
        index = np.asarray(index, dtype=np.int64)
        counts = self.counts[index]
        offsets = _offsets(counts)
        rows = np.repeat(self.offsets[index] - offsets[:-1], counts) + np.arange(offsets[-1])
        return JetArrays(
            np.asarray(self.parts[rows]),
            offsets,
            *(np.asarray(getattr(self, f)[index]) for f in ARRAY_FIELDS[2:]),
        )

    def padded(self, index: np.ndarray, width: int | None = None) -> tuple[torch.Tensor, ...]:
        """Tensors of jets ``index``: parts [B, width, 4] (pT, eta, phi, mass; zero beyond
        each jet's constituents), counts [B], jets [B, 4], labels [B] (int64). ``width``
        defaults to the largest count of the batch."""
        index = np.asarray(index, dtype=np.int64)
        start = self.offsets[index]
        counts = self.offsets[index + 1] - start
        if width is None:
            width = max(int(counts.max()), 1) if len(index) else 1
        slot = np.arange(width)
        valid = slot[None, :] < counts[:, None]
        rows = np.where(valid, start[:, None] + slot[None, :], 0)
        parts = np.asarray(self.parts[rows.ravel()]).reshape(len(index), width, 4)
        parts *= valid[..., None]
        return (
            torch.from_numpy(parts),
            torch.from_numpy(counts),
            torch.from_numpy(np.asarray(self.jets[index])),
            torch.from_numpy(np.asarray(self.label[index]).astype(np.int64)),
        )

    def dense(self, index: np.ndarray, width: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Lab-frame constituent four-momenta (E, px, py, pz) [B, width, 4] float32 in GeV
        (computed in float64) and their mask [B, width] bool, of the jets ``index``."""
        parts, counts, _, _ = self.padded(index, width)
        mask = torch.arange(width).unsqueeze(0) < counts.unsqueeze(1)
        p4 = four_momenta(*parts.double().unbind(-1)) * mask.unsqueeze(-1)
        return p4.float(), mask


def _offsets(counts: np.ndarray) -> np.ndarray:
    offsets = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets


def compact(jets: ak.Array, n_particles: int, source: int = 0) -> JetArrays:
    """Compact arrays of a jet array of the hepvae schema (leading ``n_particles`` by pT)."""
    part = jets.Part
    part = part[ak.argsort(part.pt, axis=1, ascending=False, stable=True)][:, :n_particles]
    counts = ak.to_numpy(ak.num(part, axis=1)).astype(np.int64)
    flat = np.stack([ak.to_numpy(ak.flatten(part[f], axis=1)) for f in PART_FIELDS], axis=1)
    jet = np.stack([ak.to_numpy(jets.Jet[f]) for f in JET_FIELDS], axis=1)
    return JetArrays(
        flat.astype(np.float32).reshape(-1, 4),
        _offsets(counts),
        jet.astype(np.float32).reshape(-1, 4),
        ak.to_numpy(jets.Jet.nparticles).astype(np.int32),
        ak.to_numpy(jets.Jet.label).astype(np.int8),
        ak.to_numpy(jets.event).astype(np.uint64),
        np.full(len(counts), source, np.int32),
    )
