"""The training normalization computed from compact arrays, in bounded memory.

The class is :class:`hepvae.model.normalization.Normalization` (one for the whole package);
this module streams the jets of a training split through its
:class:`~hepvae.model.normalization.NormalizationBuilder`.
"""

from __future__ import annotations

import numpy as np
import torch

from hepvae.errors import HepvaeError
from hepvae.graphs.arrays import JetArrays
from hepvae.graphs.config import GraphConfig
from hepvae.model.normalization import Normalization, NormalizationBuilder, energy_sum
from hepvae.progress import ProgressBar


def compute_normalization(
    arrays: JetArrays, config: GraphConfig, batch_size: int = 1024, progress: bool = False
) -> Normalization:
    """Statistics of the training split ``arrays`` with the feature settings of ``config``.

    Uses at most ``config.norm_jets`` jets, evenly spaced over the split (deterministic).
    The four-momentum scale is ``config.p4_scale`` or the mean canonical-frame constituent
    energy of those jets.
    """
    if len(arrays) == 0:
        raise HepvaeError(
            "the training split is empty: give more jets or a larger training fraction "
            "(normalization statistics come from the training split only)"
        )
    chosen = np.unique(np.linspace(0, len(arrays) - 1, min(config.norm_jets, len(arrays))))
    batches = np.array_split(chosen.astype(np.int64), max(1, -(-len(chosen) // batch_size)))
    width = config.n_particles
    dense = [(*arrays.dense(index, width), index) for index in batches]  # <= norm_jets jets
    scale = config.p4_scale
    if scale is None:
        sums = [energy_sum(p4, mask) for p4, mask, _ in dense]
        scale = sum(s for s, _ in sums) / max(sum(n for _, n in sums), 1)
    builder = NormalizationBuilder(
        config.n_labels, config.max_edges, config.max_hyperedges, scale, config.orient
    )
    with ProgressBar(len(chosen), "normalization", progress, transient=True) as bar:
        for p4, mask, index in dense:
            builder.add(p4, mask, torch.from_numpy(np.asarray(arrays.label[index], np.int64)))
            bar.advance(len(index))
    return builder.result()
