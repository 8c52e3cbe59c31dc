"""Build every graph of a data set once, check it, and summarize it (``hepvae graphs``).

The statistics are those of the raw (unstandardized) features the model sees
(:func:`hepvae.model.features.jet_inputs`), next to the training normalization.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from rich.table import Table

from hepvae.errors import HepvaeError
from hepvae.graphs.dataset import JetGraphDataset
from hepvae.graphs.splits import SPLITS
from hepvae.model.features import jet_inputs
from hepvae.model.normalization import GROUPS, RunningStats
from hepvae.progress import ProgressBar


@dataclasses.dataclass
class GraphSummary:
    """Counts and raw feature statistics of the checked graphs of each split."""

    jets: dict[str, int]
    checked: dict[str, int]
    nodes: dict[str, int]
    edges: dict[str, int]
    hyperedges: dict[str, int]
    max_hyperedges_seen: int
    stats: dict[str, RunningStats]


def check_graphs(
    datasets: dict[str, JetGraphDataset],
    max_jets: int | None = None,
    batch_size: int = 512,
    progress: bool = False,
) -> GraphSummary:
    """Build the graphs of up to ``max_jets`` jets per split and check them.

    Raises :class:`HepvaeError` naming the file and event of the first jet with a non-finite
    feature, and if any jet has more hyperedges than the configured bound.
    """
    stats = {group: RunningStats(len(names)) for group, names in GROUPS.items()}
    summary = GraphSummary({}, {}, {}, {}, {}, 0, stats)
    total = sum(min(len(d), max_jets or len(d)) for d in datasets.values())
    with ProgressBar(total, "building graphs", progress, transient=True) as bar:
        for split, dataset in datasets.items():
            n = min(len(dataset), max_jets or len(dataset))
            summary.jets[split] = len(dataset)
            summary.checked[split] = n
            summary.nodes[split] = summary.edges[split] = summary.hyperedges[split] = 0
            cfg = dataset.config
            for start in range(0, n, batch_size):
                index = np.arange(start, min(start + batch_size, n))
                p4, mask = dataset.arrays.dense(index, cfg.n_particles)
                with torch.no_grad():
                    x = jet_inputs(p4 / dataset.norm.tensors()["p4_scale"], mask,
                                   cfg.max_edges, cfg.max_hyperedges, cfg.orient)  # fmt: skip
                groups = {
                    "particle": (x.particle, mask),
                    "coord": (x.coords, mask),
                    "edge": (x.edges, x.edge_mask),
                    "hyper": (x.hyper, x.hmask),
                    "jet": (x.targets.unsqueeze(1), torch.ones_like(mask[:, :1])),
                }
                for group, (values, valid) in groups.items():
                    _check_finite(dataset, index, group, values, valid)
                    stats[group].update(values[valid])
                n_hyper = x.hmask.sum(1)
                summary.max_hyperedges_seen = max(summary.max_hyperedges_seen,
                                                  int(n_hyper.max()) if len(index) else 0)  # fmt: skip
                summary.nodes[split] += int(mask.sum())
                summary.edges[split] += int(x.edge_mask.sum())
                summary.hyperedges[split] += int(n_hyper.sum())
                bar.advance(len(index))
    bound = next(iter(datasets.values())).config.max_hyperedges
    if summary.max_hyperedges_seen > bound:
        raise HepvaeError(
            f"a jet has {summary.max_hyperedges_seen} hyperedges, above the bound {bound}"
        )
    return summary


def _check_finite(dataset, index: np.ndarray, group: str, values, valid) -> None:
    """Raise naming the first jet of the batch with a non-finite real ``group`` feature."""
    bad = ~torch.isfinite(values) & valid.unsqueeze(-1)
    if bad.any():
        jet, _, col = (int(v) for v in bad.nonzero()[0])
        raise HepvaeError(
            f"{dataset.describe(int(index[jet]))}: non-finite {group} feature {GROUPS[group][col]}"
        )


def summary_tables(datasets: dict[str, JetGraphDataset], summary: GraphSummary) -> list[Table]:
    """Rich tables: data set overview, graph shapes, and feature ranges with statistics."""
    first = next(iter(datasets.values()))
    config, norm = first.config, first.norm
    overview = Table(title="graph data set", show_header=False)
    overview.add_row("files", "\n".join(str(p) for p in first.sources))
    overview.add_row("particles per jet", f"<= {config.n_particles}")
    overview.add_row("edges per jet", f"<= {config.max_edges}")
    overview.add_row(
        "hyperedges per jet", f"<= {config.max_hyperedges} (max seen {summary.max_hyperedges_seen})"
    )
    overview.add_row("p4_scale", f"{norm.p4_scale:g} GeV")
    overview.add_row(
        "jets",
        ", ".join(f"{s}: {summary.jets.get(s, 0)}" for s in SPLITS),
    )
    overview.add_row("normalized with", f"{norm.n_jets} training jets")
    if config.cache:
        overview.add_row("cache", config.cache)

    shapes = Table(title="graph shapes (per split: mean per graph)")
    shapes.add_column("split")
    for col in ("graphs checked", "nodes", "edges", "hyperedges"):
        shapes.add_column(col, justify="right")
    for split in SPLITS:
        n = summary.checked.get(split, 0)
        if not n:
            shapes.add_row(split, "0", "-", "-", "-")
            continue
        shapes.add_row(
            split,
            str(n),
            f"{summary.nodes[split] / n:.1f}",
            f"{summary.edges[split] / n:.1f}",
            f"{summary.hyperedges[split] / n:.1f}",
        )
    example = next((d[0] for d in datasets.values() if len(d)), None)
    if example is not None:
        shapes.caption = "first graph: " + ", ".join(
            f"{key} {list(example[key].shape)}" for key in sorted(example.keys())
        )

    ranges = Table(title="features: raw range, training mean and std, normalized range")
    ranges.add_column("feature", no_wrap=True)
    for col in ("min", "max", "train mean", "train std", "norm min", "norm max"):
        ranges.add_column(col, justify="right")
    for group, names in GROUPS.items():
        s = summary.stats[group]
        mean = getattr(norm, f"{group}_mean")
        std = getattr(norm, f"{group}_std")
        for i, name in enumerate(names):
            if s.count == 0:
                ranges.add_row(
                    f"{group}.{name}", "-", "-", f"{mean[i]:.3g}", f"{std[i]:.3g}", "-", "-"
                )
                continue
            lo, hi = s.min[i], s.max[i]
            ranges.add_row(
                f"{group}.{name}",
                *(f"{v:.3g}" for v in (lo, hi, mean[i], std[i])),
                *(f"{(v - mean[i]) / std[i]:.2f}" for v in (lo, hi)),
            )
    return [overview, shapes, ranges]
