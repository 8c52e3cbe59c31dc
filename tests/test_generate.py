"""hepvae generate: schema, determinism, shards on dask, temperature, units, bad input."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import torch

from hepvae.cli import main
from hepvae.data.schema import LABELS, read_jets, read_metadata
from hepvae.generate import generate, load_generator
from hepvae.physics.p4 import sum_p4
from hepvae.sampling import (
    NOISE_BLOCK,
    label_range,
    noise_range,
    padded_to_jets,
    shard_path,
    shard_ranges,
)
from tests.sampler_fixtures import N_PARTICLES, TRAINED, tiny_checkpoint, training_jets


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory)


def assert_same_counts(a: np.ndarray, b: np.ndarray) -> None:
    """Multiplicities before truncation from two backends: round(exp(x)) of float32 values may
    differ by one where exp(x) lies within rounding of a half; small counts must agree."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    assert a.shape == b.shape and np.all(np.abs(a - b) <= 1)
    small = np.minimum(a, b) < 100
    np.testing.assert_array_equal(a[small], b[small])


def assert_same_jets(a: ak.Array, b: ak.Array, rtol: float = 1e-5) -> None:
    assert len(a) == len(b)
    np.testing.assert_array_equal(ak.to_numpy(a.event), ak.to_numpy(b.event))
    np.testing.assert_array_equal(ak.to_numpy(a.Jet.label), ak.to_numpy(b.Jet.label))
    assert_same_counts(ak.to_numpy(a.Jet.nparticles), ak.to_numpy(b.Jet.nparticles))
    for coll in ("Jet", "Part"):
        for field in ("px", "py", "pz", "E"):
            x = ak.to_numpy(ak.flatten(getattr(a[coll], field), axis=None))
            y = ak.to_numpy(ak.flatten(getattr(b[coll], field), axis=None))
            scale = np.abs(ak.to_numpy(ak.flatten(a[coll].E, axis=None)))
            assert np.all(np.abs(x - y) <= rtol * scale + 1e-6), f"{coll}.{field} differ"


# --- the sampling plan (no model) -----------------------------------------------------------


def test_noise_depends_only_on_seed_and_jet_index():
    whole = noise_range(7, 0, 3 * NOISE_BLOCK + 5, 6)
    pieces = [noise_range(7, a, min(a + 333, len(whole)), 6) for a in range(0, len(whole), 333)]
    np.testing.assert_array_equal(np.concatenate(pieces), whole)
    assert whole.dtype == np.float32 and whole.shape == (3 * NOISE_BLOCK + 5, 6)
    assert abs(whole.mean()) < 0.05 and abs(whole.std() - 1) < 0.05
    assert not np.array_equal(noise_range(8, 0, 10, 6), whole[:10])


def test_labels_shards_and_names():
    labels = label_range(0, 10, [0, 2])
    assert labels.tolist() == [0, 2] * 5
    assert label_range(3, 5, [0, 2]).tolist() == [2, 0]
    assert shard_ranges(10, 3) == [(0, 3), (3, 6), (6, 10)]
    assert shard_path("out/jets.root", 2, 3) == "out/jets_2.root"
    assert shard_path("jets.root", 3, 12) == "jets_03.root"
    assert shard_path("jets.root", 0, 1) == "jets.root"


def test_padded_outputs_become_sorted_schema_jets():
    # two jets: slots beyond the multiplicity hold junk that must be dropped
    p4 = np.zeros((2, 3, 4))
    p4[0, 0] = [5.0, 3.0, 4.0, 0.0]  # pt 5
    p4[0, 1] = [10.0, 0.0, 6.0, 8.0]  # pt 6
    p4[0, 2] = [99.0, 99.0, 0.0, 0.0]  # dropped
    p4[1, 0] = [2.0, 0.0, 0.0, 2.0 - 1e-9]  # nearly along the beam, pt tiny but positive
    p4[1, 0, 1] = 1e-3
    jets = padded_to_jets(p4, np.array([2, 1]), np.array([2, 0]), first_event=10)
    assert ak.num(jets.Part, axis=1).tolist() == [2, 1]
    assert ak.to_list(jets.Part.pt[0]) == pytest.approx([6.0, 5.0])
    assert jets.event.tolist() == [10, 11] and jets.Jet.label.tolist() == [2, 0]
    total = np.array([15.0, 3.0, 10.0, 8.0])  # E, px, py, pz of jet 0
    mass = np.sqrt(total[0] ** 2 - (total[1:] ** 2).sum())
    assert float(jets.Jet.mass[0]) == pytest.approx(mass, rel=1e-6)
    assert float(jets.Jet.pt[0]) == pytest.approx(np.hypot(3.0, 10.0), rel=1e-6)
    assert jets.Jet.nparticles.tolist() == [2, 1]
    # with the sampler's full jets and multiplicities before truncation (at least the count)
    full = np.array([[20.0, 0.5, 3.5, 12.0], [1.0, -0.2, -3.0, 0.5]])
    jets = padded_to_jets(p4, np.array([2, 1]), np.array([2, 0]), 0, full, np.array([40, 0]))
    assert jets.Jet.nparticles.tolist() == [40, 1]
    got = np.stack([ak.to_numpy(jets.Jet[k]) for k in ("pt", "eta", "phi", "mass")], axis=1)
    full[0, 2] -= 2 * np.pi  # azimuths are wrapped to [-pi, pi)
    np.testing.assert_allclose(got, full, rtol=1e-6)


# --- generation with a trained checkpoint -----------------------------------------------------


def test_cli_writes_schema_jets_with_metadata_and_coffea_reads_them(checkpoint, tmp_path, capsys):
    from hepvae.data.nanoevents import open_events

    out = tmp_path / "gen.root"
    args = ["generate", "--checkpoint", str(checkpoint), "--n", "200", "--jet-type", "all"]
    args += ["--seed", "5", "--batch-size", "64", "--temperature", "0.8", "-o", str(out)]
    assert main(args) == 0
    jets = read_jets(out)  # checks the schema's rules: positive pT, finite values, labels
    assert len(jets) == 200
    labels = ak.to_numpy(jets.Jet.label)
    assert sorted(set(labels.tolist())) == sorted(LABELS[t] for t in TRAINED)
    assert np.bincount(labels)[LABELS["g"]] == np.bincount(labels)[LABELS["t"]] == 100
    counts = ak.to_numpy(ak.num(jets.Part, axis=1))
    # Jet_* is the full jet, Jet_nparticles its multiplicity before truncation
    assert np.all(ak.to_numpy(jets.Jet.nparticles) >= counts)
    assert counts.min() >= 1 and counts.max() <= N_PARTICLES
    assert ak.all(jets.Part.pt[:, :-1] >= jets.Part.pt[:, 1:])
    summed = sum_p4(jets.Part)
    assert not np.allclose(ak.to_numpy(summed.pt), ak.to_numpy(jets.Jet.pt), rtol=1e-3)
    meta = read_metadata(out)
    model = load_generator(checkpoint)
    assert meta["producer"] == "generate" and meta["seed"] == 5 and meta["temperature"] == 0.8
    assert meta["config_hash"] == model.config_hash
    assert meta["model"]["checkpoint_sha256"] == model.sha256
    assert meta["hepvae_version"] and meta["n_jets"] == 200
    # the same coffea code as for simulated jets (tests/test_nanoevents.py)
    events = open_events(out)
    assert len(events) == 200
    np.testing.assert_allclose(ak.to_numpy(events.Jet.mass), ak.to_numpy(jets.Jet.mass))
    dr = ak.to_numpy(ak.flatten(events.Part.delta_r(events.Jet)))
    assert np.all(np.isfinite(dr))


def test_generated_jets_are_in_gev(checkpoint, tmp_path):
    """Denormalized output: jet energies on the scale of the training jets, not model units."""
    out = tmp_path / "t.root"
    generate(checkpoint, out, 300, "t", seed=2, progress=False)
    generated = read_jets(out)
    real = training_jets(64, seed=40)
    ratio = float(np.median(ak.to_numpy(generated.Jet.E))) / float(
        np.median(ak.to_numpy(real.Jet.E))
    )
    assert 0.3 < ratio < 3.0, ratio


def test_same_jets_for_any_batch_size_and_shard_count(checkpoint, tmp_path):
    one = generate(checkpoint, tmp_path / "one.root", 250, "all", seed=9, progress=False)
    many = generate(
        checkpoint, tmp_path / "many.root", 250, "all", seed=9, batch_size=40, shards=3,
        progress=False,
    )  # fmt: skip
    assert [p.name for p in many] == ["many_0.root", "many_1.root", "many_2.root"]
    assert [read_metadata(p)["n_jets"] for p in many] == [83, 83, 84]
    assert_same_jets(read_jets(one), read_jets(many))
    other_seed = generate(checkpoint, tmp_path / "s.root", 250, "all", seed=10, progress=False)
    assert not np.allclose(ak.to_numpy(read_jets(other_seed).Jet.pt), read_jets(one).Jet.pt)


def test_dask_cluster_gives_the_local_jets(checkpoint, tmp_path):
    from distributed import LocalCluster

    options = dict(n=120, jet_type="all", seed=4, shards=2, batch_size=32, progress=False)
    local = generate(checkpoint, tmp_path / "local.root", **options)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        remote = generate(
            checkpoint, tmp_path / "dask.root", scheduler=cluster.scheduler_address, **options
        )
    assert [p.name for p in remote] == ["dask_0.root", "dask_1.root"]
    for a, b in zip(local, remote):
        assert read_metadata(b)["shard"] == read_metadata(a)["shard"]
        assert_same_jets(read_jets(a), read_jets(b))


def test_local_cluster_option(checkpoint, tmp_path, capsys):
    args = ["generate", "--checkpoint", str(checkpoint), "--n", "30", "--jet-type", "t"]
    args += ["--shards", "2", "--no-progress"]
    assert main(args + ["--local-cluster", "1", "-o", str(tmp_path / "c.root")]) == 0
    assert main(args + ["-o", str(tmp_path / "l.root")]) == 0
    for k in (0, 1):
        assert_same_jets(read_jets(tmp_path / f"c_{k}.root"), read_jets(tmp_path / f"l_{k}.root"))


def test_lower_temperature_narrows_mass_and_multiplicity(checkpoint, tmp_path):
    spread = {}
    for temperature in (0.2, 1.0):
        path = generate(checkpoint, tmp_path / f"T{temperature}.root", 400, "t", seed=3,
                        temperature=temperature, progress=False)[0]  # fmt: skip
        jets = read_jets(path)
        mass = ak.to_numpy(jets.Jet.mass)
        count = ak.to_numpy(jets.Jet.nparticles)
        spread[temperature] = (np.std(mass), np.std(count))
    assert spread[0.2][0] < 0.7 * spread[1.0][0], spread  # jet mass narrows
    assert spread[0.2][1] <= spread[1.0][1], spread  # multiplicity does not widen


def test_round_trip_gives_constituents_back_in_gev(checkpoint, tmp_path):
    """Encode and decode real jets read from a ROOT file: the decoded constituents are in GeV
    and match the inputs within the model's reconstruction error (energy and leading pT)."""
    from hepvae.data.schema import write_jets
    from hepvae.train.data import jets_to_tensors

    path = write_jets(tmp_path / "real.root", training_jets(48, seed=70), {"producer": "test"})
    real = read_jets(path)
    data = jets_to_tensors(real, N_PARTICLES)
    vae = load_generator(checkpoint).vae
    with torch.no_grad():
        p4, mask = vae.reconstruct(data.p4, data.mask, data.label, true_multiplicity=True)
    decoded = padded_to_jets(p4.numpy(), mask.sum(1).numpy(), data.label.numpy())
    truth = padded_to_jets(data.p4.numpy(), data.mask.sum(1).numpy(), data.label.numpy())
    energy = ak.to_numpy(decoded.Jet.E) / ak.to_numpy(truth.Jet.E)
    leading = ak.to_numpy(decoded.Part.pt[:, 0]) / ak.to_numpy(truth.Part.pt[:, 0])
    # model units would be off by the four-momentum scale (tens of GeV)
    assert float(vae.p4_scale) > 10
    assert 0.75 < np.median(energy) < 1.33, np.median(energy)
    assert 0.5 < np.median(leading) < 2.0, np.median(leading)
    # the decoded energy error is the model's: about as large on these jets as on training jets
    train = jets_to_tensors(training_jets(), N_PARTICLES)
    with torch.no_grad():
        p4_train, _ = vae.reconstruct(train.p4, train.mask, train.label, true_multiplicity=True)
    train_error = np.median(np.abs(p4_train[..., 0].sum(1) / train.p4[..., 0].sum(1) - 1).numpy())
    assert np.median(np.abs(energy - 1)) < 2 * train_error + 0.05


# --- bad input --------------------------------------------------------------------------------


def run_cli(args, capsys):
    """Exit status and stderr of ``hepvae ARGS`` (argparse errors exit through SystemExit)."""
    try:
        code = main(args)
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err.strip()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"--n": "0"}, "--n"),
        ({"--temperature": "0"}, "--temperature"),
        ({"--temperature": "-1"}, "--temperature"),
        ({"--jet-type": "x"}, "unknown jet type 'x'"),
        ({"--jet-type": "q"}, "not trained on jet type 'q'"),
        ({"--batch-size": "0"}, "--batch-size"),
        ({"--shards": "11"}, "--shards 11 is more than --n 10"),
        pytest.param(
            {"--device": "cuda"},
            "CUDA is not available",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present"),
        ),
    ],
)
def test_bad_options_fail_without_output(checkpoint, tmp_path, capsys, change, message):
    out = tmp_path / "out.root"
    options = {"--checkpoint": str(checkpoint), "--n": "10", "--jet-type": "t", "-o": str(out)}
    options.update(change)
    code, err = run_cli(["generate"] + [x for kv in options.items() for x in kv], capsys)
    assert code == 2
    assert message in err.splitlines()[-1]
    assert list(tmp_path.iterdir()) == []


def test_bad_checkpoints_and_outputs(checkpoint, tmp_path, capsys):
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(checkpoint.read_bytes()[: checkpoint.stat().st_size // 2])
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    text = tmp_path / "notes.pt"
    text.write_text("not a checkpoint")
    blocker = tmp_path / "file"
    blocker.write_text("")
    cases = [
        (tmp_path / "missing.pt", tmp_path / "a.root", "no such checkpoint"),
        (truncated, tmp_path / "b.root", "not a readable hepvae checkpoint"),
        (foreign, tmp_path / "c.root", "not a hepvae checkpoint"),
        (text, tmp_path / "d.root", "not a readable hepvae checkpoint"),
        (checkpoint, blocker / "e.root", "not writable"),
        (checkpoint, tmp_path / "f.txt", "must end in .root"),
    ]
    before = sorted(p.name for p in tmp_path.iterdir())
    for ckpt, out, message in cases:
        args = ["generate", "--checkpoint", str(ckpt), "--n", "5", "--jet-type", "t"]
        code, err = run_cli(args + ["-o", str(out)], capsys)
        assert code == 2, err
        assert len(err.splitlines()) == 1 and message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
