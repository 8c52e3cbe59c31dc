"""Generate jets with a trained HyperVAE into ROOT files of the hepvae schema.

Jets are drawn batch by batch through :class:`hepvae.export.graph.SamplerGraph` (the same graph
that ``hepvae export`` writes to ONNX) and streamed to disk, so memory stays constant. The noise
of jet ``i`` depends only on the seed and ``i`` (:mod:`hepvae.sampling`), so a run gives the same
jets for the same seed whatever the batch size, the number of shards, or whether the shards run
here or on a dask cluster. Sharded output: ``OUT_<k>.root`` (see
:func:`hepvae.sampling.shard_path`); event numbers are global jet indices.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from hepvae import __version__
from hepvae.cluster import check_dask_options
from hepvae.errors import HepvaeError, ParameterError
from hepvae.progress import ProgressBar
from hepvae.sampling import (
    check_request,
    label_range,
    noise_range,
    padded_to_jets,
    resolve_labels,
    shard_path,
    shard_ranges,
)


@dataclass
class LoadedModel:
    """A HyperVAE restored from a checkpoint, with what identifies it."""

    vae: torch.nn.Module
    path: Path
    sha256: str
    config_hash: str
    trained_labels: list[int]
    normalization: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)

    def identity(self) -> dict[str, Any]:
        """Checkpoint name and hash, config hash, and training progress (JSON-able)."""
        return {
            "checkpoint": self.path.name,
            "checkpoint_sha256": self.sha256,
            "config_hash": self.config_hash,
            **self.info,
        }


_LOADED: dict[tuple, LoadedModel] = {}


def load_generator(checkpoint: str | os.PathLike, device: str = "cpu") -> LoadedModel:
    """Restore the model of ``checkpoint`` on ``device`` in eval mode.

    The file is read once per process and kept while it is unchanged (same size, modification
    time and inode), so that the shards of a run share it. Raises :class:`HepvaeError` for a
    missing, truncated or foreign checkpoint.
    """
    from hepvae.device import resolve_device
    from hepvae.train.checkpoint import Checkpoint

    path = Path(checkpoint)
    if not path.is_file():
        raise HepvaeError(f"{path}: no such checkpoint file")
    target = resolve_device(device)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino, str(target))
    if key in _LOADED:
        return _LOADED[key]
    ckpt = Checkpoint.load(path, map_location="cpu")
    vae, config = ckpt.build_model(target)
    loaded = LoadedModel(
        vae=vae,
        path=path,
        sha256=ckpt.sha256 or "",
        config_hash=config.digest(),
        trained_labels=sorted(int(k) for k in ckpt.trained_labels),
        normalization=ckpt.normalization,
        info={"epoch": ckpt.epoch, "step": ckpt.step},
    )
    _LOADED[key] = loaded
    return loaded


@dataclass
class ShardTask:
    """Everything one shard needs; plain data, so that it travels to dask workers."""

    checkpoint: str
    output: str
    start: int
    stop: int
    labels: list[int]
    jet_type: str
    seed: int
    temperature: float
    batch_size: int
    device: str
    shard: int
    shards: int


def shard_metadata(task: ShardTask, model: LoadedModel) -> dict[str, Any]:
    """File metadata of one shard: model identity, request, seed scheme and versions."""
    return {
        "producer": "generate",
        "backend": "torch",
        "hepvae_version": __version__,
        "torch_version": torch.__version__,
        "model": model.identity(),
        "config_hash": model.config_hash,
        "jet_type": task.jet_type,
        "labels": task.labels,
        "seed": task.seed,
        "temperature": task.temperature,
        "shard": task.shard,
        "shards": task.shards,
        "first_event": task.start,
        "noise": "hepvae.sampling blocks",
    }


@torch.no_grad()
def generate_shard(task: ShardTask, advance: Callable[[int], None] | None = None) -> int:
    """Sample jets ``task.start .. task.stop-1`` into ``task.output``; returns the jet count."""
    from hepvae.data.schema import JetWriter
    from hepvae.export.graph import SamplerGraph

    model = load_generator(task.checkpoint, task.device)
    graph = SamplerGraph(model.vae).eval()
    device = next(model.vae.parameters()).device
    temperature = torch.tensor([task.temperature], dtype=torch.float32, device=device)
    with JetWriter(task.output, shard_metadata(task, model)) as writer:
        for a in range(task.start, task.stop, task.batch_size):
            b = min(a + task.batch_size, task.stop)
            noise = torch.from_numpy(noise_range(task.seed, a, b, graph.noise_dim)).to(device)
            labels = label_range(a, b, task.labels)
            out = graph(noise, torch.from_numpy(labels).to(device), temperature)
            p4, _, multiplicity, jet, nparticles = (t.cpu().numpy() for t in out)
            writer.write(padded_to_jets(p4, multiplicity, labels, a, jet, nparticles))
            if advance is not None:
                advance(b - a)
    return writer.n_jets


def _check_output(output: Path) -> None:
    if output.suffix != ".root":
        raise HepvaeError(f"{output}: output file must end in .root")
    folder = output.parent
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise HepvaeError(f"{folder}: output folder is not writable")


def plan_shards(
    checkpoint: str | os.PathLike,
    output: str | os.PathLike,
    n: int,
    labels: Sequence[int],
    jet_type: str,
    seed: int,
    temperature: float,
    batch_size: int,
    device: str,
    shards: int,
) -> list[ShardTask]:
    """The shard tasks of a run: contiguous ranges of global jet indices."""
    return [
        ShardTask(
            checkpoint=str(Path(checkpoint).resolve()),
            output=str(Path(shard_path(str(output), k, shards)).resolve()),
            start=start,
            stop=stop,
            labels=list(labels),
            jet_type=jet_type,
            seed=seed,
            temperature=float(temperature),
            batch_size=batch_size,
            device=device,
            shard=k,
            shards=shards,
        )
        for k, (start, stop) in enumerate(shard_ranges(n, shards))
    ]


def generate(
    checkpoint: str | os.PathLike,
    output: str | os.PathLike,
    n: int,
    jet_type: str = "all",
    temperature: float = 1.0,
    batch_size: int = 1024,
    device: str = "cpu",
    seed: int = 0,
    shards: int = 1,
    scheduler: str | None = None,
    local_cluster: int | None = None,
    progress: bool = True,
) -> list[Path]:
    """Generate ``n`` jets of ``jet_type`` (g, q, t, w, z, or all: the trained classes in equal
    shares) into ``output`` (``shards`` files when > 1) and return the paths written.

    With ``scheduler`` (``tcp://host:port``) or ``local_cluster`` (number of workers of a
    local dask cluster) the shards run on dask workers, which must see the checkpoint and the
    output folder. On any error no output file of the run is left behind.
    """
    check_request(n, temperature)
    for name, value in (("batch_size", batch_size), ("shards", shards)):
        if value <= 0:
            raise ParameterError("{" + name + "} must be a positive integer, got {got}", got=value)
    if shards > n:
        raise ParameterError("{shards} {got} is more than {n} {total}", got=shards, total=n)
    check_dask_options(scheduler, local_cluster)
    output = Path(output)
    _check_output(output)
    model = load_generator(checkpoint, device)
    labels = resolve_labels(jet_type, model.trained_labels, str(checkpoint))
    tasks = plan_shards(
        checkpoint, output, n, labels, jet_type, seed, temperature, batch_size, device, shards
    )
    done: list[Path] = []
    try:
        if scheduler or local_cluster:
            from hepvae.cluster import run_on_cluster

            for task in run_on_cluster(generate_shard, tasks, scheduler, local_cluster, progress):
                done.append(Path(task.output))
        else:
            with ProgressBar(n, "generating jets", progress) as bar:
                for task in tasks:
                    generate_shard(task, bar.advance)
                    done.append(Path(task.output))
    except BaseException:
        for path in done:  # a failed shard removes its own temporary file
            path.unlink(missing_ok=True)
        raise
    return [Path(task.output) for task in tasks]
