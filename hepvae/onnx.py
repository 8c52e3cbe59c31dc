"""Sample jets from an exported HyperVAE with onnxruntime: no torch needed.

>>> from hepvae.onnx import Sampler
>>> sampler = Sampler("exports/default/sampler.onnx")
>>> jets = sampler.sample(1000, "t", seed=1, temperature=1.0)   # awkward, vector behaviours
>>> jets.Jet.mass, jets.Part.deltaR(jets.Jet)
>>> sampler.write("tops.root", 100_000, "t", seed=1)          # the hepvae ROOT schema

This module imports numpy, awkward, vector, onnxruntime and the torch-free parts of hepvae
(the ROOT schema, which uses uproot). For the same seed and temperature it draws the same
noise as ``hepvae generate``, so both give the same jets up to float32 rounding.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import onnxruntime as ort

from hepvae import __version__
from hepvae.data.schema import JetWriter
from hepvae.errors import HepvaeError
from hepvae.sampling import (
    JET_TYPES,
    check_request,
    label_range,
    noise_range,
    padded_to_jets,
    resolve_labels,
)

#: metadata_props key that marks a hepvae sampler, and its format version
FORMAT_KEY = "hepvae.format"
FORMAT = "hepvae-sampler/1"
#: jets per onnxruntime call: small calls keep the decoder's activations in the CPU caches
#: (measured on one thread, default model: 64 jets ~30% less CPU per jet than 1024 or 4096)
CHUNK = 64


def session_options(threads: int | None = None) -> ort.SessionOptions:
    """onnxruntime options for sampling: all graph optimizations (fusions of matmul + add,
    scale and GELU), sequential execution, ``threads`` intra-op threads (default:
    onnxruntime's choice) and one inter-op thread."""
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    if threads is not None:
        options.intra_op_num_threads = threads
    return options


class Sampler:
    """An exported HyperVAE sampler (one ``.onnx`` file) run with onnxruntime.

    ``threads`` sets onnxruntime's intra-op threads (default: onnxruntime's choice);
    ``providers`` its execution providers (default: CPU); ``chunk`` the jets per onnxruntime
    call inside :meth:`run` (default :data:`CHUNK`).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        threads: int | None = None,
        providers: list[str] | None = None,
        chunk: int = CHUNK,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise HepvaeError(f"{self.path}: no such ONNX file")
        self.chunk = chunk
        try:
            self.session = ort.InferenceSession(
                str(self.path),
                session_options(threads),
                providers=providers or ["CPUExecutionProvider"],
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            text = " ".join(str(exc).split())[:160]
            raise HepvaeError(f"{self.path}: not a readable ONNX model ({text})") from None
        props = self.session.get_modelmeta().custom_metadata_map
        if props.get(FORMAT_KEY) != FORMAT:
            raise HepvaeError(
                f"{self.path}: not a hepvae sampler (metadata {FORMAT_KEY!r} is "
                f"{props.get(FORMAT_KEY)!r}, expected {FORMAT!r})"
            )
        self.metadata: dict[str, Any] = {k: _maybe_json(v) for k, v in props.items()}
        self.noise_dim = int(self.metadata["noise_dim"])
        self.latent_dim = int(self.metadata["latent_dim"])
        self.max_particles = int(self.metadata["max_particles"])
        #: label codes the model was trained on (JetNet coding)
        self.trained_labels = [int(k) for k in self.metadata["trained_labels"]]

    @property
    def jet_types(self) -> list[str]:
        """Names of the jet types the model was trained on."""
        return [JET_TYPES[k] for k in self.trained_labels]

    def run(
        self, noise: np.ndarray, label: np.ndarray, temperature: np.ndarray | float = 1.0
    ) -> dict[str, np.ndarray]:
        """Run the graph once: noise [B, noise_dim], label [B], temperature [B] or scalar.

        Returns the raw outputs ``p4`` [B, N, 4] (E, px, py, pz; GeV), ``mask`` [B, N],
        ``multiplicity`` [B], ``jet`` [B, 4] (pt, eta, phi, mass; GeV) of the full jet and
        ``nparticles`` [B], the multiplicity before truncation. The graph runs on ``chunk`` jets
        at a time.
        """
        noise = np.ascontiguousarray(noise, dtype=np.float32)
        label = np.ascontiguousarray(label, dtype=np.int64)
        temperature = np.atleast_1d(np.asarray(temperature, dtype=np.float32))
        per_jet = len(temperature) > 1
        names = [o.name for o in self.session.get_outputs()]
        parts: list[list[np.ndarray]] = [[] for _ in names]
        for a in range(0, max(len(noise), 1), self.chunk):
            feeds = {
                "noise": noise[a : a + self.chunk],
                "label": label[a : a + self.chunk],
                "temperature": temperature[a : a + self.chunk] if per_jet else temperature,
            }
            for part, out in zip(parts, self.session.run(None, feeds)):
                part.append(out)
        return {name: np.concatenate(part) for name, part in zip(names, parts)}

    def iterate(
        self,
        n: int,
        jet_type: str = "all",
        seed: int = 0,
        temperature: float = 1.0,
        batch_size: int = 4096,
        start: int = 0,
    ) -> Iterator[ak.Array]:
        """Yield jets ``start .. start+n-1`` of the run with ``seed`` in chunks of ``batch_size``."""
        check_request(n, temperature)
        labels = resolve_labels(jet_type, self.trained_labels, str(self.path))
        for a in range(start, start + n, batch_size):
            b = min(a + batch_size, start + n)
            label = label_range(a, b, labels)
            out = self.run(noise_range(seed, a, b, self.noise_dim), label, temperature)
            yield padded_to_jets(
                out["p4"], out["multiplicity"], label, a, out["jet"], out["nparticles"]
            )

    def sample(
        self,
        n: int,
        jet_type: str = "all",
        seed: int = 0,
        temperature: float = 1.0,
        batch_size: int = 4096,
    ) -> ak.Array:
        """``n`` jets of ``jet_type`` (g, q, t, w, z or all) in the hepvae in-memory schema."""
        chunks = list(self.iterate(n, jet_type, seed, temperature, batch_size))
        return chunks[0] if len(chunks) == 1 else ak.concatenate(chunks)

    def write(
        self,
        path: str | os.PathLike,
        n: int,
        jet_type: str = "all",
        seed: int = 0,
        temperature: float = 1.0,
        batch_size: int = 4096,
    ) -> Path:
        """Stream ``n`` jets to a ROOT file in the hepvae schema (atomic) and return its path."""
        check_request(n, temperature)
        resolve_labels(jet_type, self.trained_labels, str(self.path))
        metadata = {
            "producer": "generate",
            "backend": "onnxruntime",
            "onnxruntime_version": ort.__version__,
            "hepvae_version": __version__,
            "sampler": str(self.path),
            "model": self.metadata.get("model", {}),
            "config_hash": self.metadata.get("config_hash"),
            "jet_type": jet_type,
            "seed": seed,
            "temperature": temperature,
            "noise": "hepvae.sampling blocks",
        }
        with JetWriter(path, metadata) as writer:
            for jets in self.iterate(n, jet_type, seed, temperature, batch_size):
                writer.write(jets)
        return writer.path


def _maybe_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text
