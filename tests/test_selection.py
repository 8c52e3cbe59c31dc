"""Checkpoint selection by generated substructure: the score, and training that keeps the
best-scoring epoch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hepvae.errors import HepvaeError
from hepvae.train.checkpoint import Checkpoint
from hepvae.train.run import train
from hepvae.train.selection import (
    OBSERVABLES,
    class_balanced,
    standardized_w1,
    substructure_score,
    tensors_to_jets,
)
from tests.model_helpers import dense_jets
from tests.train_helpers import tiny_config, tiny_data


def test_tensors_to_jets_keeps_the_masked_constituents_in_any_slot_order():
    p4, mask, labels = dense_jets(20, seed=3)
    flip = torch.flip(torch.arange(p4.shape[1]), [0])  # real constituents in the last slots
    jets = tensors_to_jets(p4[:, flip], mask[:, flip], labels)
    assert np.array_equal(np.asarray([len(p) for p in jets.Part]), mask.sum(1).numpy())
    pt = torch.linalg.norm(p4[..., 1:3], dim=-1)
    for i in range(len(jets)):
        expected = np.sort(pt[i][mask[i]].numpy())[::-1]
        assert np.allclose(np.asarray(jets.Part.pt[i]), expected, rtol=1e-6)
    momentum = (p4[..., 1:] * mask[..., None]).sum(1).double()
    energy = torch.linalg.norm(p4[..., 1:].double(), dim=-1).mul(mask).sum(1)  # E = |p|
    mass = (energy**2 - (momentum**2).sum(-1)).clamp(min=0).sqrt()
    assert np.allclose(np.asarray(jets.Jet.mass), mass.numpy(), rtol=1e-5)


def test_standardized_w1_is_the_shift_in_units_of_the_spread():
    x = np.random.default_rng(0).normal(3.0, 2.0, 20000)
    assert standardized_w1(x, x + 0.5) == pytest.approx(0.5 / np.std(x), rel=1e-9)
    assert standardized_w1(x, x) == 0.0


def _pronged(n: int, prongs: int, spread: float, seed: int, n_particles: int = 12):
    """Jets of ``prongs`` clusters of constituents (pT ~ 1 TeV in all) at angles 0.2-0.5 from
    the origin in (eta, phi), each with a Gaussian angular ``spread``; (p4, mask, labels)."""
    rng = np.random.default_rng(seed)
    size = (n, n_particles)
    prong = rng.integers(0, prongs, size)
    radius, angle = rng.uniform(0.2, 0.5, (n, prongs)), rng.uniform(0, 2 * np.pi, (n, prongs))
    if prongs == 1:
        radius[:] = 0.0
    rows = np.arange(n)[:, None]
    eta = radius[rows, prong] * np.cos(angle[rows, prong]) + rng.normal(0, spread, size)
    phi = radius[rows, prong] * np.sin(angle[rows, prong]) + rng.normal(0, spread, size)
    pt = rng.exponential(1000.0 / n_particles, size) + 1.0
    p4 = np.stack([pt * np.cosh(eta), pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], -1)
    return torch.tensor(p4), torch.ones(size, dtype=torch.bool), torch.full((n,), 2)


def test_score_is_small_for_the_same_jets_and_grows_when_prongs_are_lost():
    real = tensors_to_jets(*_pronged(400, 3, 0.02, seed=4))
    same, parts = substructure_score(real, real, 12)
    assert same == 0.0 and sorted(parts) == sorted(f"{o}_2" for o in OBSERVABLES)
    noise, _ = substructure_score(real, tensors_to_jets(*_pronged(400, 3, 0.02, seed=5)), 12)
    blob, parts = substructure_score(real, tensors_to_jets(*_pronged(400, 1, 0.25, seed=5)), 12)
    assert blob > 5 * noise > 0
    assert parts["tau32_2"] > 1.0  # the blobs' tau32 sits a standard deviation or more higher


def test_class_balanced_takes_the_first_jets_of_each_class():
    labels = torch.tensor([0, 1, 0, 2, 1, 0, 2, 2])
    assert class_balanced(labels, 2).tolist() == [0, 1, 2, 3, 4, 6]


def test_training_keeps_the_epoch_with_the_best_substructure(tmp_path):
    data, val = tiny_data(96), tiny_data(48, seed=1)
    config = tiny_config(epochs=3, select_by="substructure", select_jets=8)
    result = train(config, tmp_path / "run", train_data=data, val_data=val)
    history = Checkpoint.load(result.last).history
    scores = [r["val_substructure"] for r in history]
    assert len(scores) == 3 and all(np.isfinite(scores))
    assert all(f"val_substructure_tau32_{c}" in history[0] for c in range(3))
    best = Checkpoint.load(result.best)
    assert result.best_val == pytest.approx(min(scores))
    assert best.epoch == history[int(np.argmin(scores))]["epoch"]
    # resuming under the loss criterion starts the best-checkpoint search afresh
    resumed = train(
        tiny_config(epochs=4), tmp_path / "run", resume=result.last, train_data=data,
        val_data=val,
    )  # fmt: skip
    last = Checkpoint.load(resumed.last).history[-1]
    assert resumed.best_val == pytest.approx(last["val_total"])


def _train_on_files(tmp_path, n_heldout: int, **train_options):
    """A tiny run on 200 random jets written to a ROOT file (30 slots), and a held-out file of
    ``n_heldout`` other jets: (the run's result, the held-out path)."""
    import dataclasses

    from hepvae.data.schema import write_jets
    from tests.conftest import random_jets

    files = [write_jets(tmp_path / "train.root", random_jets(200, seed=1))]
    heldout = write_jets(tmp_path / "test.root", random_jets(n_heldout, seed=2))
    config = tiny_config(**train_options)
    config = dataclasses.replace(
        config,
        model=dataclasses.replace(config.model, n_particles=30),
        data=dataclasses.replace(config.data, files=[str(f) for f in files], val_fraction=0.3),
    )
    return train(config, tmp_path / "run"), heldout


def test_selection_benchmark_scores_every_epoch_and_picks_by_each_criterion(tmp_path):
    from benchmarks import checkpoint_selection

    heldout = _train_on_files(tmp_path, 60, epochs=2, checkpoint_every=1)[1]
    rows = checkpoint_selection.study(tmp_path / "run", heldout, 40, 20, first_epoch=1)
    assert [r["epoch"] for r in rows] == [1, 2]
    assert all(r["loss"] is not None and r["score"] > 0 for r in rows)
    assert all(r["heldout"]["tau32"] > 0 for r in rows)
    result = checkpoint_selection.summary(rows)
    scores = [r["score"] for r in rows]
    assert result["picked"]["score"]["epoch"] == rows[int(np.argmin(scores))]["epoch"]
    assert set(result["correlation"]["loss"]) == set(OBSERVABLES)
    with pytest.raises(HepvaeError, match="no epoch checkpoints"):
        checkpoint_selection.study(tmp_path, heldout, 40, 20, first_epoch=1)


def test_prior_gap_benchmark_measures_every_latent_source(tmp_path):
    from benchmarks import prior_gap

    result, heldout = _train_on_files(tmp_path, 80, epochs=1)
    gap = prior_gap.study(result.best, heldout, 50, seed=3, flow_epochs=2)
    rows = gap["w1"]
    names = {"truth", "prior", "posterior means", "posterior samples", "reconstructed"}
    assert names <= set(rows) and names <= set(gap["mean_std"])
    for values in rows.values():
        assert set(values) == set(OBSERVABLES)
        assert all(np.isfinite(v) and v > 0 for v in values.values())
    # the untrained prior is N(0, 1), far from the posterior means' spread: other latents,
    # other jets
    assert rows["prior"] != rows["posterior means"] != rows["posterior samples"]
