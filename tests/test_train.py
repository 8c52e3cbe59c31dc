"""Training loop: exact resume, NaN guard, checkpoints, configs, multiplicity learning."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
import torch

from hepvae.config import from_dict
from hepvae.device import DTYPES
from hepvae.errors import ConfigError, HepvaeError
from hepvae.train.checkpoint import Checkpoint, load_model
from hepvae.train.config import Config, load_train_config
from hepvae.train.run import train
from tests.train_helpers import linear_output_dtypes, tiny_config, tiny_data

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def _weights(path):
    return Checkpoint.load(path).model


def test_resume_continues_exactly(tmp_path):
    data, val = tiny_data(96, seed=0), tiny_data(32, seed=1)
    n, k = 9, 4  # 6 steps per epoch: the stop falls mid-epoch, the end in the next epoch
    with linear_output_dtypes() as dtypes:
        straight = train(tiny_config(max_steps=n), tmp_path / "a", train_data=data, val_data=val)
        train(tiny_config(max_steps=k), tmp_path / "b", train_data=data, val_data=val)
        first = Checkpoint.load(tmp_path / "b" / "last.pt")
        assert (first.step, first.epoch, first.batch_in_epoch) == (k, 0, k)
        resumed = train(
            tiny_config(max_steps=n),
            tmp_path / "b",
            resume=tmp_path / "b" / "last.pt",
            train_data=data,
            val_data=val,
        )
    assert dtypes == {torch.float32}  # pinned fp32 on the CPU, whatever `auto` would pick
    assert straight.steps == resumed.steps == n
    a, b = _weights(straight.last), _weights(resumed.last)
    assert a.keys() == b.keys()
    for name in a:
        assert torch.allclose(a[name], b[name], rtol=0, atol=1e-7), name
    assert not torch.equal(
        a["decoder.slots"], _weights(tmp_path / "b" / "best.pt")["decoder.slots"]
    )


def test_nan_batches_are_skipped_and_counted(tmp_path):
    data = tiny_data(96)
    data.p4[5, 0, 0] = float("nan")  # one bad jet: one skipped batch per epoch
    result = train(tiny_config(epochs=2), tmp_path, train_data=data, val_data=None)
    assert result.bad_steps == 2
    assert result.steps == 2 * 5
    assert all(torch.isfinite(w).all() for w in _weights(result.last).values())


def test_nan_guard_stops_with_the_last_good_checkpoint_intact(tmp_path):
    good = train(tiny_config(epochs=1), tmp_path, train_data=tiny_data(96), val_data=None)
    before = good.last.read_bytes()
    bad = tiny_data(96)
    bad.p4[::8, 0, 1] = float("inf")  # every batch has a non-finite jet
    with pytest.raises(HepvaeError, match=r"non-finite loss.*max_bad_steps = 2.*last\.pt"):
        train(
            tiny_config(epochs=3, max_bad_steps=2),
            tmp_path,
            resume=good.last,
            train_data=bad,
            val_data=None,
        )
    assert good.last.read_bytes() == before
    model, _ = load_model(good.last)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_checkpoint_loads_with_weights_only_and_samples(tmp_path):
    result = train(tiny_config(epochs=1), tmp_path, train_data=tiny_data(64), val_data=None)
    state = torch.load(result.last, weights_only=True)
    assert state["format"] == "hepvae-checkpoint"
    assert Config().to_dict().keys() == state["config"].keys()
    model, config = load_model(result.last)
    assert config.model.n_particles == 12
    p4, mask, jet, nparticles = model.sample(8, 2, 1.0, torch.Generator().manual_seed(0))
    assert p4.shape == (8, 12, 4) and torch.isfinite(p4).all()
    assert (jet[:, 0] > 0).all()


def test_broken_checkpoints_give_one_line_errors(tmp_path):
    result = train(tiny_config(epochs=1), tmp_path, train_data=tiny_data(32), val_data=None)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(result.last.read_bytes()[:1000])
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    for path, message in [
        (truncated, "not a readable hepvae checkpoint"),
        (foreign, "not a hepvae checkpoint"),
        (tmp_path / "missing.pt", "no such checkpoint"),
    ]:
        with pytest.raises(HepvaeError, match=message) as err:
            load_model(path)
        assert str(path) in str(err.value) and "\n" not in str(err.value)
    assert not list(tmp_path.glob(".*.tmp"))


def test_multiplicity_head_learns_the_data_distribution(tmp_path):
    """The predicted multiplicity distribution moves from its start towards the data's."""
    data = tiny_data(192, seed=3)
    keep = torch.arange(12) < 4
    data.mask &= keep  # every jet has at most 4 particles, most have exactly 4
    data.p4 *= data.mask.unsqueeze(-1)
    counts = data.mask.sum(1)
    target = torch.bincount(counts, minlength=13)[1:].float() / len(counts)

    def predicted(model):
        with torch.no_grad():
            mu, _ = model.encode(data.p4, data.mask, data.label)
            logits = model.multiplicity(model.condition(torch.zeros_like(mu), data.label))
        return torch.softmax(logits, -1).mean(0)

    config = tiny_config(epochs=8, lr=1e-2, max_steps=1)
    start = train(config, tmp_path / "start", train_data=data, val_data=None)
    before = predicted(load_model(start.last)[0])
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, max_steps=None))
    end = train(config, tmp_path / "end", train_data=data, val_data=None)
    after = predicted(load_model(end.last)[0])
    distance = lambda p: float((p - target).abs().sum() / 2)  # noqa: E731
    assert distance(after) < 0.5 * distance(before)


def test_unknown_config_keys_are_named():
    with pytest.raises(ConfigError, match="latnt_dim"):
        from_dict(Config, {"model": {"latnt_dim": 3}})
    with pytest.raises(ConfigError, match="train.precision"):
        from_dict(Config, {"train": {"precision": "fp8"}})
    with pytest.raises(ConfigError, match="references"):
        from_dict(Config, {"model": {"references": ["time", "up"]}})


@pytest.mark.parametrize(
    "name", sorted(p.stem for p in CONFIGS.glob("*.yaml") if p.stem != "branchmap_nanoaod")
)
def test_shipped_configs_load(name):
    config = load_train_config(CONFIGS / f"{name}.yaml")
    assert config.model.n_particles in (30, 150)


def test_default_yaml_equals_the_builtin_defaults():
    assert load_train_config(CONFIGS / "default.yaml") == Config()


def test_cli_train_runs_and_reports(tmp_path, jet_file, capsys):
    import yaml

    from hepvae.cli import main

    cfg = tiny_config(epochs=1).to_dict()
    cfg["model"]["n_particles"] = 30
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    code = main(["train", "--config", str(tmp_path / "c.yaml"), "--data", str(jet_file),
                 "--save-dir", str(tmp_path / "run")])  # fmt: skip
    assert code == 0
    assert (tmp_path / "run" / "last.pt").is_file()
    assert "last checkpoint" in capsys.readouterr().out
    assert main(["train", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert os.path.exists(tmp_path / "run" / "logs")


class SimulationCalled(Exception):
    """Raised by the tripwire that stands in for the simulation in the cache test."""


def test_default_data_is_read_from_the_cache(tmp_path, monkeypatch):
    import hepvae.data.simulate
    from hepvae.data.schema import write_jets
    from hepvae.train.default_data import cache_dir, default_data_files
    from tests.conftest import random_jets

    def tripwire(path, *args, **kwargs):
        raise SimulationCalled(str(path))

    monkeypatch.setenv("HEPVAE_CACHE", str(tmp_path / "cache"))
    assert cache_dir() == tmp_path / "cache"
    expected = [tmp_path / "cache" / "default" / f"{t}_20jets_30p_seed{k}.root"
                for k, t in enumerate(["g", "t"])]  # fmt: skip
    for k, path in enumerate(expected):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_jets(path, random_jets(20, seed=k, label=2 * k), {"producer": "test"})
    before = [(p.stat().st_mtime_ns, p.read_bytes()) for p in expected]
    monkeypatch.setattr(hepvae.data.simulate, "simulate_to_file", tripwire)
    assert default_data_files(["g", "t"], 20, 30, seed=0, progress=False) == expected
    assert [(p.stat().st_mtime_ns, p.read_bytes()) for p in expected] == before
    assert sorted(expected[0].parent.iterdir()) == expected  # nothing else written
    # the tripwire is the path a cache miss takes: another seed is not in the cache
    with pytest.raises(SimulationCalled, match="g_20jets_30p_seed5.root"):
        default_data_files(["g", "t"], 20, 30, seed=5, progress=False)


def test_time_limit_plans_steps_and_the_schedule(tmp_path):
    import time

    from hepvae.model import compute_normalization
    from hepvae.train.loop import Trainer

    config = tiny_config(epochs=10, time_limit_minutes=1.0)
    data = tiny_data(64)
    norm = compute_normalization(data.p4, data.mask, data.label, config.model)
    trainer = Trainer(config, data, None, norm, tmp_path, started=time.perf_counter() - 50)
    per_epoch = trainer.steps_per_epoch
    trainer.epoch, trainer.step = 1, per_epoch
    assert trainer.total_steps == 10 * per_epoch
    # about 10 s left at 1 s per epoch of steps alone: 2.5 more epochs, the last one partial
    assert not trainer._out_of_time(step_seconds=4.0 / per_epoch, other_seconds=0.0)
    assert 3 * per_epoch < trainer.total_steps < 4 * per_epoch
    assert trainer.planned_epochs == 4
    # validation and checkpoints (2 s an epoch) are kept for the end: 4 epochs of steps fit
    assert not trainer._out_of_time(step_seconds=2.0 / per_epoch, other_seconds=2.0)
    assert 4 * per_epoch < trainer.total_steps <= 5 * per_epoch
    assert not trainer._out_of_time(step_seconds=0.1 / per_epoch, other_seconds=0.0)
    assert trainer.total_steps == 10 * per_epoch and trainer.planned_epochs == 10
    assert trainer._out_of_time(step_seconds=20.0, other_seconds=0.0)  # not one more step


def test_a_planned_partial_epoch_is_validated_and_ends_the_run(tmp_path):
    from hepvae.model import compute_normalization
    from hepvae.train.loop import Trainer

    config = tiny_config(epochs=3)
    train_data, val_data = tiny_data(64), tiny_data(32, seed=1)
    norm = compute_normalization(train_data.p4, train_data.mask, train_data.label, config.model)
    trainer = Trainer(config, train_data, val_data, norm, tmp_path)
    per_epoch = trainer.steps_per_epoch
    trainer.set_planned_steps(per_epoch + 1)  # as a time limit plans it
    assert trainer.planned_epochs == 2
    result = trainer.fit()
    assert (result.steps, result.epochs) == (per_epoch + 1, 1)
    last = Checkpoint.load(result.last)
    assert (last.step, last.batch_in_epoch, last.planned_steps) == (per_epoch + 1, 1, per_epoch + 1)
    assert [r.get("batches_in_epoch") for r in last.history] == [None, 1]
    assert all("val_total" in r for r in last.history)  # the partial epoch was validated too
    assert result.best is not None and trainer.scheduler.get_last_lr()[0] == pytest.approx(
        config.train.lr * config.train.min_lr_ratio
    )  # the cosine schedule ended with the plan
    resumed = Trainer(config, train_data, val_data, norm, tmp_path / "again", resume=last)
    assert resumed.total_steps == per_epoch + 1
    assert resumed.fit().steps == per_epoch + 1  # nothing left to do


@pytest.mark.parametrize(
    "precision,checkpointing,accumulation", [("bf16", False, 1), ("fp16", True, 2)]
)
def test_mixed_precision_checkpointing_and_accumulation_train(
    tmp_path, precision, checkpointing, accumulation
):
    config = tiny_config(
        epochs=10, max_steps=2, precision=precision, grad_accumulation=accumulation
    )
    config = dataclasses.replace(
        config, model=dataclasses.replace(config.model, gradient_checkpointing=checkpointing)
    )
    with linear_output_dtypes() as dtypes:
        result = train(config, tmp_path, train_data=tiny_data(64), val_data=None)
    assert DTYPES[precision] in dtypes  # autocast was active in the training steps
    state = Checkpoint.load(result.last)
    assert result.steps == 2 and result.bad_steps == 0
    assert all(w.dtype == torch.float32 for w in state.model.values() if w.is_floating_point())
    assert all(torch.isfinite(w).all() for w in state.model.values())
    if precision == "fp16":
        assert state.scaler["scale"] > 0


@pytest.mark.parametrize("best_epoch", [2, 1])
def test_the_final_prior_fit_uses_the_configured_components(tmp_path, monkeypatch, best_epoch):
    """Each epoch fits a quick prior of at most 8 Gaussians; when training ends, best.pt gets
    ``model.prior_components`` of them, fitted on ``train.prior_jets`` jets, and so does last.pt
    when it holds the same step (otherwise it keeps its quick fit)."""
    from hepvae.model import prior
    from hepvae.train.loop import Trainer

    monkeypatch.setattr(prior, "JETS_PER_COMPONENT", 2)  # tiny classes: 32 jets
    losses = iter([2.0, 1.0] if best_epoch == 2 else [1.0, 2.0])
    monkeypatch.setattr(Trainer, "validate", lambda self: {"total": next(losses)})
    config = tiny_config(epochs=2, prior_jets=30)
    config = dataclasses.replace(
        config, model=dataclasses.replace(config.model, prior_components=12)
    )
    result = train(config, tmp_path, train_data=tiny_data(96), val_data=tiny_data(32, seed=1))
    assert Checkpoint.load(result.best).step == result.steps // 2 * best_epoch
    final = {result.best: 12, result.last: 12 if best_epoch == 2 else 8}
    for path, components in final.items():
        weights = _weights(path)["prior_weights"]
        assert [int((w > 0).sum()) for w in weights[:3]] == [components] * 3
        assert torch.allclose(weights[:3].sum(1), torch.ones(3))
    model, _ = load_model(result.best)
    fitted = model.prior_weights.clone()
    data = tiny_data(96)
    model.fit_prior(data.p4, data.mask, data.label, max_per_class=30, components=8)
    assert int((model.prior_weights[0] > 0).sum()) == 8 and not torch.equal(
        fitted, model.prior_weights
    )


def test_time_limit_keeps_time_for_the_final_prior_fit(tmp_path, monkeypatch):
    """The time plan keeps the final prior fit's expected seconds free: encoding
    ``train.prior_jets`` per class at the last quick fit's pace, and the EM of each class."""
    import time

    from hepvae.model import compute_normalization, prior
    from hepvae.train.loop import Trainer

    asked = []
    monkeypatch.setattr(prior, "em_seconds", lambda *shape: asked.append(shape) or 2.0)
    config = tiny_config(epochs=10, time_limit_minutes=1.0, prior_jets=21)
    data = tiny_data(64)  # 22, 21 and 21 jets of the classes 0, 1 and 2
    norm = compute_normalization(data.p4, data.mask, data.label, config.model)
    trainer = Trainer(config, data, None, norm, tmp_path, started=time.perf_counter() - 40)
    per_epoch = trainer.steps_per_epoch
    trainer.epoch, trainer.step = 1, per_epoch
    trainer._quick_fit = prior.PriorFit(jets=32, encode_seconds=3.2, mixture_seconds=0.5)
    # 63 jets at 0.1 s and 3 x 2 s of EM (one Gaussian each: fewer than 250 jets a class)
    assert trainer.final_prior_seconds() == pytest.approx(12.3)
    assert asked == [(21, 8, 1)] * 3
    # about 20 s left, 12.3 s of them kept: 3.85 epochs of steps at 2 s an epoch
    assert not trainer._out_of_time(step_seconds=2.0 / per_epoch, other_seconds=0.0)
    assert 4 * per_epoch < trainer.total_steps < 5 * per_epoch
    trainer._quick_fit = prior.PriorFit(jets=1, encode_seconds=1.0, mixture_seconds=0.0)
    assert trainer._out_of_time(step_seconds=1e-3, other_seconds=0.0)  # the fit takes it all


def test_a_prior_fit_keeps_to_its_time_budget():
    """With ``seconds``, EM stops before an iteration that would end past the budget; the first
    one always runs, so a zero budget gives the one-iteration fit."""
    from hepvae.model.prior import fit_mixture

    x = torch.cat([torch.randn(300, 3), torch.randn(300, 3) + 4.0])
    one = fit_mixture(x, 4, iterations=1)
    assert all(torch.equal(a, b) for a, b in zip(one, fit_mixture(x, 4, seconds=0.0)))
    full = fit_mixture(x, 4)
    assert not torch.equal(full[1], one[1])
    assert all(torch.equal(a, b) for a, b in zip(full, fit_mixture(x, 4, seconds=1e6)))
