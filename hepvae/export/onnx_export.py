"""Export a trained HyperVAE's sampler to one self-contained ONNX file.

The file holds the graph of :class:`hepvae.export.graph.SamplerGraph` (prior scaling by the
temperature, multiplicity, decoder, placement in the lab frame and the four-momentum scale, so
the outputs are in GeV), with the decoder in its inference-only form (:mod:`hepvae.export.fast`,
checked against the trained modules before anything is written), a dynamic batch size, all
weights inside (no external data), and ``metadata_props`` that describe the inputs, outputs, units, label coding, normalization,
latent size, maximum multiplicity and versions (:func:`sampler_metadata`).
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hepvae import __version__
from hepvae.errors import HepvaeError
from hepvae.export.fast import fast_copy
from hepvae.export.graph import INPUTS, JET_FIELDS, OUTPUTS, P4_FIELDS, SamplerGraph
from hepvae.generate import LoadedModel, load_generator
from hepvae.onnx import FORMAT, FORMAT_KEY
from hepvae.sampling import JET_TYPES

#: default file name inside an export folder
FILE_NAME = "sampler.onnx"
#: largest relative deviation between torch and onnxruntime accepted by the export check
CHECK_TOLERANCE = 1e-4


def sampler_metadata(model: LoadedModel, graph: SamplerGraph) -> dict[str, str]:
    """The ``metadata_props`` of an exported sampler (values are strings, JSON where needed)."""
    import onnx
    import onnxruntime

    meta: dict[str, Any] = {
        FORMAT_KEY: FORMAT,
        "inputs": {
            "noise": f"float32 [B, {graph.noise_dim}] standard normal; columns 0..{graph.latent_dim - 1}"
            " are the latent (scaled by the temperature in the graph), the next 4 pick the prior"
            " component, multiplicity, jet rapidity and jet azimuth, the next 5 drive the full"
            " jet and the multiplicity before truncation"
            + (
                ", the last 2 the turn about the jet axis and its reflection"
                if model.vae.config.orient
                else ""
            ),
            "label": "int64 [B] jet type, JetNet coding",
            "temperature": "float32 [B] or [1], > 0; scales the prior's spread",
        },
        "outputs": {
            "p4": "float32 [B, N, 4] constituents (E, px, py, pz) in GeV, by descending pT, "
            "real ones first, empty slots zero",
            "mask": "bool [B, N] real constituent slots",
            "multiplicity": "int64 [B] number of constituents",
            "jet": "float32 [B, 4] (pt, eta, phi, mass) of the full jet (Jet_*: the "
            "constituents and what lies beyond the N slots)",
            "nparticles": "int64 [B] multiplicity before truncation (Jet_nparticles), "
            ">= multiplicity",
        },
        "p4_fields": list(P4_FIELDS),
        "jet_fields": list(JET_FIELDS),
        "units": {"E": "GeV", "px": "GeV", "py": "GeV", "pz": "GeV", "pt": "GeV", "mass": "GeV"},
        "labels": {name: code for code, name in enumerate(JET_TYPES)},
        "trained_labels": model.trained_labels,
        "noise_dim": graph.noise_dim,
        "latent_dim": graph.latent_dim,
        "max_particles": graph.max_particles,
        "normalization": model.normalization,
        "model": model.identity(),
        "config_hash": model.config_hash,
        "versions": {
            "hepvae": __version__,
            "torch": torch.__version__,
            "onnx": onnx.__version__,
            "onnxruntime_at_export": onnxruntime.__version__,
        },
        "seeding": "hepvae.sampling: block b of jets holds standard normals from "
        "numpy default_rng(SeedSequence(seed, spawn_key=(b,))), 1024 jets per block",
    }
    return {k: v if isinstance(v, str) else json.dumps(v, sort_keys=True) for k, v in meta.items()}


def example_inputs(graph: SamplerGraph, batch: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Random inputs for tracing and checking: noise, labels 0..4 in turn, temperatures."""
    rng = np.random.default_rng(seed)
    noise = torch.from_numpy(rng.standard_normal((batch, graph.noise_dim), dtype=np.float32))
    label = torch.arange(batch, dtype=torch.long) % 5
    temperature = torch.from_numpy(rng.uniform(0.5, 1.5, batch).astype(np.float32))
    return noise, label, temperature


def export_graph(graph: SamplerGraph, path: Path, metadata: dict[str, str]) -> None:
    """Write ``graph`` as one ONNX file with a dynamic batch and the given metadata_props."""
    import onnx

    batch = torch.export.Dim("batch")
    temperatures = torch.export.Dim("temperatures")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            graph,
            example_inputs(graph, 4),
            input_names=list(INPUTS),
            output_names=list(OUTPUTS),
            dynamic_shapes={
                "noise": {0: batch},
                "label": {0: batch},
                "temperature": {0: temperatures},
            },
            verbose=False,
        )
    model = program.model_proto
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save_model(model, str(path), save_as_external_data=False)


def p4_deviation(reference: np.ndarray, other: np.ndarray) -> float:
    """Largest deviation of constituent four-momenta [B, N, 4] (E, px, py, pz) from a reference,
    relative to each constituent's energy plus 1% of its jet's energy (a floor for very soft
    constituents, whose float32 rounding is set by the jet's scale).

    Constituents are matched within each jet to the nearest one of the other set, so that two
    constituents of equal pT that the graphs sort in different orders are not counted as a
    deviation; padded slots (zeros) match each other.
    """
    jet_energy = reference[..., 0].sum(-1, keepdims=True)
    scale = np.maximum(np.abs(reference[..., 0]) + 0.01 * np.abs(jet_energy), 1e-30)
    diff = np.abs(other[:, None, :, :] - reference[:, :, None, :]).max(-1) / scale[:, :, None]
    return float(max(diff.min(2).max(initial=0.0), diff.min(1).max(initial=0.0)))


def jet_deviation(reference: np.ndarray, other: np.ndarray) -> float:
    """Largest deviation of full jets [B, 4] (pT GeV, eta, phi, mass GeV): pT and mass relative
    to the jet's pT, eta and phi absolute."""
    scale = np.abs(reference[:, :1])
    diff = np.abs(other - reference)
    relative = np.concatenate([diff[:, :1], diff[:, 3:]], axis=1) / np.maximum(scale, 1e-30)
    return float(max(relative.max(initial=0.0), diff[:, 1:3].max(initial=0.0)))


def graph_deviation(reference: SamplerGraph, run, batch: int = 64, seed: int = 1) -> float:
    """Deviation of ``run(noise, label, temperature)`` (numpy arrays in, ``(p4, multiplicity,
    jet)`` out) from the torch graph ``reference`` on random inputs: the larger of
    :func:`p4_deviation` and :func:`jet_deviation`; infinite if any multiplicity differs."""
    noise, label, temperature = example_inputs(reference, batch, seed=seed)
    with torch.no_grad():
        p4, _, multiplicity, jet, _ = (t.numpy() for t in reference(noise, label, temperature))
    other, other_multiplicity, other_jet = run(noise.numpy(), label.numpy(), temperature.numpy())
    if not np.array_equal(multiplicity, other_multiplicity):
        return float("inf")
    return max(p4_deviation(p4, other), jet_deviation(jet, other_jet))


def check_fast(reference: SamplerGraph, fast: SamplerGraph, batch: int = 256) -> float:
    """Deviation of the fast torch graph (:mod:`hepvae.export.fast`) from the trained one."""

    def run(*inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with torch.no_grad():
            p4, _, multiplicity, jet, _ = fast(*(torch.from_numpy(x) for x in inputs))
        return p4.numpy(), multiplicity.numpy(), jet.numpy()

    return graph_deviation(reference, run, batch, seed=2)


def check_export(graph: SamplerGraph, path: Path, batch: int = 64) -> float:
    """Deviation of onnxruntime running ``path`` from the torch graph ``graph``."""
    from hepvae.onnx import Sampler

    sampler = Sampler(path)

    def run(*inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        out = sampler.run(*inputs)
        return out["p4"], out["multiplicity"], out["jet"]

    return graph_deviation(graph, run, batch)


def fast_graph(graph: SamplerGraph, path: Path) -> SamplerGraph:
    """The sampling graph with the inference-only decoder (:mod:`hepvae.export.fast`), checked
    against ``graph`` (the trained modules) to :data:`CHECK_TOLERANCE`."""
    fast = SamplerGraph(fast_copy(graph.sampler.vae)).eval()
    deviation = check_fast(graph, fast)
    if not deviation <= CHECK_TOLERANCE:
        raise HepvaeError(
            f"{path}: the inference graph differs from the trained model by {deviation:.2g} "
            f"(relative), more than {CHECK_TOLERANCE:g}; the export was not written"
        )
    return fast


def export_checkpoint(checkpoint: str | os.PathLike, output: str | os.PathLike) -> Path:
    """Export the sampler of ``checkpoint`` to ``output`` (a folder, then ``sampler.onnx``
    inside it, or a path ending in ``.onnx``); the file appears only once it is complete and
    onnxruntime reproduces torch within :data:`CHECK_TOLERANCE`."""
    output = Path(output)
    path = output if output.suffix == ".onnx" else output / FILE_NAME
    model = load_generator(checkpoint, "cpu")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HepvaeError(
            f"{path.parent}: cannot create the output folder ({exc.strerror})"
        ) from None
    if not os.access(path.parent, os.W_OK):
        raise HepvaeError(f"{path.parent}: output folder is not writable")
    graph = SamplerGraph(model.vae).eval()
    fast = fast_graph(graph, path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        export_graph(fast, tmp, sampler_metadata(model, graph))
        deviation = check_export(graph, tmp)
        if not deviation <= CHECK_TOLERANCE:
            raise HepvaeError(
                f"{path}: onnxruntime differs from torch by {deviation:.2g} (relative), more "
                f"than {CHECK_TOLERANCE:g}; the export was not written"
            )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
