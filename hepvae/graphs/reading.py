"""Read ROOT files of the hepvae schema in chunks into the compact arrays of each split."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import awkward as ak

from hepvae.data.schema import iterate_jets
from hepvae.errors import HepvaeError
from hepvae.graphs.arrays import JetArrays, compact
from hepvae.graphs.config import GraphConfig
from hepvae.graphs.splits import SPLITS, split_of
from hepvae.progress import ProgressBar


def read_splits(
    paths: Sequence[Path],
    config: GraphConfig,
    wanted: Iterable[str] = SPLITS,
    progress: bool = False,
) -> dict[str, JetArrays]:
    """Read schema files once (``config.read_chunk`` jets at a time, at most
    ``config.max_jets`` in file order) and return the compact arrays of the ``wanted`` splits."""
    wanted = [SPLITS.index(s) for s in wanted]
    chunks: dict[int, list[JetArrays]] = {code: [] for code in wanted}
    left = config.max_jets
    with ProgressBar(left, "reading jets", progress, transient=True) as bar:
        for source, path in enumerate(paths):
            n_read = 0
            for jets in iterate_jets(path, step_size=config.read_chunk):
                n_read += len(jets)
                if left is not None:
                    jets = jets[:left]
                    left -= len(jets)
                code = split_of(
                    str(path),
                    ak.to_numpy(jets.run),
                    ak.to_numpy(jets.luminosityBlock),
                    ak.to_numpy(jets.event),
                    config.split_fractions,
                    config.seed,
                )
                for c in wanted:
                    selected = jets[code == c]
                    if len(selected):
                        chunks[c].append(compact(selected, config.n_particles, source))
                bar.advance(len(jets))
                if left == 0:
                    break
            if n_read == 0:
                raise HepvaeError(f"{path}: no jets (the tree Events is empty)")
            if left == 0:
                break
    return {SPLITS[c]: JetArrays.concatenate(chunks[c]) for c in wanted}
