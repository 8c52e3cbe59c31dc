"""Checkpoints: written atomically, read with ``torch.load(weights_only=True)``.

A checkpoint is one ``.pt`` file holding only tensors and plain Python values:

- ``format`` ("hepvae-checkpoint"), ``format_version``, ``hepvae_version``
- ``config``: the full training config as a nested dict (:class:`hepvae.train.config.Config`)
- ``config_digest``: a short hash of it
- ``normalization``: :class:`hepvae.model.ModelNormalization` as a dict (GeV scale etc.)
- ``model``: the model's state dict (float tensors)
- ``optimizer``, ``scheduler``, ``scaler``: their state dicts
- ``rng``: torch CPU (and CUDA) generator states, numpy's and Python's
- ``epoch``, ``batch_in_epoch``, ``step``, ``bad_steps``, ``best_val``, ``history``

:func:`load_model` rebuilds the model from a checkpoint alone, for generation and export.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hepvae.errors import HepvaeError

FORMAT = "hepvae-checkpoint"
FORMAT_VERSION = 1


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    from hepvae import __version__

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "hepvae_version": __version__}
    payload.update(state)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint safely (no arbitrary unpickling); errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise HepvaeError(f"{path}: no such checkpoint")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # truncated, foreign or unsafe files
        reason = " ".join(str(exc).split())[:200]
        raise HepvaeError(f"{path}: not a readable hepvae checkpoint ({reason})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise HepvaeError(f"{path}: not a hepvae checkpoint")
    if state.get("format_version") != FORMAT_VERSION:
        raise HepvaeError(
            f"{path}: checkpoint format {state.get('format_version')} is not supported "
            f"(expected {FORMAT_VERSION})"
        )
    return state


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu"):
    """(model in eval mode, :class:`~hepvae.train.config.Config`) from a checkpoint."""
    from hepvae.model import HyperVAE, ModelNormalization
    from hepvae.train.config import config_from_dict

    state = load_checkpoint(path, map_location=device)
    config = config_from_dict(state["config"], where=f"{path}: config")
    try:
        norm = ModelNormalization.from_dict(state["normalization"])
        model = HyperVAE(config.model, norm, config.loss)
        model.load_state_dict(state["model"])
    except (KeyError, ValueError, RuntimeError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise HepvaeError(f"{path}: checkpoint does not match the model ({reason})") from None
    return model.to(device).eval(), config


def rng_state() -> dict[str, Any]:
    """All random generator states, as tensors and plain values."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "name": np_state[0],
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": {"version": py_state[0], "state": list(py_state[1])},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the states saved by :func:`rng_state`."""
    torch.set_rng_state(state["torch"].cpu())
    n = state["numpy"]
    keys = n["keys"].numpy().astype(np.uint32)
    np.random.set_state((n["name"], keys, n["pos"], n["has_gauss"], n["cached_gaussian"]))
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"]), None))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
