"""The training configuration: model, loss, data and optimization, as typed dataclasses.

The defaults here are those of ``configs/default.yaml`` (a test keeps them equal), so
``hepvae train`` without ``--config`` runs the default CPU setup.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from hepvae.config import from_dict, load_yaml, to_dict
from hepvae.model.config import LossConfig, ModelConfig


@dataclass
class DataConfig:
    """Where the jets come from and how they are batched."""

    #: ROOT files in the hepvae schema; empty means the embedded default data set
    files: list[str] = field(default_factory=list)
    #: the default data set: jet types, jets per type, simulation seed
    default_jet_types: list[str] = field(default_factory=lambda: ["g", "q", "t"])
    default_jets_per_type: int = 8000
    default_seed: int = 0
    max_jets: int | None = None
    #: validation and test shares of the hash split (hepvae.graphs.splits); the rest trains
    val_fraction: float = 0.1
    test_fraction: float = 0.0
    split_seed: int = 0
    #: folder of the data cache (compact arrays, splits, normalization), as written by
    #: ``hepvae graphs --cache``; None reads the files each time
    cache: str | None = None
    #: jets per batch and process (the global batch is this times processes times accumulation)
    batch_size: int = 128

    def __post_init__(self) -> None:
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError("val_fraction must be in [0, 1)")
        if not 0.0 <= self.test_fraction < 1.0 - self.val_fraction:
            raise ValueError("test_fraction must be >= 0 and leave jets for training")
        if self.batch_size <= 0 or self.default_jets_per_type <= 0:
            raise ValueError("batch_size and default_jets_per_type must be > 0")


@dataclass
class OptimConfig:
    """Optimization, precision, logging and checkpointing."""

    epochs: int = 15
    lr: float = 2e-3
    weight_decay: float = 0.0
    warmup_steps: int = 100
    #: the cosine schedule ends at lr * min_lr_ratio
    min_lr_ratio: float = 0.05
    grad_accumulation: int = 1
    #: clip the global gradient norm (0 disables)
    grad_clip: float = 1.0
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    device: str = "auto"
    seed: int = 0
    #: torch threads for CPU training (0 keeps torch's default)
    threads: int = 0
    #: extra checkpoint every k epochs (0: only best and last)
    checkpoint_every: int = 0
    validate_every: int = 1
    #: what picks ``best.pt`` among the validated epochs: the validation loss, or the
    #: substructure of generated jets against the validation jets (hepvae.train.selection)
    select_by: Literal["loss", "substructure"] = "loss"
    #: validation jets per class (and as many generated) for ``select_by: substructure``
    select_jets: int = 5000
    #: training jets per class for the generation prior fitted when training ends, with
    #: ``model.prior_components`` Gaussians, into best.pt (and last.pt when it holds the same
    #: step). Every epoch's checkpoint first gets a quick fit (2,500 jets, at most 8 Gaussians;
    #: hepvae.train.loop)
    prior_jets: int = 50000
    figure_every: int = 5
    #: non-finite losses tolerated (each skips its step) before the run stops
    max_bad_steps: int = 20
    #: stop after this many optimizer steps (None: run all epochs)
    max_steps: int | None = None
    #: wall-clock budget of the whole run in minutes, data simulation included (None: none).
    #: After each epoch the plan (and the cosine schedule) is set to the configured epochs' steps
    #: or, if fewer, the optimizer steps that still fit at the measured pace, keeping time for the
    #: final validation and the final fit of the generation prior (``prior_jets``, its time
    #: estimated from the epochs' quick fits and a timed EM iteration); the last epoch may be
    #: partial (it is validated like a whole one). The prior's EM stops early if the time is up.
    time_limit_minutes: float | None = 13.0
    progress: bool = True

    def __post_init__(self) -> None:
        counts = (self.epochs, self.grad_accumulation, self.validate_every, self.select_jets,
                  self.prior_jets)  # fmt: skip
        if min(counts) <= 0:
            raise ValueError(
                "epochs, grad_accumulation, validate_every, select_jets and prior_jets must be > 0"
            )
        if self.lr <= 0:
            raise ValueError("lr must be > 0")


@dataclass
class Config:
    """Everything a training run needs; stored in every checkpoint."""

    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: OptimConfig = field(default_factory=OptimConfig)

    def to_dict(self) -> dict:
        return to_dict(self)

    def digest(self) -> str:
        """A short hash of the configuration (for file metadata and model identity)."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_train_config(path: str | Path | None) -> Config:
    """Load a training config from YAML (the defaults when ``path`` is None)."""
    if path is None:
        return Config()
    return from_dict(Config, load_yaml(path), where=str(path))


def config_from_dict(data: dict, where: str = "checkpoint config") -> Config:
    """The config saved in a checkpoint; models saved before ``model.orient`` existed were
    trained in the canonical frame (orient false)."""
    if isinstance(data.get("model"), dict) and "orient" not in data["model"]:
        data = {**data, "model": {**data["model"], "orient": False}}
    return from_dict(Config, data, where=where)
