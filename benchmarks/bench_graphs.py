"""Speed and memory of the jet graph data set and loader.

Prints, for 30- and 150-particle jets with the default hyperedge bound:
graphs per second of the loader (wall clock and CPU time, with 0 and 1 worker processes),
reading speed from ROOT, memory per 100k jets (compact arrays and the batches handed to
the model), the share of the 3-point EEC weight that the selected hyperedges keep, and the
share of a training step spent waiting for data (once a model step is plugged in, see
``training_step``).

Jets are synthetic (exponential constituent pT, Gaussian angles) and every jet has exactly
the requested number of constituents, the most expensive case. Timings on a shared
machine are affected by other load; CPU time is the steadier figure.

    python benchmarks/bench_graphs.py [--jets 20000] [--batch-size 256] [--threads 1]
    python benchmarks/bench_graphs.py --files jets.root    # real jets instead

The share of the 3-point EEC weight kept is only meaningful for real jets (``--files``).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import awkward as ak
import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from hepvae.data.schema import make_jets, write_jets
from hepvae.graphs import GraphConfig, JetGraphDataset, make_loader
from hepvae.graphs.features import select_ranked
from hepvae.graphs.normalization import compute_normalization
from hepvae.graphs.reading import read_splits
from hepvae.physics.p4 import constituents, sum_p4


def synthetic_jets(n_jets: int, n_particles: int, seed: int = 0) -> ak.Array:
    """Jets of exactly ``n_particles`` massless constituents whose sum is the jet (GeV)."""
    rng = np.random.default_rng(seed)
    counts = np.full(n_jets, n_particles)
    total = n_jets * n_particles
    jet_eta = rng.uniform(-2, 2, n_jets)
    jet_phi = rng.uniform(-np.pi, np.pi, n_jets)
    pt = ak.unflatten(rng.exponential(30.0, total) + 0.5, counts)
    eta = ak.unflatten(rng.normal(0, 0.15, total), counts) + jet_eta
    phi = ak.unflatten(rng.normal(0, 0.15, total), counts) + jet_phi
    phi = (phi + np.pi) % (2 * np.pi) - np.pi
    order = ak.argsort(pt, axis=1, ascending=False)
    pt, eta, phi = pt[order], eta[order], phi[order]
    jet = sum_p4(constituents(pt, eta, phi))
    return make_jets(jet.pt, jet.eta, jet.phi, jet.mass, 2, pt, eta, phi)


def training_step(p4_scale: float) -> Callable:
    """The default model's training step (forward, backward, optimizer) on one graph Batch.

    The Batch's scaled (canonical-frame) four-momenta are padded to dense [B, N, 4] tensors in
    GeV, which is what :class:`hepvae.model.HyperVAE` takes; the model's statistics come from
    the first batch. (Training itself takes dense batches of the same arrays directly.)
    """
    from torch_geometric.utils import to_dense_batch

    from hepvae.model import HyperVAE, compute_normalization
    from hepvae.train.config import Config

    config = Config()
    state: dict = {}

    def step(batch) -> None:
        p4, mask = to_dense_batch(
            batch.p4 * p4_scale, batch.batch, max_num_nodes=config.model.n_particles
        )
        label = batch.label.reshape(-1)
        if not state:
            norm = compute_normalization(p4, mask, label, config.model)
            state["model"] = HyperVAE(config.model, norm, config.loss)
            state["opt"] = torch.optim.AdamW(state["model"].parameters(), lr=1e-4)
        loss = state["model"](p4, mask, label, kl_weight=1e-3).total
        state["opt"].zero_grad()
        loss.backward()
        state["opt"].step()

    return step


def loader_rate(dataset, batch_size: int, workers: int, max_batches: int) -> dict[str, float]:
    """Iterate the loader; graphs per second in wall clock and in main-process CPU time."""
    loader = make_loader(
        dataset,
        batch_size,
        shuffle=True,
        num_workers=workers,
        drop_last=True,
        generator=torch.Generator().manual_seed(0),
    )
    it = iter(loader)
    next(it)  # start workers and warm caches
    graphs, edges, nbytes = 0, 0, 0
    wall, cpu = time.perf_counter(), time.process_time()
    for _, batch in zip(range(max_batches), it):
        graphs += batch.num_graphs
        edges += batch.edge_index.shape[1]
        nbytes += sum(v.numel() * v.element_size() for _, v in batch if torch.is_tensor(v))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "graphs_per_s_wall": graphs / wall,
        "graphs_per_s_cpu": graphs / cpu if workers == 0 else float("nan"),
        "edges_per_graph": edges / graphs,
        "batch_bytes_per_graph": nbytes / graphs,
    }


def wait_share(dataset, batch_size: int, step: Callable, workers: int, n: int) -> float:
    """Share of wall time of up to ``n`` training steps spent in ``next(loader)``."""
    loader = make_loader(dataset, batch_size, shuffle=True, num_workers=workers, drop_last=True)
    it = iter(loader)
    step(next(it))
    waiting = total = 0.0
    for _ in range(min(n, len(loader) - 1)):
        t0 = time.perf_counter()
        batch = next(it)
        t1 = time.perf_counter()
        step(batch)
        t2 = time.perf_counter()
        waiting += t1 - t0
        total += t2 - t0
    return waiting / total


def e3c_coverage(dataset, max_hyperedges: int, n_jets: int = 2000) -> float:
    """Mean share of sum_{i<j<k} pT_i pT_j pT_k that the selected triplets hold, per jet."""
    index = np.arange(min(n_jets, len(dataset)))
    parts, counts, _, _ = dataset.arrays.padded(index)
    pt = parts[..., 0].double()
    mask = torch.arange(pt.shape[1])[None] < counts[:, None]
    graph, trip = select_ranked(pt, mask, max_hyperedges)
    kept = torch.zeros(len(index), dtype=torch.float64)
    w = pt[graph, trip[:, 0]] * pt[graph, trip[:, 1]] * pt[graph, trip[:, 2]]
    kept.index_add_(0, graph, w)
    p1, p2, p3 = ((pt**k).sum(1) for k in (1, 2, 3))
    total = (p1**3 - 3 * p1 * p2 + 2 * p3) / 6  # elementary symmetric polynomial e3
    return float((kept / total).mean())


def run_case(n_particles: int, args, folder: Path) -> dict[str, str]:
    """All figures for one particle count, as metric name -> formatted value."""
    config = GraphConfig(
        n_particles=n_particles, split_fractions=(1.0, 0.0, 0.0), norm_jets=args.norm_jets
    )
    if args.files:
        paths = args.files
    else:
        n_jets = args.jets if n_particles <= 30 else max(args.jets // 10, 2 * args.batch_size)
        jets = synthetic_jets(n_jets, n_particles)
        paths = [write_jets(folder / f"jets{n_particles}.root", jets, {"producer": "bench"})]
    t = time.perf_counter()
    arrays = read_splits([Path(p) for p in paths], config, ["train"])["train"]
    read_s = time.perf_counter() - t
    t = time.perf_counter()
    norm = compute_normalization(arrays, config)
    norm_s = time.perf_counter() - t
    dataset = JetGraphDataset.from_arrays(arrays, config, norm)
    max_batches = max(min(len(dataset) // args.batch_size - 1, args.max_batches), 1)
    rates = {w: loader_rate(dataset, args.batch_size, w, max_batches) for w in args.workers}
    first = rates[args.workers[0]]
    out = {
        "jets": f"{len(dataset):,} ({'files' if args.files else 'synthetic'})",
        "mean particles per jet": f"{dataset.arrays.counts.mean():.1f}",
        "hyperedges per jet (bound)": f"{config.max_hyperedges}",
        "read ROOT, jets/s": f"{len(dataset) / read_s:,.0f}",
        "normalization, jets/s": f"{norm.n_jets / norm_s:,.0f}",
    }
    for w in args.workers:
        out[f"loader graphs/s, {w} worker(s)"] = f"{rates[w]['graphs_per_s_wall']:,.0f}"
    if 0 in rates:
        out["loader graphs per CPU second"] = f"{rates[0]['graphs_per_s_cpu']:,.0f}"
    out["pair edges per graph"] = f"{first['edges_per_graph']:,.0f}"
    out["arrays per 100k jets"] = f"{dataset.arrays.nbytes / len(dataset) * 1e5 / 2**20:,.0f} MiB"
    out["batch tensors per 100k graphs"] = (
        f"{first['batch_bytes_per_graph'] * 1e5 / 2**30:,.1f} GiB (built per batch, not kept)"
    )
    kept = e3c_coverage(dataset, config.max_hyperedges)
    out["E3C weight kept by hyperedges"] = f"{kept:.1%}" + ("" if args.files else " (synthetic pT)")
    step = training_step(dataset.norm.p4_scale)
    share = wait_share(dataset, args.batch_size, step, args.workers[-1], 20)
    out["data wait share of a default-model training step"] = f"{share:.1%}"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jets", type=int, default=20_000, help="30-particle jets (150: a tenth)")
    parser.add_argument(
        "--files", nargs="+", help="use these schema files instead of synthetic jets"
    )
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--max-batches", type=int, default=40, help="batches timed per setting")
    parser.add_argument("--norm-jets", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[0, 1], help="loader workers to try"
    )
    parser.add_argument("--particles", type=int, nargs="+", default=[30, 150])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        results = {n: run_case(n, args, Path(tmp)) for n in args.particles}
    table = Table(title=f"graph data set, batch {args.batch_size}, {args.threads} torch thread(s)")
    table.add_column("particles per jet")
    for n in args.particles:
        table.add_column(str(n), justify="right")
    for key in results[args.particles[0]]:
        table.add_row(key, *(results[n][key] for n in args.particles))
    console.print(table)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    console.print(f"peak resident memory of this process: {rss:,.0f} MiB")


if __name__ == "__main__":
    main()
