import itertools
import json
import math
import os
import subprocess
import sys

import awkward as ak
import numpy as np
import pytest
import torch
import vector
from torch_geometric.data import Batch

from hepvae.cli import main
from hepvae.config import from_dict
from hepvae.data.schema import make_jets, write_jets
from hepvae.errors import ConfigError, HepvaeError
from hepvae.graphs import (
    EDGE_FEATURES,
    GraphConfig,
    JetGraphDataset,
    Normalization,
    edge_features,
    four_momenta,
    make_loader,
    pair_features,
    select_triplets,
    triplet_features,
)
from hepvae.graphs.features import DR_FLOOR, M2_FLOOR, triplet_candidates, upper_pairs
from hepvae.graphs.normalization import compute_normalization
from hepvae.graphs.splits import split_of
from hepvae.model.features import HYPEREDGE_FEATURES, PARTICLE_FEATURES, jet_inputs
from hepvae.physics.kinematics import jet_momentum, orient, orientation, pt_of, to_canonical
from tests.conftest import random_jets

D = torch.float64


pytestmark = pytest.mark.usefixtures("one_thread")


def _dense(n_jets=4, n_max=9, seed=0, massive=False, dtype=D):
    """Padded random jets: p4 [B, N, 4] GeV, mask, jet_pt, with varying multiplicities."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, n_max + 1, n_jets)
    counts[0] = n_max
    pt = torch.tensor(rng.exponential(40, (n_jets, n_max)) + 1, dtype=dtype)
    eta = torch.tensor(rng.normal(0.5, 0.3, (n_jets, n_max)), dtype=dtype)
    phi = torch.tensor(rng.normal(3.0, 0.3, (n_jets, n_max)), dtype=dtype)  # crosses +-pi
    mass = torch.tensor(rng.uniform(0, 2, (n_jets, n_max)), dtype=dtype) if massive else None
    mask = torch.arange(n_max)[None] < torch.tensor(counts)[:, None]
    p4 = four_momenta(pt, eta, phi, mass) * mask[..., None]
    jet_pt = torch.tensor(rng.uniform(500, 1500, n_jets), dtype=dtype)
    return p4, mask, jet_pt


def _brute_pairs(p4, mask, jet_pt):
    """EDGE_FEATURES of every pair i != j by an explicit loop over numpy float64 values."""
    b, n, _ = p4.shape
    out = np.zeros((b, n, n, 5))
    p4 = p4.numpy()
    for a in range(b):
        for i in range(n):
            for j in range(n):
                if not (mask[a, i] and mask[a, j]):
                    continue
                e1, x1, y1, z1 = p4[a, i]
                e2, x2, y2, z2 = p4[a, j]
                pt1, pt2 = math.hypot(x1, y1), math.hypot(x2, y2)
                out[a, i, j, 0] = pt1 * pt2 / float(jet_pt[a]) ** 2
                if i == j:
                    continue
                ra = 0.5 * math.log((e1 + z1) / (e1 - z1))
                rb = 0.5 * math.log((e2 + z2) / (e2 - z2))
                dphi = (math.atan2(y1, x1) - math.atan2(y2, x2) + math.pi) % (2 * math.pi) - math.pi
                dr = math.hypot(ra - rb, dphi)
                m2 = (e1 + e2) ** 2 - (x1 + x2) ** 2 - (y1 + y2) ** 2 - (z1 + z2) ** 2
                out[a, i, j, 1:] = [
                    math.log(max(dr, DR_FLOOR)),
                    math.log(min(pt1, pt2) * max(dr, DR_FLOOR)),
                    math.log(min(pt1, pt2) / (pt1 + pt2)),
                    math.log(max(m2, M2_FLOOR)),
                ]
    return out


@pytest.mark.parametrize("massive", [False, True])
def test_pair_features_match_brute_force(massive):
    p4, mask, jet_pt = _dense(massive=massive)
    dense = pair_features(p4, mask, jet_pt)
    np.testing.assert_allclose(dense.numpy(), _brute_pairs(p4, mask, jet_pt), rtol=1e-9, atol=1e-9)
    pairs = upper_pairs(p4.shape[1])
    listed = edge_features(p4, mask, jet_pt, pairs)
    np.testing.assert_allclose(listed.numpy(), dense[:, pairs[:, 0], pairs[:, 1]].numpy())


def test_four_momenta_match_vector():
    rng = np.random.default_rng(1)
    pt, eta, phi, mass = (
        rng.exponential(50, 20),
        rng.normal(0, 2, 20),
        rng.uniform(-3, 3, 20),
        rng.uniform(0, 5, 20),
    )
    v = vector.array({"pt": pt, "eta": eta, "phi": phi, "mass": mass})
    ours = four_momenta(*(torch.tensor(a) for a in (pt, eta, phi, mass))).numpy()
    np.testing.assert_allclose(ours, np.stack([v.E, v.px, v.py, v.pz], axis=1), rtol=1e-12)


def test_eec_sum_rule():
    p4, mask, jet_pt = _dense(n_jets=6, n_max=12, seed=2)
    eec = pair_features(p4, mask, jet_pt)[..., 0]
    pt = torch.hypot(p4[..., 1], p4[..., 2])
    expected = (pt.sum(1) / jet_pt) ** 2
    np.testing.assert_allclose(eec.sum((1, 2)).numpy(), expected.numpy(), rtol=1e-12)
    # the graph edges hold each pair once: 2 * sum over edges + diagonal gives the same
    pairs = upper_pairs(p4.shape[1])
    edges = edge_features(p4, mask, jet_pt, pairs)[..., 0].sum(1)
    diagonal = ((pt / jet_pt[:, None]) ** 2).sum(1)
    np.testing.assert_allclose((2 * edges + diagonal).numpy(), expected.numpy(), rtol=1e-12)


def _boost_z(p4, rapidity):
    ch, sh = math.cosh(rapidity), math.sinh(rapidity)
    e, x, y, z = p4.unbind(-1)
    return torch.stack([ch * e + sh * z, x, y, sh * e + ch * z], dim=-1)


def _rotate_z(p4, angle):
    c, s = math.cos(angle), math.sin(angle)
    e, x, y, z = p4.unbind(-1)
    return torch.stack([e, c * x - s * y, s * x + c * y, z], dim=-1)


@pytest.mark.parametrize("massive", [False, True])
def test_features_invariant_under_rotation_and_longitudinal_boost(massive):
    p4, mask, jet_pt = _dense(n_jets=5, n_max=10, seed=3, massive=massive)
    moved = _boost_z(_rotate_z(p4, 2.1), -1.3)
    assert not torch.allclose(moved, p4)
    np.testing.assert_allclose(
        pair_features(moved, mask, jet_pt).numpy(),
        pair_features(p4, mask, jet_pt).numpy(),
        atol=1e-9,
    )
    triplets, valid = select_triplets(p4, mask, jet_pt, 20)
    moved_triplets, moved_valid = select_triplets(moved, mask, jet_pt, 20)
    assert torch.equal(triplets, moved_triplets) and torch.equal(valid, moved_valid)
    np.testing.assert_allclose(
        triplet_features(moved, mask, jet_pt, triplets).numpy(),
        triplet_features(p4, mask, jet_pt, triplets).numpy(),
        atol=1e-9,
    )
    # the model's particle features (canonical frame of the constituents' sum)
    np.testing.assert_allclose(
        jet_inputs(moved, mask, 128, 20).particle.numpy(),
        jet_inputs(p4, mask, 128, 20).particle.numpy(),
        atol=1e-9,
    )


def _lorentz(seed):
    """A random proper orthochronous Lorentz transformation (boost times rotation), 4 x 4."""
    rng = np.random.default_rng(seed)
    beta = rng.normal(size=3)
    beta *= 0.8 / np.linalg.norm(beta)
    gamma = 1 / math.sqrt(1 - beta @ beta)
    boost = np.eye(4)
    boost[0, 0] = gamma
    boost[0, 1:] = boost[1:, 0] = gamma * beta
    boost[1:, 1:] += (gamma - 1) * np.outer(beta, beta) / (beta @ beta)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    rot = np.eye(4)
    rot[1:, 1:] = q * np.sign(np.linalg.det(q))
    return torch.tensor(boost @ rot)


def _norm(p4_scale=100.0):
    from hepvae.model.normalization import GROUPS, N_QUANTILES

    rng = np.random.default_rng(0)
    values = {}
    for group, names in GROUPS.items():
        values[f"{group}_mean"] = tuple(rng.normal(size=len(names)).tolist())
        values[f"{group}_std"] = tuple(rng.uniform(0.5, 2, len(names)).tolist())
    quantiles = tuple(tuple(np.sort(rng.normal(size=N_QUANTILES)).tolist()) for _ in range(5))
    return Normalization(p4_scale, rapidity_quantiles=quantiles, n_jets=7, **values)


def test_normalization_round_trip():
    norm = _norm(p4_scale=123.456789)
    back = Normalization.from_dict(json.loads(json.dumps(norm.to_dict())))
    assert back == norm
    x = torch.randn(100, 5, dtype=torch.float32) * 3 + 1
    for group in ("edge", "hyper"):
        fwd = norm.standardize(group, x)
        assert not torch.allclose(fwd, x)
        np.testing.assert_allclose(
            norm.destandardize(group, fwd).numpy(), x.numpy(), rtol=1e-6, atol=1e-6
        )
    bad = norm.to_dict()
    bad["edge"]["features"] = ["eec"]
    with pytest.raises(HepvaeError, match="^cache/meta.json: edge features"):
        Normalization.from_dict(bad, where="cache/meta.json")
    with pytest.raises(HepvaeError, match="p4_scale must be > 0"):
        Normalization.from_dict({**norm.to_dict(), "p4_scale": -1.0})


def _brute_top_triplets(pt, k):
    ranked = np.argsort(-pt, kind="stable")
    rank = np.empty_like(ranked)
    rank[ranked] = np.arange(len(pt))
    trips = list(itertools.combinations(range(len(pt)), 3))
    trips.sort(key=lambda t: (-(pt[t[0]] * pt[t[1]] * pt[t[2]]), sorted(rank[list(t)])))
    return trips[:k]


@pytest.mark.parametrize("n, k", [(12, 50), (8, 64), (7, 35)])
def test_select_triplets_matches_brute_force(n, k):
    rng = np.random.default_rng(n)
    pt = rng.exponential(30, n) + 1
    pt_in = np.concatenate([rng.permutation(pt), [0.0, 0.0]])  # unsorted input, two padded
    p4 = four_momenta(
        torch.tensor(pt_in), torch.zeros(n + 2, dtype=D), torch.linspace(-1, 1, n + 2, dtype=D)
    )
    mask = torch.tensor(pt_in > 0)
    triplets, valid = select_triplets(p4[None], mask[None], torch.tensor([1000.0], dtype=D), k)
    expected = _brute_top_triplets(pt_in[:n], k)
    assert int(valid.sum()) == min(k, math.comb(n, 3)) == len(expected)
    chosen = [tuple(t) for t in triplets[0][valid[0]].tolist()]
    assert sorted(chosen) == sorted(expected) and all(i < j < k for i, j, k in chosen)
    rank = np.argsort(np.argsort(-pt_in[:n], kind="stable"), kind="stable")
    keys = [sorted(rank[list(t)]) for t in chosen]
    assert keys == sorted(keys)  # listed in the lexicographic order of pT ranks
    assert torch.all(triplets[0][~valid[0]] == 0)


def test_triplet_candidates_are_the_undominated_triplets():
    n, k = 16, 30
    cands = {tuple(t) for t in triplet_candidates(n, k).tolist()}
    expected = set()
    for a, b, c in itertools.combinations(range(n), 3):
        dominators = sum(
            1 for x, y, z in itertools.combinations(range(c + 1), 3) if x <= a and y <= b
        )
        if dominators <= k:
            expected.add((a, b, c))
    assert cands == expected
    assert len(triplet_candidates(150, 256)) < 2000


def test_triplet_features_against_explicit_values():
    p4, mask, jet_pt = _dense(n_jets=1, n_max=6, seed=6, massive=True)
    trip = torch.tensor([[[0, 2, 5], [1, 3, 4], [0, 0, 0]]])
    feats = triplet_features(p4, mask, jet_pt, trip)
    pairs = _brute_pairs(p4, mask, jet_pt)
    pt = torch.hypot(p4[0, :, 1], p4[0, :, 2]).numpy()
    for h, (i, j, k) in enumerate(trip[0, :2].tolist()):
        sides = sorted([pairs[0, i, j, 1], pairs[0, i, k, 1], pairs[0, j, k, 1]], reverse=True)
        tot = p4[0, [i, j, k]].sum(0).numpy()
        m2 = tot[0] ** 2 - (tot[1:] ** 2).sum()
        expected = [pt[i] * pt[j] * pt[k] / float(jet_pt[0]) ** 3, *sides, math.log(m2)]
        np.testing.assert_allclose(feats[0, h].numpy(), expected, rtol=1e-9)
    assert torch.all(feats[0, 2] == 0)


def test_padding_does_not_change_features_and_gradients_stay_finite():
    p4, mask, jet_pt = _dense(n_jets=3, n_max=5, seed=7)
    wide = torch.cat([p4, torch.zeros(3, 4, 4, dtype=D)], dim=1).requires_grad_(True)
    wide_mask = torch.cat([mask, torch.zeros(3, 4, dtype=torch.bool)], dim=1)
    wide_mask[2] = False  # a fully padded jet is valid too: all zeros
    dense = pair_features(wide, wide_mask, jet_pt)
    np.testing.assert_allclose(
        dense[:2, :5, :5].detach().numpy(), pair_features(p4, mask, jet_pt)[:2].numpy()
    )
    assert torch.all(dense[:, 5:] == 0) and torch.all(dense[2] == 0)
    trip, _ = select_triplets(wide, wide_mask, jet_pt, 8)
    loss = dense.sum() + triplet_features(wide, wide_mask, jet_pt, trip).sum()
    loss.backward()
    assert torch.isfinite(wide.grad).all()
    assert torch.all(wide.grad[:, 5:] == 0) and torch.all(wide.grad[2] == 0)


# -- data set ---------------------------------------------------------------------------------
def _small_jets(counts, seed=0):
    """Jets with the given constituent counts (massless), written in the schema."""
    rng = np.random.default_rng(seed)
    counts = np.asarray(counts)
    total = int(counts.sum())
    pt = ak.unflatten(np.sort(rng.exponential(50, total))[::-1] + 1, counts)
    eta = ak.unflatten(rng.normal(0, 0.1, total), counts)
    phi = ak.unflatten(rng.normal(0, 0.1, total), counts)
    from hepvae.physics.p4 import constituents, sum_p4

    jet = sum_p4(constituents(pt, eta, phi))
    return make_jets(jet.pt, jet.eta, jet.phi, np.maximum(jet.mass, 0), 1, pt, eta, phi)


def test_one_and_two_constituent_jets_give_valid_graphs(tmp_path):
    path = write_jets(
        tmp_path / "small.root", _small_jets([1, 2, 3, 1, 2, 4] * 4), {"producer": "test"}
    )
    config = GraphConfig(split_fractions=(1.0, 0.0, 0.0), max_hyperedges=2)
    ds = JetGraphDataset(path, config)
    assert len(ds) == 24
    for i, n in enumerate([1, 2, 3, 1, 2, 4]):
        g = ds[i]
        assert g.num_nodes == n and g.edge_index.shape == (2, n * (n - 1) // 2)
        assert g.hyperedge_index.shape[1] == min(2, math.comb(n, 3))
        for key in ("x", "p4", "edge_attr", "hyperedge_attr", "jet"):
            assert torch.isfinite(g[key]).all(), key
    batch = ds[list(range(6))]
    assert (
        batch.num_graphs == 6
        and batch.x.shape[0] == 13
        and batch.edge_index.shape[1] == 1 + 3 + 1 + 6
    )


def test_jets_without_constituents_are_an_error(tmp_path):
    jets = make_jets(
        [100.0], [0.0], [0.0], [1.0], 1, ak.Array([[]]), ak.Array([[]]), ak.Array([[]])
    )
    path = write_jets(tmp_path / "empty.root", jets, {"producer": "test"})
    with pytest.raises(HepvaeError, match="no constituents"):
        JetGraphDataset(path, GraphConfig(split_fractions=(1.0, 0.0, 0.0)))


def test_graphs_match_feature_functions_and_hyperedges_are_bounded(tmp_path):
    jets = random_jets(24, seed=5, max_particles=150)
    path = write_jets(tmp_path / "big.root", jets, {"producer": "test"})
    config = GraphConfig(n_particles=150, max_hyperedges=256, split_fractions=(1.0, 0.0, 0.0))
    ds = JetGraphDataset(path, config)
    batch = ds[list(range(len(ds)))]
    per_graph = torch.bincount(batch.batch[batch.hyperedge_index[0]], minlength=len(ds))
    counts = torch.bincount(batch.batch)
    expected = torch.tensor([min(256, math.comb(int(n), 3)) for n in counts])
    assert torch.equal(per_graph, expected) and int(per_graph.max()) == 256
    assert int(counts.max()) > 100
    # edges: each selected unordered pair once, i < j, inside its own graph
    src, dst = batch.edge_index
    assert torch.all(src < dst) and torch.equal(batch.batch[src], batch.batch[dst])
    assert torch.equal(
        torch.bincount(batch.batch[src], minlength=len(ds)),
        torch.clamp(counts * (counts - 1) // 2, max=config.max_edges),
    )
    h = batch.hyperedge_index
    assert torch.all(h[0] < h[1]) and torch.all(h[1] < h[2])
    # destandardized features of jet 0 equal brute-force values in its oriented canonical frame
    # (the model's default frame; model units: four-momenta divided by p4_scale)
    g = ds[0]
    p4, mask = ds.arrays.dense([0], config.n_particles)
    p4 = p4.double()
    assert config.orient
    p4c = to_canonical(p4, jet_momentum(p4, mask))
    p4c = orient(p4c, *orientation(p4c, mask))[:, : int(mask.sum())] / ds.norm.p4_scale
    np.testing.assert_allclose(g.p4.double().numpy(), p4c[0].numpy(), rtol=1e-4, atol=1e-5)
    jet_pt = pt_of(p4c.sum(1))
    brute = _brute_pairs(p4c, torch.ones(p4c.shape[:2], dtype=torch.bool), jet_pt)
    got = ds.norm.destandardize("edge", g.edge_attr.double()).numpy()
    i, j = g.edge_index
    np.testing.assert_allclose(got[:, :4], brute[0, i, j, :4], rtol=1e-3, atol=1e-3)
    wide = brute[0, i, j, 1] > math.log(0.05)  # float32 ln m^2 of near-collinear pairs is rough
    np.testing.assert_allclose(got[wide, 4], brute[0, i, j, 4][wide], atol=1e-2)


def test_loader_yields_consistent_batches(jet_file):
    ds = JetGraphDataset(jet_file, GraphConfig(split_fractions=(1.0, 0.0, 0.0), max_hyperedges=16))
    loader = make_loader(
        ds, batch_size=16, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    seen = 0
    for batch in loader:
        assert isinstance(batch, Batch)
        b = batch.num_graphs
        seen += b
        assert (
            batch.ptr.shape == (b + 1,)
            and int(batch.ptr[-1]) == batch.x.shape[0] == batch.p4.shape[0]
        )
        assert batch.x.shape[1] == len(PARTICLE_FEATURES)
        assert batch.edge_attr.shape[1] == len(EDGE_FEATURES)
        assert batch.hyperedge_attr.shape == (
            batch.hyperedge_index.shape[1],
            len(HYPEREDGE_FEATURES),
        )
        assert batch.jet.shape == (b, 2) and batch.jet_p4.shape == (b, 4)
        assert batch.full_jet.shape == (b, 4) and batch.nparticles.shape == (b,)
        assert batch.label.shape == (b,) and torch.all(
            batch.nparticles >= torch.bincount(batch.batch)
        )
        assert (
            batch.edge_index.dtype == torch.int64 and int(batch.edge_index.max()) < batch.x.shape[0]
        )
        graphs = batch.to_data_list()
        rebuilt = Batch.from_data_list(graphs)
        for key in ("edge_index", "hyperedge_index", "batch", "label"):
            assert torch.equal(rebuilt[key], batch[key]), key
    assert seen == len(ds)
    first = next(iter(make_loader(ds, batch_size=4, shuffle=False)))
    for k, g in enumerate(first.to_data_list()):
        one = ds[k]
        for key in one.keys():
            assert torch.allclose(one[key].double(), g[key].double(), atol=1e-5), key


def _split_members(paths, config):
    out = {}
    for split, ds in JetGraphDataset.splits(paths, config).items():
        out[split] = {
            (str(ds.sources[int(s)].name), int(e))
            for s, e in zip(ds.arrays.source, ds.arrays.event)
        }
    return out


def test_splits_are_deterministic_and_disjoint(tmp_path):
    a = write_jets(tmp_path / "a.root", random_jets(300, seed=1), {"producer": "test"})
    b = write_jets(tmp_path / "b.root", random_jets(200, seed=2), {"producer": "test"})
    config = GraphConfig(split_fractions=(0.6, 0.2, 0.2), max_hyperedges=0)
    first = _split_members([a, b], config)
    again = _split_members([b, a], config)  # file order does not matter
    assert first == again
    train, val, test = first["train"], first["val"], first["test"]
    assert not (train & val or train & test or val & test)
    assert len(train | val | test) == 500
    assert 240 < len(train) < 360 and len(val) > 60 and len(test) > 60
    other_seed = _split_members(
        [a, b], GraphConfig(split_fractions=(0.6, 0.2, 0.2), seed=1, max_hyperedges=0)
    )
    assert other_seed["train"] != train
    chunked = _split_members(
        [a, b], GraphConfig(split_fractions=(0.6, 0.2, 0.2), max_hyperedges=0, read_chunk=37)
    )
    assert chunked == first
    codes = split_of("a.root", np.ones(1000), np.ones(1000), np.arange(1000), (0.5, 0.25, 0.25), 0)
    assert np.array_equal(
        codes,
        split_of("/x/a.root", np.ones(1000), np.ones(1000), np.arange(1000), (0.5, 0.25, 0.25), 0),
    )


def test_normalization_uses_the_training_split_only(tmp_path):
    jets = random_jets(200, seed=8)
    config = GraphConfig(split_fractions=(0.5, 0.25, 0.25), max_hyperedges=8)
    first = JetGraphDataset.splits(
        write_jets(tmp_path / "one" / "j.root", jets, {"producer": "t"}), config
    )
    # the same file name and events, with the val/test jets changed: statistics unchanged
    codes = split_of(
        "j.root",
        ak.to_numpy(jets.run),
        ak.to_numpy(jets.luminosityBlock),
        ak.to_numpy(jets.event),
        config.split_fractions,
        0,
    )
    scale = np.where(codes == 0, 1.0, 3.0)
    changed = make_jets(
        jets.Jet.pt * scale,
        jets.Jet.eta,
        jets.Jet.phi,
        jets.Jet.mass * scale,
        2,
        jets.Part.pt * scale,
        jets.Part.eta,
        jets.Part.phi,
    )
    second = JetGraphDataset.splits(
        write_jets(tmp_path / "two" / "j.root", changed, {"producer": "t"}), config
    )
    assert first["train"].norm == second["train"].norm
    assert first["val"].norm is first["train"].norm
    assert first["val"].arrays.jets[0, 0] != second["val"].arrays.jets[0, 0]
    assert first["train"].norm == compute_normalization(first["train"].arrays, config)


def test_cache_round_trip_and_refresh(tmp_path, jet_file):
    cache = tmp_path / "cache"
    config = GraphConfig(split_fractions=(0.7, 0.3, 0.0), max_hyperedges=8, cache=str(cache))
    built = JetGraphDataset(jet_file, config, "val")
    assert (cache / "meta.json").is_file() and (cache / "normalization.json").is_file()
    stored = Normalization.from_dict(json.loads((cache / "normalization.json").read_text()))
    assert stored == built.norm
    mtime = (cache / "meta.json").stat().st_mtime_ns
    again = JetGraphDataset(jet_file, config, "val")
    assert (cache / "meta.json").stat().st_mtime_ns == mtime  # read, not rebuilt
    assert isinstance(again.arrays.parts, np.memmap)
    idx = list(range(len(again)))
    for key in ("x", "edge_attr", "hyperedge_index"):
        assert torch.equal(again[idx][key], built[idx][key])
    changed = GraphConfig(
        split_fractions=(0.7, 0.3, 0.0), max_hyperedges=8, n_particles=5, cache=str(cache)
    )
    assert int(torch.bincount(JetGraphDataset(jet_file, changed, "val")[idx].batch).max()) <= 5
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(HepvaeError, match="not a hepvae data cache"):
        JetGraphDataset(jet_file, GraphConfig(cache=str(tmp_path / "other")))


def test_empty_training_split_is_a_clear_error(jet_file):
    with pytest.raises(HepvaeError, match="training split is empty"):
        JetGraphDataset(jet_file, GraphConfig(split_fractions=(0.0, 0.0, 1.0)), "test")
    norm = JetGraphDataset(jet_file, GraphConfig(max_hyperedges=4)).norm
    ds = JetGraphDataset(
        jet_file, GraphConfig(split_fractions=(0.0, 0.0, 1.0), max_hyperedges=4), "test", norm=norm
    )
    assert len(ds) == 50 and ds.norm is norm


def test_graphs_command(jet_file, tmp_path, capsys):
    assert main(["graphs", str(jet_file), "--particles", "20", "--max-hyperedges", "32"]) == 0
    out = capsys.readouterr().out
    assert "p4_scale" in out and "edge.log_m2" in out and "hyper.log_e3c" in out and "train" in out
    assert "particle.log_e_rel" in out
    bad = tmp_path / "bad.root"
    bad.write_text("not root")
    assert main(["graphs", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad.root" in err
    with pytest.raises(SystemExit):
        main(["graphs", str(jet_file), "--max-hyperedges", "-1"])


def test_graph_config_from_mapping():
    config = from_dict(
        GraphConfig, {"split_fractions": [0.5, 0.25, 0.25], "p4_scale": 100, "n_particles": 150}
    )
    assert config.split_fractions == (0.5, 0.25, 0.25) and config.p4_scale == 100.0
    with pytest.raises(ConfigError, match="unknown key"):
        from_dict(GraphConfig, {"max_triplets": 3})
    with pytest.raises(ConfigError, match="split_fractions"):
        GraphConfig(split_fractions=(0.5, 0.5, 0.5))
    with pytest.raises(ConfigError, match="n_particles"):
        GraphConfig(n_particles=0)


def test_cache_write_removes_what_killed_writers_left(tmp_path, jet_file):
    cache = tmp_path / "cache"
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)  # fmt: skip
    dead = int(finished.stdout)
    left = [tmp_path / f".cache.tmp-{dead}", tmp_path / f".cache.old-{dead}"]
    alive = tmp_path / f".cache.tmp-{os.getppid()}"  # a running process keeps its folder
    mine = tmp_path / "notes.tmp-1"
    for folder in [*left, alive, mine]:
        folder.mkdir()
        (folder / "meta.json").write_text("{}")
    JetGraphDataset(jet_file, GraphConfig(max_hyperedges=8, cache=str(cache)), "val")
    assert (cache / "meta.json").is_file()
    assert not any(folder.exists() for folder in left)
    assert alive.is_dir() and mine.is_dir()
