"""Importers: JetNet HDF5 and external ROOT files (branch maps) into the schema, and bad input."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import awkward as ak
import h5py
import numpy as np
import pytest
import uproot

from hepvae.cli import main
from hepvae.data.branchmap import (
    BranchMap,
    ConstituentBranches,
    JetBranches,
    load_branch_map,
    read_branch_map,
)
from hepvae.data.importing import ImportReport
from hepvae.data.jetnet import iterate_jetnet_hdf5, jetnet_type_from_name, read_jetnet_hdf5
from hepvae.data.schema import read_jets, read_metadata
from hepvae.errors import HepvaeError
from hepvae.physics.coords import to_jetnet

NANOAOD_MAP = Path(__file__).resolve().parents[1] / "configs" / "branchmap_nanoaod.yaml"
P = 8  # particle slots in the test JetNet files


# ---------------------------------------------------------------------------------------------
# small input files


def write_jetnet(path, n=20, seed=0, empty=(), nan=None):
    """A JetNet-like HDF5 file with shuffled slots (masked ones in between); returns (pf, jf)."""
    rng = np.random.default_rng(seed)
    pf = np.zeros((n, P, 4), np.float32)
    for i in range(n):
        k = 0 if i in empty else rng.integers(1, P + 1)
        slots = rng.permutation(P)[:k]
        pf[i, slots, 0] = rng.normal(0, 0.2, k)
        pf[i, slots, 1] = rng.normal(0, 0.2, k)
        pf[i, slots, 2] = rng.uniform(0.005, 0.4, k)
        pf[i, slots, 3] = 1
    if nan is not None:
        pf[nan, np.argmax(pf[nan, :, 3]), 2] = np.nan
    counts = pf[..., 3].sum(axis=1)
    jf = np.stack(
        [
            rng.uniform(800, 1600, n),
            rng.uniform(-2.5, 2.5, n),
            rng.uniform(10, 250, n),
            counts + rng.integers(0, 4, n),
        ],
        axis=1,
    ).astype(np.float32)
    with h5py.File(path, "w") as f:
        f["particle_features"] = pf
        f["jet_features"] = jf
    return pf, jf


def jetnet_expected(pf, n_particles=P):
    """Unmasked slots sorted by descending pt_rel, zero-padded: what to_jetnet must give back."""
    out = np.zeros((len(pf), n_particles, 4), np.float32)
    for i, jet in enumerate(pf):
        real = jet[jet[:, 3] == 1]
        real = real[np.argsort(-real[:, 2], kind="stable")][:n_particles]
        out[i, : len(real)] = real
    return out


def _write_tree(path, tree, data):
    with uproot.recreate(path) as f:
        types = {k: (v.type if isinstance(v, ak.Array) else v.dtype) for k, v in data.items()}
        f.mktree(tree, types).extend(data)


def write_jet_per_entry(path, n=30, seed=1, nan=False):
    """One jet per entry: flat jet branches, unsorted jagged constituents ``cand_*``."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 12, n)
    total = int(counts.sum())
    cand = {
        "pt": rng.exponential(30, total) + 1,
        "eta": rng.normal(0, 1, total),
        "phi": rng.uniform(-np.pi, np.pi, total),
        "m": rng.uniform(0, 0.5, total),
    }
    if nan:
        cand["eta"][5] = np.nan
    data = {
        "jpt": rng.uniform(300, 900, n),
        "jeta": rng.uniform(-2, 2, n),
        "jphi": rng.uniform(-np.pi, np.pi, n),
        "jm": rng.uniform(5, 200, n),
        "jlabel": rng.integers(0, 5, n).astype(np.int32),
        "cand": ak.zip({k: ak.unflatten(v, counts) for k, v in cand.items()}),
    }
    _write_tree(path, "jets", data)
    return data


PER_ENTRY_MAP = BranchMap(
    layout="jet_per_entry",
    tree="jets",
    jet=JetBranches(pt="jpt", eta="jeta", phi="jphi", mass="jm", label="jlabel"),
    constituents=ConstituentBranches(pt="cand_pt", eta="cand_eta", phi="cand_phi", mass="cand_m"),
)


def write_nanoaod(path, n=25, seed=2, empty_jet=False):
    """NanoAOD/PFNano-like events: FatJet, PFCands and the FatJetPFCands association table.

    Jets are not pT-ordered; every jet owns at least one candidate unless ``empty_jet``;
    some candidates are in no jet; ``JetCand_*`` repeats the candidates with a parallel
    jet index (-1: in no jet) for maps without a candidate index.
    """
    rng = np.random.default_rng(seed)
    jets, cands, assoc, parallel = [], [], [], []
    for e in range(n):
        nj = int(rng.integers(0, 4))
        nc = nj + int(rng.integers(0, 15))
        owner = np.concatenate([np.arange(nj), rng.integers(-1, max(nj, 1), nc - nj)])
        if nj == 0:
            owner[:] = -1
        if empty_jet and e == 3:  # one jet that owns no candidate
            nj, owner = 1, np.full(nc, -1)
        jets.append(
            {
                "pt": rng.uniform(200, 1000, nj),
                "eta": rng.uniform(-2, 2, nj),
                "phi": rng.uniform(-np.pi, np.pi, nj),
                "mass": rng.uniform(10, 200, nj),
            }
        )
        c = {
            "pt": rng.exponential(20, nc) + 0.5,
            "eta": rng.normal(0, 1, nc),
            "phi": rng.uniform(-np.pi, np.pi, nc),
            "mass": rng.choice([0.0, 0.1396, 0.000511], nc),
        }
        cands.append(c)
        members = rng.permutation(np.flatnonzero(owner >= 0))
        assoc.append({"jetIdx": owner[members], "pFCandsIdx": members})
        parallel.append({**c, "jetIdx": owner})

    def collection(rows, ints=()):
        return ak.zip(
            {
                k: ak.Array([r[k].astype(np.int32 if k in ints else np.float32) for r in rows])
                for k in rows[0]
            }
        )

    data = {
        "run": np.ones(n, np.uint32),
        "event": np.arange(n, dtype=np.uint64),
        "FatJet": collection(jets),
        "PFCands": collection(cands),
        "FatJetPFCands": collection(assoc, ints=("jetIdx", "pFCandsIdx")),
        "JetCand": collection(parallel, ints=("jetIdx",)),
    }
    _write_tree(path, "Events", data)
    return jets, cands, assoc


def expected_nanoaod(jets, cands, assoc, leading_only=False):
    """By-hand loop: (jet pt, constituents sorted by pt) for each selected jet, event order."""
    out = []
    for jet, cand, table in zip(jets, cands, assoc):
        order = range(len(jet["pt"]))
        if leading_only:
            order = [int(np.argmax(jet["pt"]))] if len(jet["pt"]) else []
        for j in order:
            members = [c for jj, c in zip(table["jetIdx"], table["pFCandsIdx"]) if jj == j]
            parts = sorted(
                ((cand["pt"][c], cand["eta"][c], cand["phi"][c], cand["mass"][c]) for c in members),
                reverse=True,
            )
            out.append((jet["pt"][j], np.array(parts, np.float32).reshape(-1, 4)))
    return out


def as_rows(jets):
    """(jet pt, [n, 4] constituents) per jet, from a schema array."""
    parts = [
        np.stack(
            [
                np.asarray(ak.to_list(jets.Part[f][i]), np.float32)
                for f in ("pt", "eta", "phi", "mass")
            ],
            axis=1,
        )
        for i in range(len(jets))
    ]
    return list(zip(ak.to_numpy(jets.Jet.pt), parts))


def assert_rows_equal(got, expected):
    assert len(got) == len(expected)
    for (gpt, gparts), (ept, eparts) in zip(got, expected):
        assert gpt == pytest.approx(ept, rel=1e-6)
        np.testing.assert_allclose(gparts, eparts, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# JetNet HDF5


def test_jetnet_round_trip(tmp_path):
    pf, jf = write_jetnet(tmp_path / "t.hdf5")
    jets = read_jetnet_hdf5(tmp_path / "t.hdf5")
    np.testing.assert_allclose(to_jetnet(jets, P), jetnet_expected(pf), rtol=1e-6, atol=1e-6)
    for i, field in enumerate(("pt", "eta", "mass")):
        np.testing.assert_array_equal(ak.to_numpy(jets.Jet[field]), jf[:, i])
    np.testing.assert_array_equal(ak.to_numpy(jets.Jet.nparticles), jf[:, 3].astype(int))
    np.testing.assert_array_equal(ak.to_numpy(ak.num(jets.Part)), pf[..., 3].sum(axis=1))
    assert ak.all(jets.Jet.label == 2) and ak.all(jets.Jet.phi == 0)
    assert ak.all(jets.Part.mass == 0)
    assert ak.all(jets.Part.pt[:, :-1] >= jets.Part.pt[:, 1:])
    np.testing.assert_array_equal(ak.to_numpy(jets.event), np.arange(len(jf)))


def test_jetnet_truncation_and_chunks(tmp_path):
    pf, jf = write_jetnet(tmp_path / "q_30.h5", n=23)
    jets = read_jetnet_hdf5(tmp_path / "q_30.h5", particles=3)
    assert ak.max(ak.num(jets.Part)) == 3
    np.testing.assert_array_equal(ak.to_numpy(jets.Jet.nparticles), jf[:, 3].astype(int))
    np.testing.assert_allclose(to_jetnet(jets, 3), jetnet_expected(pf, 3), rtol=1e-6, atol=1e-6)
    report = ImportReport()
    chunks = list(iterate_jetnet_hdf5(tmp_path / "q_30.h5", step_size=10, report=report))
    assert [len(c) for c in chunks] == [10, 10, 3]
    events = np.concatenate([ak.to_numpy(c.event) for c in chunks])
    np.testing.assert_array_equal(events, np.arange(23))
    assert report.entries == report.jets == 23 and report.truncated == 0


@pytest.mark.parametrize(
    "name, jet_type",
    [
        ("t.hdf5", "t"),
        ("g150.hdf5", "g"),
        ("q_30.hdf5", "q"),
        ("W-150.h5", "w"),
        ("z.h5", "z"),
        ("jets.hdf5", None),
        ("top.hdf5", None),
    ],
)
def test_jetnet_type_from_name(name, jet_type):
    assert jetnet_type_from_name(name) == jet_type


def test_jetnet_explicit_type_wins(tmp_path):
    write_jetnet(tmp_path / "g.hdf5", n=4)
    assert ak.all(read_jetnet_hdf5(tmp_path / "g.hdf5", jet_type="z").Jet.label == 4)


def test_jetnet_empty_jets_error_or_dropped(tmp_path):
    path = tmp_path / "w.hdf5"
    pf, _ = write_jetnet(path, n=12, empty=(2, 7))
    with pytest.raises(HepvaeError, match=r"w\.hdf5: jet 2 has no constituents"):
        read_jetnet_hdf5(path)
    report = ImportReport()
    jets = read_jetnet_hdf5(path, drop_empty=True, report=report)
    assert len(jets) == 10 and report.dropped_empty == 2
    keep = np.setdiff1d(np.arange(12), [2, 7])
    np.testing.assert_allclose(to_jetnet(jets, P), jetnet_expected(pf[keep]), atol=1e-6)
    np.testing.assert_array_equal(ak.to_numpy(jets.event), np.arange(10))


# ---------------------------------------------------------------------------------------------
# ROOT files through a branch map


def test_branch_map_jet_per_entry(tmp_path):
    path = tmp_path / "mine.root"
    data = write_jet_per_entry(path)
    jets = read_branch_map(path, PER_ENTRY_MAP)
    expected = []
    for i in range(len(data["jpt"])):
        c = data["cand"][i]
        rows = np.stack([ak.to_numpy(c[f]) for f in ("pt", "eta", "phi", "m")], axis=1)
        expected.append((data["jpt"][i], rows[np.argsort(-rows[:, 0])].astype(np.float32)))
    assert_rows_equal(as_rows(jets), expected)
    np.testing.assert_array_equal(ak.to_numpy(jets.Jet.label), data["jlabel"])
    np.testing.assert_allclose(ak.to_numpy(jets.Jet.mass), data["jm"].astype(np.float32))
    np.testing.assert_array_equal(ak.to_numpy(jets.Jet.nparticles), ak.num(data["cand"]))
    short = read_branch_map([path, path], PER_ENTRY_MAP, jet_type="w", particles=2)
    assert len(short) == 60 and ak.max(ak.num(short.Part)) == 2
    assert ak.all(short.Jet.label == 3)
    np.testing.assert_array_equal(ak.to_numpy(short.event), np.arange(60))


def test_branch_map_nanoaod_association_table(tmp_path):
    path = tmp_path / "nano.root"
    jets_in, cands, assoc = write_nanoaod(path)
    bmap = load_branch_map(NANOAOD_MAP)
    assert bmap.leading_jet_only and bmap.constituents.candidate_index
    leading = read_branch_map(path, bmap, jet_type="q")
    assert_rows_equal(as_rows(leading), expected_nanoaod(jets_in, cands, assoc, True))
    assert ak.all(leading.Jet.label == 1)
    every = read_branch_map(path, dataclasses.replace(bmap, leading_jet_only=False), "q")
    assert_rows_equal(as_rows(every), expected_nanoaod(jets_in, cands, assoc))
    assert len(every) > len(leading) > 0


def test_branch_map_nanoaod_parallel_jet_index(tmp_path):
    path = tmp_path / "nano.root"
    jets_in, cands, assoc = write_nanoaod(path, seed=5)
    bmap = BranchMap(
        layout="events",
        jet=JetBranches(pt="FatJet_pt", eta="FatJet_eta", phi="FatJet_phi", mass="FatJet_mass"),
        constituents=ConstituentBranches(
            pt="JetCand_pt", eta="JetCand_eta", phi="JetCand_phi", jet_index="JetCand_jetIdx"
        ),
        jet_type="t",
    )
    jets = read_branch_map(path, bmap, particles=4)
    expected = [
        (pt, np.column_stack([parts[:4, :3], np.zeros(len(parts[:4]))]))
        for pt, parts in expected_nanoaod(jets_in, cands, assoc)
    ]
    assert_rows_equal(as_rows(jets), expected)
    full = [len(parts) for _, parts in expected_nanoaod(jets_in, cands, assoc)]
    np.testing.assert_array_equal(ak.to_numpy(jets.Jet.nparticles), full)


def test_branch_map_empty_jets(tmp_path):
    path = tmp_path / "nano.root"
    write_nanoaod(path, empty_jet=True)
    with pytest.raises(HepvaeError, match=r"nano\.root: entry 3 jet 0 has no constituents"):
        read_branch_map(path, NANOAOD_MAP, jet_type="q")
    bmap = dataclasses.replace(load_branch_map(NANOAOD_MAP), leading_jet_only=False)
    report = ImportReport()
    jets = read_branch_map(path, bmap, jet_type="q", drop_empty=True, report=report)
    assert report.dropped_empty >= 1 and len(jets) == report.jets
    assert ak.all(ak.num(jets.Part) > 0)


def test_branch_map_yaml_rules(tmp_path):
    good = NANOAOD_MAP.read_text()
    cases = {
        "typo: 1\n": "unknown key 'typo'",
        "jet_type: top\n": "jet_type 'top'",
        "layout: flat\n": "layout",
    }
    for extra, message in cases.items():
        path = tmp_path / "map.yaml"
        path.write_text(good + extra)
        with pytest.raises(HepvaeError, match=message) as info:
            load_branch_map(path)
        assert "map.yaml" in str(info.value)
    bad = good.replace("  jet_index: FatJetPFCands_jetIdx\n", "")
    path.write_text(bad)
    with pytest.raises(HepvaeError, match="needs constituents.jet_index"):
        load_branch_map(path)


# ---------------------------------------------------------------------------------------------
# the command line


def test_convert_then_inspect_jetnet(tmp_path, capsys):
    write_jetnet(tmp_path / "t.hdf5", n=15)
    write_jetnet(tmp_path / "g150.hdf5", n=10, seed=3)
    out = tmp_path / "out" / "jets.root"
    argv = ["convert", str(tmp_path / "t.hdf5"), str(tmp_path / "g150.hdf5"), "-o", str(out)]
    assert main([*argv, "--particles", "5"]) == 0
    assert "wrote 25 jets" in capsys.readouterr().out
    assert main(["inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert "g: 10, t: 15" in text and "convert" in text
    meta = read_metadata(out)
    assert meta["producer"] == "convert" and meta["format"] == "jetnet"
    assert meta["sources"] == [str(tmp_path / "t.hdf5"), str(tmp_path / "g150.hdf5")]
    assert meta["options"]["particles"] == 5 and meta["n_jets"] == 25
    jets = read_jets(out)
    np.testing.assert_array_equal(ak.to_numpy(jets.event), np.arange(25))
    assert sorted(p.name for p in out.parent.iterdir()) == ["jets.root"]


def test_convert_root_with_branch_map(tmp_path, capsys):
    nano = tmp_path / "nano.root"
    jets_in, cands, assoc = write_nanoaod(nano)
    out = tmp_path / "jets.root"
    argv = ["convert", str(nano), "--branch-map", str(NANOAOD_MAP), "--type", "w", "-o", str(out)]
    assert main(argv) == 0
    jets = read_jets(out)
    assert_rows_equal(as_rows(jets), expected_nanoaod(jets_in, cands, assoc, True))
    meta = read_metadata(out)
    assert meta["format"] == "root" and meta["options"]["branch_map"]["layout"] == "events"
    assert main(["inspect", str(out)]) == 0 and "w:" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# bad input: one line, exit 2, no output


def _text(path, text="this is not a data file\n"):
    path.write_text(text)
    return path


def _truncated(path, write):
    write(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _h5(path, **datasets):
    with h5py.File(path, "w") as f:
        for name, value in datasets.items():
            f[name] = value
    return path


def _map_with(tmp_path, old, new):
    path = tmp_path / "map.yaml"
    path.write_text(NANOAOD_MAP.read_text().replace(old, new))
    return path


def _jetnet(path, **kw):
    write_jetnet(path, **kw)
    return path


def _per_entry(path, **kw):
    write_jet_per_entry(path, **kw)
    return path


def _nano(tmp_path, **kw):
    write_nanoaod(tmp_path / "nano.root", **kw)
    return tmp_path / "nano.root"


NANO_ARGS = ["--branch-map", str(NANOAOD_MAP), "--type", "q"]
BAD_INPUTS = {
    "missing file": (lambda t: [t / "nope.hdf5"], "nope.hdf5: no such file"),
    "not HDF5": (lambda t: [_text(t / "t.hdf5")], "t.hdf5: not a readable HDF5 file"),
    "not ROOT": (lambda t: [_text(t / "x.root"), *NANO_ARGS], "x.root: not a readable ROOT"),
    "truncated HDF5": (
        lambda t: [_truncated(t / "t.hdf5", write_jetnet)],
        "t.hdf5: ",
    ),
    "truncated ROOT": (
        lambda t: [_truncated(t / "n.root", write_nanoaod), *NANO_ARGS],
        "n.root: ",
    ),
    "HDF5 missing dataset": (
        lambda t: [_h5(t / "t.hdf5", particle_features=np.zeros((3, P, 4)))],
        "t.hdf5: no dataset 'jet_features'",
    ),
    "HDF5 wrong shape": (
        lambda t: [
            _h5(t / "t.h5", particle_features=np.zeros((3, P, 3)), jet_features=np.ones((3, 4)))
        ],
        "t.h5: particle_features has shape [3, 8, 3], expected [N, P, 4]",
    ),
    "HDF5 jet count mismatch": (
        lambda t: [
            _h5(t / "t.h5", particle_features=np.zeros((3, P, 4)), jet_features=np.ones((2, 4)))
        ],
        "t.h5: particle_features has 3 jets but jet_features has 2",
    ),
    "mask not 0/1": (
        lambda t: [
            _h5(t / "t.h5", particle_features=np.full((3, P, 4), 0.5), jet_features=np.ones((3, 4)))
        ],
        "t.h5: particle_features mask",
    ),
    "missing branch": (
        lambda t: [
            _nano(t),
            "--branch-map",
            _map_with(t, "pt: PFCands_pt", "pt: PFCands_ptt"),
            "--type",
            "q",
        ],
        "nano.root: branch 'PFCands_ptt' (branch map constituents.pt) not found",
    ),
    "jet index past the jets": (
        lambda t: [
            _nano(t),
            "--branch-map",
            _map_with(t, "jet_index: FatJetPFCands_jetIdx", "jet_index: FatJetPFCands_pFCandsIdx"),
            "--type",
            "q",
        ],
        "points past the last jet",
    ),
    "unknown key in branch map": (
        lambda t: [_nano(t), "--branch-map", _map_with(t, "tree: Events", "treee: Events")],
        "map.yaml: unknown key 'treee'",
    ),
    "jagged branch where a number is expected": (
        lambda t: [_nano(t), "--branch-map", _per_entry_yaml(t, "FatJet", "PFCands")],
        "nano.root: branch 'FatJet_pt' (branch map jet.pt) has 2 dimensions",
    ),
    "missing branch map": (
        lambda t: [_nano(t), "--branch-map", t / "none.yaml"],
        "none.yaml: no such config file",
    ),
    "ROOT without branch map": (lambda t: [_nano(t)], "needs a branch map"),
    "NaN in HDF5": (lambda t: [_jetnet(t / "t.hdf5", nan=4)], "t.hdf5: Part_pt has NaN"),
    "NaN in ROOT": (
        lambda t: [_per_entry(t / "m.root", nan=True), "--branch-map", _per_entry_yaml(t)],
        "m.root: Part_eta has NaN",
    ),
    "jets with no constituents": (
        lambda t: [_jetnet(t / "t.hdf5", empty=(3,))],
        "t.hdf5: jet 3 has no constituents",
    ),
    "unknown jet type": (
        lambda t: [_jetnet(t / "t.hdf5"), "--type", "top"],
        "--type: unknown jet type 'top'",
    ),
    "jet type not in the file name": (
        lambda t: [_jetnet(t / "jets.hdf5")],
        "jets.hdf5: cannot tell the jet type",
    ),
    "unknown extension": (
        lambda t: [_text(t / "jets.txt")],
        "jets.txt: cannot tell the input format",
    ),
}


def _per_entry_yaml(tmp_path, jet=None, cand=None):
    """PER_ENTRY_MAP as YAML, optionally pointing at other jet / constituent collections."""
    import yaml

    from hepvae.config import to_dict

    data = to_dict(PER_ENTRY_MAP)
    if jet is not None:
        data["tree"] = "Events"
        data["jet"] = {f: f"{jet}_{f}" for f in ("pt", "eta", "phi", "mass")}
        data["constituents"] = {f: f"{cand}_{f}" for f in ("pt", "eta", "phi", "mass")}
        data["jet_type"] = "g"
    path = tmp_path / "per_entry.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input(tmp_path, capsys, case):
    make, message = BAD_INPUTS[case]
    args = [str(a) for a in make(tmp_path)]
    out_dir = tmp_path / "out"
    assert main(["convert", *args, "-o", str(out_dir / "jets.root")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert message in err, err
    assert not out_dir.exists() or not any(out_dir.iterdir())


def test_unwritable_output(tmp_path, capsys):
    write_jetnet(tmp_path / "t.hdf5", n=3)
    blocker = _text(tmp_path / "blocker")
    for out, message in (
        (blocker / "jets.root", "blocker: cannot create output folder"),
        (tmp_path / "jets.txt", "must end in .root"),
    ):
        assert main(["convert", str(tmp_path / "t.hdf5"), "-o", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker", "t.hdf5"]


def test_failure_keeps_previous_output(tmp_path, capsys):
    write_jetnet(tmp_path / "t.hdf5", n=3)
    out = tmp_path / "jets.root"
    assert main(["convert", str(tmp_path / "t.hdf5"), "-o", str(out)]) == 0
    before = out.read_bytes()
    write_jetnet(tmp_path / "z.hdf5", n=3, empty=(1,))
    assert (
        main(["convert", str(tmp_path / "t.hdf5"), str(tmp_path / "z.hdf5"), "-o", str(out)]) == 2
    )
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jets.root", "t.hdf5", "z.hdf5"]


def test_library_errors_name_parameters_and_the_cli_its_options(tmp_path, capsys):
    from hepvae.data.convert import convert
    from hepvae.errors import ParameterError

    write_jetnet(tmp_path / "jets.hdf5", n=3)
    out = tmp_path / "out.root"
    with pytest.raises(ParameterError) as info:
        convert([tmp_path / "jets.hdf5"], out, jet_type="top")
    assert str(info.value).startswith("jet_type: unknown jet type 'top'"), info.value
    with pytest.raises(ParameterError, match=r"jets\.hdf5: cannot tell the jet type .* jet_type$"):
        convert([tmp_path / "jets.hdf5"], out)
    assert main(["convert", str(tmp_path / "jets.hdf5"), "-o", str(out)]) == 2
    assert capsys.readouterr().err.strip().endswith("give --type")
    # a file name with braces is shown as it is, not taken for a parameter
    write_jetnet(tmp_path / "{jet_type}.hdf5", n=3)
    assert main(["convert", str(tmp_path / "{jet_type}.hdf5"), "-o", str(out)]) == 2
    assert "{jet_type}.hdf5: cannot tell the jet type" in capsys.readouterr().err
    assert not out.exists()
