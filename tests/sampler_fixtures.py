"""A tiny trained checkpoint and its ONNX export, made once per test session.

The model is trained for a few optimizer steps on Pythia 8 + FastJet jets of two classes (g and
t) so that the generation, export and round-trip tests exercise real checkpoints, real
normalization and real jets.
"""

from __future__ import annotations

from pathlib import Path

#: the classes the tiny model is trained on (JetNet codes of g and t)
TRAINED = ("g", "t")
N_PARTICLES = 12
_CACHE: dict[str, object] = {}


def tiny_config(steps: int = 60):
    from hepvae.model import LossConfig
    from hepvae.train.config import Config, DataConfig, OptimConfig
    from tests.model_helpers import small_config

    model = small_config(N_PARTICLES, max_edges=128)
    data = DataConfig(default_jet_types=list(TRAINED), batch_size=32, val_fraction=0.0)
    train = OptimConfig(
        epochs=100,
        lr=5e-3,
        warmup_steps=5,
        max_steps=steps,
        precision="fp32",
        threads=1,
        device="cpu",
        validate_every=1000,
        figure_every=1000,
        progress=False,
    )
    return Config(model=model, loss=LossConfig(kl_warmup_steps=20), data=data, train=train)


def training_jets(n_per_class: int = 96, seed: int = 0):
    """Pythia 8 + FastJet jets of the trained classes (g, then t), cached per session."""
    import awkward as ak

    from hepvae.data.simulate import simulate

    key = f"jets-{n_per_class}-{seed}"
    if key not in _CACHE:
        _CACHE[key] = ak.concatenate(
            [
                simulate(name, n_per_class, seed=seed + k, workers=1, progress=False)
                for k, name in enumerate(TRAINED)
            ]
        )
    return _CACHE[key]


def tiny_checkpoint(tmp_path_factory) -> Path:
    """Path of the tiny trained checkpoint (trained on first use in the session)."""
    if "checkpoint" not in _CACHE:
        from hepvae.model import compute_normalization
        from hepvae.train.data import jets_to_tensors
        from hepvae.train.loop import Trainer

        config = tiny_config()
        data = jets_to_tensors(training_jets(), N_PARTICLES)
        norm = compute_normalization(data.p4, data.mask, data.label, config.model)
        folder = tmp_path_factory.mktemp("tiny-model")
        result = Trainer(config, data, None, norm, folder).fit()
        _CACHE["checkpoint"] = Path(result.last)
    return _CACHE["checkpoint"]


def tiny_export(tmp_path_factory) -> Path:
    """Path of the tiny checkpoint's ONNX sampler (``hepvae export`` on first use)."""
    if "onnx" not in _CACHE:
        from hepvae.cli import main

        folder = tmp_path_factory.mktemp("tiny-export") / "tiny"
        checkpoint = tiny_checkpoint(tmp_path_factory)
        assert main(["export", "--checkpoint", str(checkpoint), "-o", str(folder)]) == 0
        _CACHE["onnx"] = folder / "sampler.onnx"
    return _CACHE["onnx"]
