"""One data layer: training's dense batches and `hepvae graphs` see the same jets and features,
and a cache written by `hepvae graphs --cache` is what training reads."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
import torch

from hepvae.cli import main
from hepvae.data.schema import write_jets
from hepvae.errors import HepvaeError
from hepvae.graphs import GraphConfig, JetGraphDataset
from hepvae.graphs.check import check_graphs
from hepvae.model import HyperVAE
from hepvae.train.config import Config
from hepvae.train.run import prepare_data
from tests.conftest import random_jets

pytestmark = pytest.mark.usefixtures("one_thread")


def _config(path, cache=None, **data) -> Config:
    config = Config()
    fields = {"files": [str(path)], "cache": None if cache is None else str(cache), **data}
    return dataclasses.replace(config, data=dataclasses.replace(config.data, **fields))


@pytest.fixture
def mixed_file(tmp_path):
    import awkward as ak

    jets = ak.concatenate([random_jets(120, seed=1, label=0), random_jets(120, seed=2, label=2)])
    jets = ak.with_field(jets, np.arange(len(jets), dtype=np.uint64), "event")
    return write_jets(tmp_path / "mixed.root", jets, {"producer": "test"})


def test_graph_defaults_are_the_training_defaults():
    assert GraphConfig() == GraphConfig.from_train(Config())


def test_training_features_equal_what_hepvae_graphs_computes_and_reports(
    mixed_file, tmp_path, capsys
):
    cache = tmp_path / "cache"
    config = _config(mixed_file, cache)
    assert main(["graphs", str(mixed_file), "--cache", str(cache)]) == 0
    out = capsys.readouterr().out

    train, val, norm = prepare_data(config, [mixed_file])
    ds = JetGraphDataset.splits(mixed_file, GraphConfig.from_train(config))
    assert ds["train"].norm == norm and len(ds["train"]) == len(train) > 150
    assert len(ds["val"]) == len(val) > 0 and len(ds["test"]) == 0
    assert f"{norm.p4_scale:g} GeV" in out

    # what the model trains on: HyperVAE.prepare on the training batches
    model = HyperVAE(config.model, norm)
    x = model.prepare(train.p4, train.mask, train.label)
    graphs = ds["train"][list(range(len(ds["train"])))]
    assert torch.equal(graphs.x, x.particle_feats[x.mask])
    assert torch.equal(graphs.p4, x.p4c[x.mask])
    assert torch.equal(graphs.edge_attr, x.edges[x.edge_mask])
    assert torch.equal(graphs.hyperedge_attr, x.hyper_feats[x.hmask])
    assert torch.equal(graphs.jet_p4, x.jet) and torch.equal(graphs.label, train.label)
    offsets = graphs.ptr[:-1, None, None]
    assert torch.equal(graphs.edge_index, (x.pairs + offsets)[x.edge_mask].T)
    assert torch.equal(graphs.hyperedge_index, (x.triplets + offsets)[x.hmask].T)
    assert torch.equal(graphs.full_jet, train.jet) and torch.equal(
        graphs.nparticles, train.nparticles
    )
    assert x.hmask.any() and x.edge_mask.any()

    # what `hepvae graphs` reports: statistics of those same (unstandardized) features
    summary = check_graphs({"train": ds["train"]})
    raw = x.particle_feats[x.mask] * model.particle_std + model.particle_mean
    stats = summary.stats["particle"]
    np.testing.assert_allclose(stats.sum / stats.count, raw.double().mean(0).numpy(), atol=1e-4)
    assert summary.edges["train"] == int(x.edge_mask.sum())
    assert summary.hyperedges["train"] == int(x.hmask.sum())
    # per-class rapidity quantiles: both classes are present in the training split
    assert len(norm.rapidity_quantiles) == config.model.n_labels
    assert norm.rapidity_quantiles[0] != norm.rapidity_quantiles[2]


def _scramble_keeping_size_and_mtime(path):
    """Overwrite a file with garbage of the same size and modification time."""
    st = os.stat(path)
    with open(path, "r+b") as f:
        f.write(b"\0" * st.st_size)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_train_reads_the_cache_of_hepvae_graphs(mixed_file, tmp_path):
    cache = tmp_path / "cache"
    assert main(["graphs", str(mixed_file), "--cache", str(cache)]) == 0
    before = prepare_data(_config(mixed_file), [mixed_file])
    _scramble_keeping_size_and_mtime(mixed_file)
    # the source can no longer be read; training takes everything from the cache
    train, val, norm = prepare_data(_config(mixed_file, cache), [mixed_file])
    assert norm == before[2]
    for got, want in zip((train, val), before[:2]):
        for field in ("p4", "mask", "label", "jet", "nparticles"):
            assert torch.equal(getattr(got, field), getattr(want, field)), field
    with pytest.raises(HepvaeError, match="mixed.root"):
        prepare_data(_config(mixed_file, tmp_path / "fresh"), [mixed_file])


def test_arrays_carry_the_full_jet_and_multiplicity(tmp_path):
    from hepvae.data.schema import make_jets

    jets = random_jets(40, seed=3, max_particles=60)
    full = make_jets(
        jets.Jet.pt, jets.Jet.eta, jets.Jet.phi, jets.Jet.mass, 1,
        jets.Part.pt, jets.Part.eta, jets.Part.phi, nparticles=jets.Jet.nparticles + 7,
    )  # fmt: skip
    path = write_jets(tmp_path / "j.root", full, {"producer": "test"})
    config = _config(path)
    train, val, _ = prepare_data(config, [path])
    data = torch.cat([train.nparticles, val.nparticles])
    stored = torch.cat([train.mask.sum(1), val.mask.sum(1)])
    assert torch.all(data > stored) and int(stored.max()) == config.model.n_particles
    pts = torch.cat([train.jet[:, 0], val.jet[:, 0]]).sort().values
    np.testing.assert_allclose(pts.numpy(), np.sort(np.asarray(full.Jet.pt, np.float32)))


def test_an_empty_file_is_named(tmp_path, capsys):
    empty = write_jets(tmp_path / "empty.root", random_jets(5)[:0], {"producer": "test"})
    assert main(["graphs", str(empty)]) == 2
    assert "empty.root: no jets" in capsys.readouterr().err
