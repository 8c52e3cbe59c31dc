"""Simulate JetNet-like jets with Pythia 8 + FastJet: the public API and the file output.

The physics is described in :mod:`hepvae.data.simulation_config` (processes, settings) and
:mod:`hepvae.data.pythia_jets` (clustering, cuts, truth matching, constituents); all momenta
in GeV.

Reproducibility
---------------
The work is split into chunks of ``chunk_size`` jets. Chunk k is generated with its own Pythia
random seed, derived from (seed, jet label, k); each worker keeps one initialized Pythia per
settings and re-seeds it per chunk. Chunks are collected in order, so the jets depend only on
(jet type, n_jets, n_particles, seed) and the physics settings, never on the number of
workers (``chunk_size``, 250 by default, is part of the sample's definition); the first n jets
of a larger sample with the same seed are the sample of n jets, and ``n_particles`` only
changes the truncation. Chunks run on a local process pool (:mod:`hepvae.data.pool`); Ctrl-C
terminates the workers and no output file is left behind.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import awkward as ak

from hepvae.data.pool import ordered_results
from hepvae.data.pythia_jets import chunk_to_jets, flatten_events, simulate_chunk
from hepvae.data.schema import JET_TYPES, JetWriter, concat_jets
from hepvae.data.simulation_config import (
    MATCH_DR,
    PARTON_IDS,
    PROCESSES,
    TUNE,
    SimulationConfig,
    available_cores,
)
from hepvae.progress import ProgressBar


def _iterate(cfg: SimulationConfig, progress: bool) -> Iterator[tuple[ak.Array, int]]:
    """Yield (jets of one chunk, events generated for it) in chunk order."""
    cfg.validate()
    workers = cfg.resolved_workers()
    sizes = [min(cfg.chunk_size, cfg.n_jets - k * cfg.chunk_size) for k in range(cfg.n_chunks)]
    tasks = [(cfg, chunk, size) for chunk, size in enumerate(sizes)]
    description = f"simulating {cfg.jet_type} jets ({workers} worker{'s' * (workers > 1)})"
    # the pool first: its workers are forked before the progress bar starts a thread
    with (
        ordered_results(simulate_chunk, tasks, workers) as results,
        ProgressBar(cfg.n_jets, description, progress) as bar,
    ):
        for chunk, data in enumerate(results):
            bar.advance(len(data["counts"]))
            yield chunk_to_jets(cfg, chunk, data), data["n_events"]


def iterate_simulation(cfg: SimulationConfig, progress: bool = True) -> Iterator[ak.Array]:
    """Yield the sample chunk by chunk (in-memory schema), in order; memory stays bounded."""
    with contextlib.closing(_iterate(cfg, progress)) as chunks:
        for jets, _ in chunks:
            yield jets


def simulation_metadata(cfg: SimulationConfig, n_events: int | None = None) -> dict[str, Any]:
    """The generator settings of a sample, as stored in the file's metadata."""
    from hepvae import __version__

    meta = {
        "producer": "simulate",
        "jet_type": cfg.jet_type,
        "label": cfg.label,
        "n_particles": cfg.n_particles,
        "seed": cfg.seed,
        "chunk_size": cfg.chunk_size,
        "chunk_seeds": "numpy SeedSequence([seed, label, chunk]) -> 1..900000000",
        "generator": "Pythia 8 (pythia8mc)",
        "tune": TUNE,
        "sqrt_s_gev": cfg.sqrt_s,
        "pthat_min_gev": cfg.pthat_min,
        "processes": list(PROCESSES[cfg.jet_type]),
        "pythia_settings": list(cfg.settings()),
        "jet_algorithm": "anti-kt (FastJet, E-scheme) on visible final-state particles",
        "jet_r": cfg.jet_r,
        "cuts": {"pt_min_gev": cfg.pt_min, "pt_max_gev": cfg.pt_max, "abs_eta_max": cfg.eta_max},
        "match": {
            "rule": (
                "hard parton of the class within match_dr of the jet axis"
                if cfg.jet_type in PARTON_IDS
                else "all decay quarks of one resonance of the class within match_dr"
            ),
            "match_dr": cfg.resolved_match_dr,
        },
        "constituents": "leading n_particles by pT; jet four-momentum is the full jet's",
        "versions": {
            "hepvae": __version__,
            "pythia8mc": _version("pythia8mc"),
            "fastjet": _version("fastjet"),
        },
    }
    if n_events is not None:
        meta["n_events"] = n_events
    return meta


def _version(package: str) -> str:
    try:
        return importlib_metadata.version(package)
    except importlib_metadata.PackageNotFoundError:
        return "unknown"


def _config(
    jet_type: str, n_jets: int, n_particles: int, seed: int, workers: int | None, **overrides
) -> SimulationConfig:
    cfg = SimulationConfig(
        jet_type=jet_type,
        n_jets=n_jets,
        n_particles=n_particles,
        seed=seed,
        workers=workers,
        **overrides,
    )
    cfg.validate()
    return cfg


def simulate(
    jet_type: str,
    n_jets: int,
    n_particles: int = 30,
    seed: int = 0,
    workers: int | None = None,
    progress: bool = True,
    **overrides: Any,
) -> ak.Array:
    """Simulate ``n_jets`` jets of ``jet_type`` (g, q, t, w, z) in memory (schema of ``make_jets``).

    ``overrides`` are further :class:`SimulationConfig` fields (e.g. ``pthat_min``).
    """
    cfg = _config(jet_type, n_jets, n_particles, seed, workers, **overrides)
    return simulate_config(cfg, progress=progress)


def simulate_config(cfg: SimulationConfig, progress: bool = True) -> ak.Array:
    """Simulate the sample described by ``cfg`` in memory."""
    return concat_jets(list(iterate_simulation(cfg, progress=progress)))


def simulate_to_file(
    path: str | os.PathLike,
    jet_type: str,
    n_jets: int,
    n_particles: int = 30,
    seed: int = 0,
    workers: int | None = None,
    progress: bool = True,
    **overrides: Any,
) -> Path:
    """Simulate jets into a ROOT file in the hepvae schema, chunk by chunk; return the path.

    The file appears only when complete (no partial file on error or Ctrl-C); its metadata
    holds :func:`simulation_metadata`.
    """
    cfg = _config(jet_type, n_jets, n_particles, seed, workers, **overrides)
    return simulate_config_to_file(path, cfg, progress=progress)


def simulate_config_to_file(
    path: str | os.PathLike, cfg: SimulationConfig, progress: bool = True
) -> Path:
    """Simulate the sample described by ``cfg`` into ``path``."""
    cfg.validate()
    with JetWriter(path, simulation_metadata(cfg)) as writer:
        n_events = 0
        with contextlib.closing(_iterate(cfg, progress)) as chunks:
            for jets, events in chunks:
                writer.write(jets)
                n_events += events
        writer.metadata["n_events"] = n_events
    return writer.path


__all__ = [
    "JET_TYPES",
    "MATCH_DR",
    "PROCESSES",
    "SimulationConfig",
    "available_cores",
    "flatten_events",
    "iterate_simulation",
    "simulate",
    "simulate_config",
    "simulate_config_to_file",
    "simulate_to_file",
    "simulation_metadata",
]
