"""Tiny training setups shared by the training tests."""

from __future__ import annotations

import torch

from hepvae.train.config import Config, DataConfig, OptimConfig
from hepvae.train.data import JetTensors
from tests.model_helpers import dense_jets, small_config


def tiny_data(n: int = 96, seed: int = 0, n_particles: int = 12) -> JetTensors:
    p4, mask, label = dense_jets(n, seed=seed, n_particles=n_particles)
    label = torch.arange(n) % 3
    return JetTensors(p4.float(), mask, label)


def tiny_config(**train) -> Config:
    opt = dict(epochs=3, lr=3e-3, warmup_steps=2, progress=False, figure_every=0, seed=1, threads=1)
    opt["time_limit_minutes"] = None
    opt.update(train)
    return Config(
        model=small_config(),
        data=DataConfig(batch_size=16, default_jets_per_type=10),
        train=OptimConfig(**opt),
    )
