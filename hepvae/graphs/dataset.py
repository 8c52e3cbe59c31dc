"""The hypergraph data set of one split, and its loader.

Jets are kept as compact arrays (:mod:`hepvae.graphs.arrays`; read or memory-mapped by
:func:`hepvae.graphs.cache.load_splits`), and graphs are built per batch
(:mod:`hepvae.graphs.build`), so memory does not grow beyond those arrays. The graphs hold
exactly the normalized features that :meth:`hepvae.model.HyperVAE.prepare` gives the model.

Small jets: every jet with at least one constituent gives a valid graph; a 1-particle jet
has no edges and no hyperedges, a 2-particle jet one edge and no hyperedges. Jets without
constituents are rejected by the schema check when the files are read.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler
from torch_geometric.data import Batch

from hepvae.errors import HepvaeError
from hepvae.graphs.arrays import JetArrays
from hepvae.graphs.build import make_batch
from hepvae.graphs.cache import load_splits
from hepvae.graphs.config import GraphConfig
from hepvae.graphs.splits import SPLITS
from hepvae.model.normalization import Normalization


class JetGraphDataset(Dataset):
    """Jet hypergraphs of one split of schema files; items are PyG ``Data``.

    ``norm``: the statistics to apply (e.g. from a checkpoint); None takes them from the
    training split of the same files and config (from the cache when there is one).
    Indexing with a list (``dataset[[0, 5, 7]]`` or the DataLoader's batched fetch) builds a
    whole PyG ``Batch`` at once.
    """

    def __init__(
        self,
        paths: str | os.PathLike | Iterable[str | os.PathLike],
        config: GraphConfig | None = None,
        split: str = "train",
        norm: Normalization | None = None,
        progress: bool = False,
    ):
        config = config or GraphConfig()
        sources, arrays, train_norm = load_splits(
            paths, config, [split], progress, with_norm=norm is None
        )
        self._setup(sources, arrays[split], config, split, norm or train_norm)

    @classmethod
    def from_arrays(
        cls,
        arrays: JetArrays,
        config: GraphConfig,
        norm: Normalization | None,
        split: str = "train",
        sources: Sequence[Path] = (),
    ) -> JetGraphDataset:
        """A data set over compact arrays already in memory (``sources``: their files)."""
        dataset = cls.__new__(cls)
        dataset._setup(list(sources), arrays, config, split, norm)
        return dataset

    def _setup(self, sources, arrays, config, split, norm) -> None:
        if norm is None:
            raise HepvaeError(
                "the training split is empty: give more jets or a larger training "
                "fraction, or pass normalization statistics (e.g. from a checkpoint)"
            )
        self.sources, self.arrays, self.config, self.split, self.norm = (
            sources,
            arrays,
            config,
            split,
            norm,
        )

    @classmethod
    def splits(
        cls,
        paths: str | os.PathLike | Iterable[str | os.PathLike],
        config: GraphConfig | None = None,
        norm: Normalization | None = None,
        progress: bool = False,
    ) -> dict[str, JetGraphDataset]:
        """All three splits, reading the files once; they share the training statistics
        (or ``norm`` when given)."""
        config = config or GraphConfig()
        sources, arrays, train_norm = load_splits(
            paths, config, SPLITS, progress, with_norm=norm is None
        )
        return {
            s: cls.from_arrays(arrays[s], config, norm or train_norm, s, sources) for s in SPLITS
        }

    def __len__(self) -> int:
        return len(self.arrays)

    def _index(self, index: Sequence[int] | np.ndarray | torch.Tensor) -> np.ndarray:
        index = np.asarray(index, dtype=np.int64).reshape(-1)
        n = len(self)
        if index.size and (index.min() < -n or index.max() >= n):
            raise IndexError(f"index out of range for {n} jets")
        return np.where(index < 0, index + n, index)

    def batch(self, index: Sequence[int] | np.ndarray | torch.Tensor) -> Batch:
        """A PyG ``Batch`` of the jets ``index``, in that order."""
        index = self._index(index)
        p4, mask = self.arrays.dense(index, self.config.n_particles)
        label = torch.from_numpy(np.asarray(self.arrays.label[index], dtype=np.int64))
        extra = {
            "full_jet": torch.from_numpy(np.asarray(self.arrays.jets[index])),
            "nparticles": torch.from_numpy(np.asarray(self.arrays.nparticles[index], np.int64)),
        }
        cfg = self.config
        return make_batch(
            p4, mask, label, self.norm, cfg.max_edges, cfg.max_hyperedges, extra, cfg.orient
        )

    def __getitem__(self, index):
        """One jet -> ``Data``; a slice or a list of indices -> ``Batch``."""
        if isinstance(index, (int, np.integer)):
            return self.batch([int(index)]).get_example(0)
        if isinstance(index, slice):
            index = range(*index.indices(len(self)))
        return self.batch(index)

    def __getitems__(self, index: Sequence[int]) -> Batch:
        return self.batch(index)

    def describe(self, index: int) -> str:
        """Where jet ``index`` comes from: ``file.root event N``."""
        i = int(self._index([index])[0])
        return f"{self.sources[int(self.arrays.source[i])]} event {int(self.arrays.event[i])}"


def _identity(batch: Batch) -> Batch:
    return batch


def make_loader(
    dataset: JetGraphDataset,
    batch_size: int,
    shuffle: bool,
    sampler: Sampler | None = None,
    num_workers: int = 0,
    drop_last: bool = False,
    generator: torch.Generator | None = None,
) -> DataLoader:
    """A DataLoader yielding PyG ``Batch`` objects built batch-wise (no per-graph collation).

    ``sampler`` (e.g. a ``DistributedSampler``) replaces ``shuffle``; ``generator`` seeds the
    shuffle order.
    """
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle if sampler is None else None,
        sampler=sampler,
        num_workers=num_workers,
        collate_fn=_identity,
        drop_last=drop_last,
        generator=generator,
        persistent_workers=num_workers > 0,
    )


__all__ = ["JetGraphDataset", "make_loader"]
