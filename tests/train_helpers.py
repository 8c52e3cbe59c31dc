"""Tiny training setups shared by the training tests.

They pin ``device: cpu`` and ``precision: fp32``: the config's ``auto`` would pick bf16 on a GPU
(and on CPUs where bf16 measures faster), and the exact-resume test compares weights to 1e-7.
Tests of the mixed-precision path ask for their precision explicitly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

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
    opt.update(time_limit_minutes=None, device="cpu", precision="fp32")
    opt.update(train)
    return Config(
        model=small_config(),
        data=DataConfig(batch_size=16, default_jets_per_type=10),
        train=OptimConfig(**opt),
    )


@contextlib.contextmanager
def linear_output_dtypes() -> Iterator[set[torch.dtype]]:
    """The dtypes of the ``nn.Linear`` outputs computed inside a ``HyperVAE`` forward pass in
    the block (global forward hooks): ``{torch.bfloat16}`` shows that bf16 autocast was active
    in the model, ``{torch.float32}`` that it was not. Linear layers run elsewhere (the trial
    autocast pass of ``choose_precision``) are not counted."""
    from hepvae.model import HyperVAE

    seen: set[torch.dtype] = set()
    depth = [0]

    def enter(module, args):
        depth[0] += isinstance(module, HyperVAE)

    def leave(module, args, output):
        depth[0] -= isinstance(module, HyperVAE)
        if depth[0] > 0 and isinstance(module, torch.nn.Linear):
            seen.add(output.dtype)

    handles = [
        torch.nn.modules.module.register_module_forward_pre_hook(enter),
        torch.nn.modules.module.register_module_forward_hook(leave),
    ]
    try:
        yield seen
    finally:
        for handle in handles:
            handle.remove()
