"""Jet graph data set and loader reading the hepvae ROOT schema.

Storage: each split keeps only compact arrays, the leading ``n_particles`` constituents of
every jet flattened into one [P, 4] float32 array (pT, eta, phi, mass) with offsets, plus
jet-level arrays (about 16 bytes per stored constituent and 50 per jet). Graphs are built
per batch with vectorized torch code (:mod:`hepvae.graphs.build`), so memory does not grow
beyond these arrays. With ``GraphConfig.cache`` set, the arrays of all three splits and
the training normalization are written once to a folder of ``.npy`` files and JSON (no
pickles) and later memory-mapped; the cache is rebuilt when the source files (path, size,
modification time) or the settings it depends on change.

Splits: a jet goes to train, val or test by a 64-bit hash of (seed, file name, run,
luminosityBlock, event) compared with the split fractions. The assignment is
deterministic, disjoint, and does not depend on file order, chunking or the other files.

Small jets: every jet with at least one constituent gives a valid graph; a 1-particle jet
has no edges and no hyperedges, a 2-particle jet one edge and no hyperedges. Jets without
constituents are rejected by the schema check when the files are read.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler
from torch_geometric.data import Batch

from hepvae.config import to_dict
from hepvae.data.schema import JET_FIELDS, PART_FIELDS, iterate_jets
from hepvae.errors import ConfigError, HepvaeError
from hepvae.graphs.build import make_batch, raw_graphs
from hepvae.graphs.features import (
    EDGE_FEATURES,
    HYPEREDGE_FEATURES,
    JET_FEATURES,
    NODE_FEATURES,
)
from hepvae.graphs.normalization import Normalization, RunningStats, nice_scale

SPLITS = ("train", "val", "test")
CACHE_FORMAT = 1
_ARRAY_FIELDS = ("parts", "offsets", "jets", "label", "event", "source")


@dataclasses.dataclass
class GraphConfig:
    """How jets become graphs.

    ``n_particles``: leading constituents kept per jet (by pT). ``max_hyperedges``: bound K on
    3-point hyperedges per jet (0: none); the default 256 keeps the hyperedge tensors of a
    30-particle jet below its 435 pair edges while covering most of the 3-point EEC weight.
    ``p4_scale``: the one constant [GeV] that divides all four-momenta; None chooses the
    training split's mean constituent energy rounded to 1, 2 or 5 x 10^k.
    ``split_fractions``: train, val, test shares (sum 1). ``seed``: changes the split.
    ``norm_jets``: at most this many training jets, evenly spaced, give the statistics.
    ``cache``: folder for the compact arrays and statistics (None: read the files each time).
    ``read_chunk``: jets read from ROOT at a time.
    """

    n_particles: int = 30
    max_hyperedges: int = 256
    p4_scale: float | None = None
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 0
    norm_jets: int = 20_000
    cache: str | None = None
    read_chunk: int = 100_000

    def __post_init__(self) -> None:
        if self.n_particles < 1:
            raise ConfigError(f"graphs.n_particles must be >= 1, got {self.n_particles}")
        if self.max_hyperedges < 0:
            raise ConfigError(f"graphs.max_hyperedges must be >= 0, got {self.max_hyperedges}")
        if self.p4_scale is not None and not (self.p4_scale > 0 and math.isfinite(self.p4_scale)):
            raise ConfigError(f"graphs.p4_scale must be a positive number, got {self.p4_scale}")
        fractions = tuple(float(f) for f in self.split_fractions)
        if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
            raise ConfigError(
                f"graphs.split_fractions must be three non-negative numbers summing to 1, "
                f"got {list(self.split_fractions)}"
            )
        self.split_fractions = fractions
        if self.norm_jets < 1:
            raise ConfigError(f"graphs.norm_jets must be >= 1, got {self.norm_jets}")
        if self.read_chunk < 1:
            raise ConfigError(f"graphs.read_chunk must be >= 1, got {self.read_chunk}")


# -- splits ---------------------------------------------------------------------------------
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer on a uint64 array (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        x = (x + np.uint64(0x9E3779B97F4A7C15)) & _MASK64
        x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK64
        x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK64
        return x ^ (x >> np.uint64(31))


def split_of(
    file_name: str,
    run: np.ndarray,
    luminosity_block: np.ndarray,
    event: np.ndarray,
    fractions: Sequence[float],
    seed: int,
) -> np.ndarray:
    """Split code per jet (0 train, 1 val, 2 test) from a hash of its identity.

    Only the base name of ``file_name`` is used, so moving a folder keeps the split.
    """
    digest = hashlib.blake2b(
        f"{seed}:{os.path.basename(file_name)}".encode(), digest_size=8
    ).digest()
    key = np.full(len(event), int.from_bytes(digest, "little"), dtype=np.uint64)
    run_lumi = (np.asarray(run, dtype=np.uint64) << np.uint64(32)) | np.asarray(
        luminosity_block, dtype=np.uint64
    )
    h = _mix64(_mix64(key ^ run_lumi) ^ np.asarray(event, dtype=np.uint64))
    u = (h >> np.uint64(11)).astype(np.float64) * 2.0**-53
    edges = np.cumsum(fractions)[:2]
    return np.searchsorted(edges, u, side="right").astype(np.int8)


# -- compact arrays -------------------------------------------------------------------------
@dataclasses.dataclass
class JetArrays:
    """Compact jets of one split: ``parts`` [P, 4] float32 (pT, eta, phi, mass in GeV, each
    jet's leading constituents by descending pT), ``offsets`` [J + 1] int64, ``jets``
    [J, 4] float32 (pT, eta, phi, mass of the whole jet), ``label`` [J] int8, ``event`` [J]
    uint64, ``source`` [J] int32 (index into the data set's ``sources``)."""

    parts: np.ndarray
    offsets: np.ndarray
    jets: np.ndarray
    label: np.ndarray
    event: np.ndarray
    source: np.ndarray

    def __len__(self) -> int:
        return len(self.jets)

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, f).nbytes for f in _ARRAY_FIELDS)

    @property
    def counts(self) -> np.ndarray:
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
                np.zeros(0, np.int8),
                np.zeros(0, np.uint64),
                np.zeros(0, np.int32),
            )
        counts = np.concatenate([c.counts for c in chunks])
        offsets = np.zeros(len(counts) + 1, np.int64)
        np.cumsum(counts, out=offsets[1:])
        return cls(
            np.concatenate([c.parts for c in chunks]),
            offsets,
            *(np.concatenate([getattr(c, f) for c in chunks]) for f in _ARRAY_FIELDS[2:]),
        )

    def take(self, index: np.ndarray) -> JetArrays:
        """The jets ``index`` as a new JetArrays (copies)."""
        index = np.asarray(index, dtype=np.int64)
        counts = self.counts[index]
        offsets = np.zeros(len(index) + 1, np.int64)
        np.cumsum(counts, out=offsets[1:])
        rows = np.repeat(self.offsets[index] - offsets[:-1], counts) + np.arange(offsets[-1])
        return JetArrays(
            np.asarray(self.parts[rows]),
            offsets,
            *(np.asarray(getattr(self, f)[index]) for f in _ARRAY_FIELDS[2:]),
        )

    def padded(self, index: np.ndarray) -> tuple[torch.Tensor, ...]:
        """Tensors of jets ``index``: parts [B, n_max, 4], counts [B], jets [B, 4], labels [B]."""
        index = np.asarray(index, dtype=np.int64)
        start = self.offsets[index]
        counts = self.offsets[index + 1] - start
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


def _compact(jets: ak.Array, n_particles: int, source: int) -> JetArrays:
    part = jets.Part
    part = part[ak.argsort(part.pt, axis=1, ascending=False, stable=True)][:, :n_particles]
    counts = ak.to_numpy(ak.num(part, axis=1)).astype(np.int64)
    offsets = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    flat = np.stack([ak.to_numpy(ak.flatten(part[f], axis=1)) for f in PART_FIELDS], axis=1).astype(
        np.float32
    )
    jet = np.stack([ak.to_numpy(jets.Jet[f]) for f in JET_FIELDS], axis=1).astype(np.float32)
    return JetArrays(
        flat.reshape(-1, 4),
        offsets,
        jet.reshape(-1, 4),
        ak.to_numpy(jets.Jet.label).astype(np.int8),
        ak.to_numpy(jets.event).astype(np.uint64),
        np.full(len(counts), source, np.int32),
    )


def read_splits(
    paths: Sequence[Path],
    config: GraphConfig,
    wanted: Iterable[str] = SPLITS,
    progress: bool = False,
) -> dict[str, JetArrays]:
    """Read schema files once and return the compact arrays of the ``wanted`` splits."""
    wanted = [SPLITS.index(s) for s in wanted]
    chunks: dict[int, list[JetArrays]] = {code: [] for code in wanted}
    with progress_bar(progress, "reading jets", total=None) as advance:
        for source, path in enumerate(paths):
            for jets in iterate_jets(path, step_size=config.read_chunk):
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
                        chunks[c].append(_compact(selected, config.n_particles, source))
                advance(len(jets))
    return {SPLITS[c]: JetArrays.concatenate(chunks[c]) for c in wanted}


# -- normalization --------------------------------------------------------------------------
def compute_normalization(
    arrays: JetArrays, config: GraphConfig, batch_size: int = 512, progress: bool = False
) -> Normalization:
    """Statistics of the training split: ``p4_scale`` and feature means and spreads.

    Uses at most ``config.norm_jets`` jets, evenly spaced over the split (deterministic).
    """
    if len(arrays) == 0:
        raise HepvaeError(
            "the training split is empty: give more jets or a larger training fraction "
            "(normalization statistics come from the training split only)"
        )
    chosen = np.unique(np.linspace(0, len(arrays) - 1, min(config.norm_jets, len(arrays))))
    chosen = chosen.astype(np.int64)
    stats = {
        "node": RunningStats(len(NODE_FEATURES)),
        "edge": RunningStats(len(EDGE_FEATURES)),
        "hyperedge": RunningStats(len(HYPEREDGE_FEATURES)),
        "jet": RunningStats(len(JET_FEATURES)),
    }
    energy_sum, energy_count = 0.0, 0
    with progress_bar(progress, "normalization", total=len(chosen)) as advance:
        for start in range(0, len(chosen), batch_size):
            index = chosen[start : start + batch_size]
            with torch.no_grad():
                raw = raw_graphs(*arrays.padded(index), config.max_hyperedges)
            energy_sum += float(raw.p4[:, 0].double().sum())
            energy_count += raw.p4.shape[0]
            stats["node"].update(raw.x)
            stats["edge"].update(raw.edge)
            stats["hyperedge"].update(raw.hyperedge)
            stats["jet"].update(raw.jet)
            advance(len(index))
    p4_scale = config.p4_scale or nice_scale(energy_sum / energy_count)
    values: dict[str, Any] = {"p4_scale": float(p4_scale), "n_jets": int(len(chosen))}
    for group, s in stats.items():
        values[f"{group}_mean"], values[f"{group}_std"] = s.mean_std()
    return Normalization(**values)


# -- cache ----------------------------------------------------------------------------------
def _fingerprint(paths: Sequence[Path]) -> list[dict[str, Any]]:
    out = []
    for p in paths:
        try:
            st = p.stat()
        except OSError:
            raise HepvaeError(f"{p}: no such file") from None
        out.append({"path": str(p.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns})
    return out


def _cache_key(config: GraphConfig, sources: list[dict[str, Any]]) -> dict[str, Any]:
    settings = to_dict(config)
    settings.pop("cache")
    settings.pop("read_chunk")
    settings["split_fractions"] = list(settings["split_fractions"])
    return {"format": CACHE_FORMAT, "settings": settings, "sources": sources}


def _load_cache(folder: Path, key: dict[str, Any]):
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        if folder.exists() and any(folder.iterdir()):
            raise HepvaeError(f"{folder}: exists and is not a hepvae graph cache (no meta.json)")
        return None
    try:
        meta = json.loads(meta_path.read_text())
    except ValueError:
        return None
    if meta.get("key") != key:
        return None
    arrays = {}
    for split in SPLITS:
        fields = {}
        for f in _ARRAY_FIELDS:
            fields[f] = np.load(folder / f"{split}-{f}.npy", mmap_mode="r", allow_pickle=False)
        arrays[split] = JetArrays(**fields)
    norm = None
    if meta.get("normalization") is not None:
        norm = Normalization.from_dict(meta["normalization"], where=str(meta_path))
    return arrays, norm


def _write_cache(
    folder: Path,
    key: dict[str, Any],
    arrays: dict[str, JetArrays],
    norm: Normalization | None,
) -> None:
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        for split, arr in arrays.items():
            for f in _ARRAY_FIELDS:
                np.save(tmp / f"{split}-{f}.npy", np.ascontiguousarray(getattr(arr, f)))
        norm_dict = None if norm is None else norm.to_dict()
        counts = {split: len(arr) for split, arr in arrays.items()}
        meta = {"key": key, "counts": counts, "normalization": norm_dict}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        if norm_dict is not None:
            (tmp / "normalization.json").write_text(json.dumps(norm_dict, indent=1))
        old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
        if folder.exists():
            folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise HepvaeError(
            f"{folder}: cannot write the graph cache ({exc.strerror or exc})"
        ) from None


def load_splits(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    config: GraphConfig,
    wanted: Iterable[str] = SPLITS,
    progress: bool = False,
    with_norm: bool = True,
) -> tuple[list[Path], dict[str, JetArrays], Normalization | None]:
    """Compact arrays of the ``wanted`` splits and the training normalization.

    The normalization is None when the training split is empty, or when ``with_norm`` is
    False and there is no cache (a cache always holds it). With ``config.cache`` the cache
    is used, or built and written first.
    """
    paths = [Path(paths)] if isinstance(paths, (str, os.PathLike)) else [Path(p) for p in paths]
    if not paths:
        raise HepvaeError("no input files given")
    wanted = list(wanted)
    for split in wanted:
        if split not in SPLITS:
            raise HepvaeError(f"unknown split {split!r}: choose one of {', '.join(SPLITS)}")
    if config.cache is None:
        needed = set(wanted) | ({"train"} if with_norm else set())
        arrays = read_splits(paths, config, sorted(needed, key=SPLITS.index), progress)
        norm = _norm_or_none(arrays["train"], config, progress) if with_norm else None
        return paths, {s: arrays[s] for s in wanted}, norm
    folder = Path(config.cache)
    key = _cache_key(config, _fingerprint(paths))
    loaded = _load_cache(folder, key)
    if loaded is None:
        arrays = read_splits(paths, config, SPLITS, progress)
        norm = _norm_or_none(arrays["train"], config, progress)
        _write_cache(folder, key, arrays, norm)
        loaded = _load_cache(folder, key)
    arrays, norm = loaded
    return paths, {s: arrays[s] for s in wanted}, norm


def _norm_or_none(train: JetArrays, config: GraphConfig, progress: bool) -> Normalization | None:
    return compute_normalization(train, config, progress=progress) if len(train) else None


# -- data set and loader --------------------------------------------------------------------
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
        parts, counts, jets, labels = self.arrays.padded(index)
        return make_batch(parts, counts, jets, labels, self.norm, self.config.max_hyperedges)

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


@contextlib.contextmanager
def progress_bar(enabled: bool, description: str, total: int | None):
    """Yield an ``advance(n)`` callable; it drives a rich progress bar when ``enabled``."""
    if not enabled:
        yield lambda n: None
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


__all__ = [
    "SPLITS",
    "GraphConfig",
    "JetArrays",
    "JetGraphDataset",
    "compute_normalization",
    "load_splits",
    "make_loader",
    "read_splits",
    "split_of",
]
