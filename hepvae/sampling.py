"""Reproducible sampling plans and the step from padded sampler outputs to schema jets.

Shared by ``hepvae generate`` (torch) and :class:`hepvae.onnx.Sampler` (onnxruntime), and free
of torch, so that both draw the same jets for the same seed.

Noise: jet ``i`` of a run with seed ``s`` takes row ``i % NOISE_BLOCK`` of block
``i // NOISE_BLOCK``; block ``b`` is ``NOISE_BLOCK`` rows of float32 standard normals from
``numpy.random.default_rng(SeedSequence(s, spawn_key=(b,)))`` (the ``b``-th child of
``SeedSequence(s).spawn``). A jet's noise therefore depends only on the seed and its index,
not on the batch size, the number of shards or which worker draws it.

Labels: with several jet types, jet ``i`` gets ``labels[i % len(labels)]`` (equal shares).
Event numbers are the global jet indices, unique across the shards of one run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import awkward as ak
import numpy as np

from hepvae.data.schema import JET_TYPES, make_jets
from hepvae.errors import HepvaeError, ParameterError
from hepvae.physics.p4 import jet_coordinates, wrap_phi

#: rows per noise block (the unit in which seeds are derived)
NOISE_BLOCK = 1024


def block_noise(seed: int, block: int, dim: int) -> np.ndarray:
    """Noise block ``block`` of the run with ``seed``: float32 [NOISE_BLOCK, dim]."""
    sequence = np.random.SeedSequence(seed, spawn_key=(block,))
    return np.random.default_rng(sequence).standard_normal((NOISE_BLOCK, dim), dtype=np.float32)


def noise_range(seed: int, start: int, stop: int, dim: int) -> np.ndarray:
    """Standard-normal noise of jets ``start .. stop-1``: float32 [stop - start, dim]."""
    if stop <= start:
        return np.zeros((0, dim), dtype=np.float32)
    first, last = start // NOISE_BLOCK, (stop - 1) // NOISE_BLOCK
    blocks = [block_noise(seed, b, dim) for b in range(first, last + 1)]
    rows = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
    offset = first * NOISE_BLOCK
    return rows[start - offset : stop - offset]


def label_range(start: int, stop: int, labels: Sequence[int]) -> np.ndarray:
    """Labels of jets ``start .. stop-1`` cycling through ``labels``: int64 [stop - start]."""
    codes = np.asarray(labels, dtype=np.int64)
    return codes[np.arange(start, stop) % len(codes)]


def shard_ranges(n: int, shards: int) -> list[tuple[int, int]]:
    """Split jets ``0 .. n-1`` into ``shards`` contiguous (start, stop) ranges of near-equal size."""
    bounds = [n * k // shards for k in range(shards + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def shard_path(path: str, index: int, shards: int) -> str:
    """Name of shard ``index``: ``OUT.root`` for one shard, else ``OUT_<index>.root`` with the
    index zero-padded to the width of ``shards - 1`` (OUT_0 .. OUT_9, OUT_00 .. OUT_11)."""
    if shards == 1:
        return str(path)
    stem, suffix = str(path)[: -len(".root")], ".root"
    width = len(str(shards - 1))
    return f"{stem}_{index:0{width}d}{suffix}"


def resolve_labels(jet_type: str, trained: Sequence[int], source: str) -> list[int]:
    """Label codes for a ``jet_type`` choice: one type, or ``all`` (the trained classes).

    Raises :class:`HepvaeError` for unknown types and types the model was not trained on.
    """
    trained_names = ", ".join(JET_TYPES[k] for k in trained)
    if jet_type == "all":
        return sorted(int(k) for k in trained)
    if jet_type not in JET_TYPES:
        raise ParameterError(
            "{jet_type}: unknown jet type {got!r}, choose one of {types} or all",
            got=jet_type,
            types=", ".join(JET_TYPES),
        )
    code = JET_TYPES.index(jet_type)
    if code not in trained:
        raise HepvaeError(
            f"{source}: the model was not trained on jet type {jet_type!r} "
            f"(trained: {trained_names})"
        )
    return [code]


def check_request(n: int, temperature: float) -> None:
    """One-line errors for a non-positive jet count or temperature."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ParameterError("{n} must be a positive integer, got {got!r}", got=n)
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature)):
        raise ParameterError(
            "{temperature} must be a positive number, got {got!r}", got=temperature
        )
    if temperature <= 0:
        raise ParameterError("{temperature} must be > 0, got {got!r}", got=temperature)


def padded_to_jets(
    p4: np.ndarray,
    multiplicity: np.ndarray,
    labels: np.ndarray,
    first_event: int = 0,
    jet: np.ndarray | None = None,
    nparticles: np.ndarray | None = None,
) -> ak.Array:
    """Jets in the in-memory schema from padded sampler outputs.

    ``p4`` [B, N, 4] holds (E, px, py, pz) in GeV with the real constituents in the first
    ``multiplicity`` [B] slots (the samplers sort by descending pT); the other slots are
    dropped. Constituents are stored massless, as the model emits them (E = |p|), sorted by
    descending pT. ``jet`` [B, 4] (pt [GeV], eta, phi, mass [GeV]) is the full jet and
    ``nparticles`` [B] the multiplicity before truncation, as the samplers emit them; without
    them the jet is the constituents' sum (float64) and ``nparticles`` the stored count.
    ``nparticles`` is raised to at least the stored count. Event numbers start at
    ``first_event``.
    """
    p4 = np.asarray(p4, dtype=np.float64)
    counts = np.asarray(multiplicity, dtype=np.int64)
    n_slots = p4.shape[1]
    keep = np.arange(n_slots)[None, :] < counts[:, None]
    flat = p4[keep]
    px, py, pz = flat[:, 1], flat[:, 2], flat[:, 3]
    parts = ak.unflatten(
        ak.zip({"px": px, "py": py, "pz": pz, "mass": np.zeros_like(px)}, with_name="Momentum4D"),
        counts,
    )
    parts = parts[ak.argsort(parts.pt, axis=1, ascending=False)]
    if jet is None:
        total = jet_coordinates(parts)
        jet_fields = [total[name] for name in ("pt", "eta", "phi", "mass")]
    else:
        jet = np.asarray(jet, dtype=np.float64)
        jet_fields = [jet[:, 0], jet[:, 1], wrap_phi(jet[:, 2]), jet[:, 3]]
    full_count = counts if nparticles is None else np.maximum(nparticles, counts)
    n = len(counts)
    return make_jets(
        *jet_fields,
        np.asarray(labels, dtype=np.int32),
        parts.pt,
        parts.eta,
        wrap_phi(parts.phi),
        nparticles=full_count,
        event=np.arange(first_event, first_event + n, dtype=np.uint64),
    )
