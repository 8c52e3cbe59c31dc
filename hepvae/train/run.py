"""One training run from a config: data, normalization, model, loop."""

from __future__ import annotations

import os
import time
from pathlib import Path

from hepvae.device import resolve_device
from hepvae.errors import HepvaeError
from hepvae.graphs.cache import load_splits
from hepvae.graphs.config import GraphConfig
from hepvae.model import Normalization, compute_normalization
from hepvae.train import distributed as D
from hepvae.train.checkpoint import Checkpoint
from hepvae.train.config import Config
from hepvae.train.data import JetTensors
from hepvae.train.default_data import default_data_files
from hepvae.train.loop import Trainer, TrainResult

#: where a new run writes its checkpoints when no folder is given
DEFAULT_SAVE_DIR = Path("runs/hepvae")


def data_files(config: Config, progress: bool = True) -> list[Path]:
    """The configured files, or the default data set (simulated and cached on first use)."""
    if config.data.files:
        return [Path(p) for p in config.data.files]
    d = config.data
    return default_data_files(
        d.default_jet_types,
        d.default_jets_per_type,
        n_particles=config.model.n_particles,
        seed=d.default_seed,
        progress=progress,
    )


def prepare_data(
    config: Config, files: list[Path], progress: bool = False
) -> tuple[JetTensors, JetTensors, Normalization]:
    """Training and validation jets of the hash split, and the training normalization,
    from the data layer (read from ``data.cache`` when it holds these files and settings)."""
    _, arrays, norm = load_splits(
        files, GraphConfig.from_train(config), ("train", "val"), progress=progress
    )
    train, val = (
        JetTensors.from_arrays(arrays[s], config.model.n_particles) for s in ("train", "val")
    )
    if norm is None:
        raise HepvaeError(f"{', '.join(map(str, files))}: no jets in the training split")
    if int(train.label.max()) >= config.model.n_labels:
        raise HepvaeError(
            f"data has label {int(train.label.max())} but model.n_labels = {config.model.n_labels}"
        )
    return train, val, norm


def run_folder(save_dir: str | os.PathLike | None, resume: Checkpoint | None) -> Path:
    """The folder a run writes to: ``save_dir`` when given, else the folder of the checkpoint
    it resumes, else :data:`DEFAULT_SAVE_DIR`."""
    if save_dir is not None:
        return Path(save_dir)
    if resume is not None and resume.path is not None:
        return resume.path.parent
    return DEFAULT_SAVE_DIR


def train(
    config: Config,
    save_dir: str | os.PathLike | None = None,
    log_dir: str | os.PathLike | None = None,
    resume: str | os.PathLike | Checkpoint | None = None,
    train_data: JetTensors | None = None,
    val_data: JetTensors | None = None,
) -> TrainResult:
    """Train with ``config``; data from the config unless given as tensors.

    Normalization comes from the training split (or from the checkpoint when resuming).
    ``resume``: a checkpoint file or one already loaded (each file is read once). Checkpoints
    and logs go to ``save_dir``, by default the resumed run's own folder (:func:`run_folder`).
    ``train.time_limit_minutes`` counts from the call, data simulation included.
    Under ``torchrun`` every process runs this and DDP keeps them in step; only the first
    writes checkpoints and logs.
    """
    started = time.perf_counter()
    if resume is not None and not isinstance(resume, Checkpoint):
        resume = Checkpoint.load(resume)
    save_dir = run_folder(save_dir, resume)
    info = D.init(resolve_device(config.train.device).type)
    try:
        if train_data is None:
            if info.main:
                files = data_files(config, progress=config.train.progress)
                if config.data.cache is not None:  # written once, by the first process
                    load_splits(files, GraphConfig.from_train(config), (), config.train.progress)
            D.barrier(info)  # the default data set is simulated once, by the first process
            files = data_files(config, progress=False)
            progress = info.main and config.train.progress and config.data.cache is None
            train_data, val_data, norm = prepare_data(config, files, progress)
        else:
            norm = None
        if resume is not None:
            where = str(resume.path) if resume.path is not None else "checkpoint"
            norm = Normalization.from_dict(resume.normalization, where=where)
        elif norm is None:
            norm = compute_normalization(
                train_data.p4, train_data.mask, train_data.label, config.model
            )
        trainer = Trainer(
            config, train_data, val_data, norm, save_dir, log_dir, resume, info, started
        )
        if info.main and config.train.progress:
            print(
                f"training on {trainer.device} in {trainer.precision} "
                f"(precision: {config.train.precision}), {info.world} process(es), "
                f"{len(train_data)} training jets",
                flush=True,
            )
        return trainer.fit()
    finally:
        D.shutdown(info)
