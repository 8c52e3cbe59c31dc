"""Checkpoints: one typed :class:`Checkpoint`, written atomically, read once with
``torch.load(weights_only=True)``.

On disk a checkpoint is one ``.pt`` file holding a dict of tensors and plain Python values
(the format of every hepvae version so far, so older files still load):

- ``format`` ("hepvae-checkpoint"), ``format_version``, ``hepvae_version``
- ``config``: the full training config as a nested dict (:class:`hepvae.train.config.Config`)
- ``config_digest``: a short hash of it
- ``normalization``: the model's normalization as a dict (GeV scale etc.)
- ``model``: the model's state dict (float tensors)
- ``optimizer``, ``scheduler``, ``scaler``: their state dicts
- ``rng``: torch CPU (and CUDA) generator states, numpy's and Python's
- ``epoch``, ``batch_in_epoch``, ``step``, ``bad_steps``, ``best_val``, ``history``
- ``planned_epochs``, ``trained_labels`` (absent from the oldest files; filled in on loading)
- ``planned_steps``: the optimizer steps a time limit planned, or None (all the epochs'; absent
  from older files)

:meth:`Checkpoint.load` reads a file and checks its keys; :meth:`Checkpoint.build_model`
rebuilds the model from it alone, for generation and export.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hepvae.atomic import atomic_path, ensure_dir
from hepvae.errors import HepvaeError

FORMAT = "hepvae-checkpoint"
FORMAT_VERSION = 1
#: keys that describe the file rather than the run
_META = ("format", "format_version", "hepvae_version")
#: fields of :class:`Checkpoint` that are not stored in the file
_NOT_STORED = ("hepvae_version", "path", "sha256")
#: stored fields that older files lack
_OPTIONAL = ("planned_epochs", "trained_labels", "planned_steps")
#: the Python type every stored value must have
_KINDS: dict[str, type | tuple[type, ...]] = {
    "config": dict, "config_digest": str, "normalization": dict, "model": dict,
    "optimizer": dict, "scheduler": dict, "scaler": dict, "rng": dict, "epoch": int,
    "batch_in_epoch": int, "step": int, "bad_steps": int, "best_val": (float, type(None)),
    "history": list, "planned_epochs": int, "trained_labels": list,
    "planned_steps": (int, type(None)),
}  # fmt: skip


@dataclass
class Checkpoint:
    """Everything a training run needs to continue, and a generator needs to sample.

    ``config`` and ``normalization`` are kept as the plain dicts stored in the file
    (:meth:`training_config` gives the typed config). ``path`` and ``sha256`` are those of
    the file it was loaded from (None for one not loaded from a file).
    """

    config: dict[str, Any]
    config_digest: str
    normalization: dict[str, Any]
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    scaler: dict[str, Any]
    rng: dict[str, Any]
    epoch: int
    batch_in_epoch: int
    step: int
    bad_steps: int
    best_val: float | None
    history: list[dict[str, Any]]
    planned_epochs: int
    trained_labels: list[int]
    planned_steps: int | None = None
    hepvae_version: str | None = None
    path: Path | None = None
    sha256: str | None = None

    @property
    def where(self) -> str:
        """How errors name this checkpoint: its file, or "checkpoint"."""
        return str(self.path) if self.path is not None else "checkpoint"

    # --- reading and writing --------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Checkpoint:
        """Read ``path`` once, safely (no arbitrary unpickling), and check its keys.

        Raises :class:`HepvaeError` naming the file for a missing, unreadable, truncated or
        foreign file, and for missing, unknown or mistyped keys.
        """
        path = Path(path)
        if not path.is_file():
            raise HepvaeError(f"{path}: no such checkpoint")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise HepvaeError(f"{path}: cannot read the checkpoint ({exc.strerror})") from None
        try:
            state = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
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
        _fill_older(state)
        _check_keys(state, path)
        values = {name: state[name] for name in stored_fields()}
        return cls(**values, hepvae_version=state.get("hepvae_version"), path=path,
                   sha256=hashlib.sha256(data).hexdigest())  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """The stored fields as a dict (the file's content without its format keys)."""
        return {name: getattr(self, name) for name in stored_fields()}

    def save(self, path: str | os.PathLike) -> Path:
        """Write to ``path`` atomically: a temporary file in the same folder
        (:func:`hepvae.atomic.temp_path`), synced, then renamed. Temporary files that killed
        runs left for ``path`` are removed first."""
        from hepvae import __version__

        path = Path(path)
        ensure_dir(path.parent)
        payload = {"format": FORMAT, "format_version": FORMAT_VERSION,
                   "hepvae_version": __version__, **self.to_dict()}  # fmt: skip
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        return path

    # --- what it holds --------------------------------------------------------------------
    def training_config(self):
        """The typed :class:`~hepvae.train.config.Config`; errors name the file."""
        from hepvae.train.config import config_from_dict

        return config_from_dict(self.config, where=f"{self.where}: config")

    def build_model(self, device: str | torch.device = "cpu"):
        """(model in eval mode on ``device``, typed config), rebuilt from this checkpoint."""
        from hepvae.model import HyperVAE, Normalization

        config = self.training_config()
        try:
            norm = Normalization.from_dict(self.normalization, where=f"{self.where}: normalization")
            model = HyperVAE(config.model, norm, config.loss)
            model.load_state_dict(self.model)
        except (KeyError, ValueError, RuntimeError) as exc:
            reason = " ".join(str(exc).split())[:200]
            raise HepvaeError(
                f"{self.where}: checkpoint does not match the model ({reason})"
            ) from None
        return model.to(device).eval(), config


def stored_fields() -> list[str]:
    """Names of the :class:`Checkpoint` fields stored in the file, in order."""
    return [f.name for f in dataclasses.fields(Checkpoint) if f.name not in _NOT_STORED]


def _fill_older(state: dict[str, Any]) -> None:
    """Fill in the keys that files of older hepvae versions lack (when the config allows)."""
    config = state.get("config")
    if not isinstance(config, dict):
        return
    train = config.get("train")
    if "planned_epochs" not in state and isinstance(train, dict) and "epochs" in train:
        state["planned_epochs"] = train["epochs"]
    state.setdefault("planned_steps", None)
    model, data = config.get("model"), config.get("data")
    if "trained_labels" not in state and isinstance(model, dict) and isinstance(data, dict):
        if isinstance(model.get("n_labels"), int):
            state["trained_labels"] = _default_labels(config)


def _default_labels(config: dict[str, Any]) -> list[int]:
    """Labels of a run that did not record them: the default data set's jet types when the
    run used it (no data files in the config), else every label of the model."""
    from hepvae.data.schema import label_of

    data = config["data"]
    if not data.get("files") and data.get("default_jet_types"):
        return sorted(label_of(name) for name in data["default_jet_types"])
    return list(range(int(config["model"]["n_labels"])))


def _check_keys(state: dict[str, Any], path: Path) -> None:
    """One-line :class:`HepvaeError` naming ``path`` and every missing, unknown or mistyped key."""
    expected = stored_fields()
    problems = []
    missing = [k for k in expected if k not in state]
    unknown = sorted(str(k) for k in state if k not in expected and k not in _META)
    if missing:
        problems.append(f"missing keys {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown keys {', '.join(unknown)}")
    mistyped = [
        f"{k} ({type(state[k]).__name__})"
        for k in expected
        if k in state and not isinstance(state[k], _KINDS[k])
    ]
    if mistyped:
        problems.append(f"values of the wrong type {', '.join(mistyped)}")
    if problems:
        raise HepvaeError(f"{path}: not a valid hepvae checkpoint: {'; '.join(problems)}")


def load_model(checkpoint: str | os.PathLike | Checkpoint, device: str | torch.device = "cpu"):
    """(model in eval mode, :class:`~hepvae.train.config.Config`) from a checkpoint file or a
    loaded :class:`Checkpoint`."""
    if not isinstance(checkpoint, Checkpoint):
        checkpoint = Checkpoint.load(checkpoint)
    return checkpoint.build_model(device)


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
