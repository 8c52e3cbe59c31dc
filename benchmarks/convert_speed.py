"""Speed of ``hepvae convert``: jets per second for JetNet HDF5 and a NanoAOD-like branch map.

Writes synthetic inputs of realistic size to a temporary folder, converts them with
:func:`hepvae.data.convert.convert` and prints the figures. Usage:

    python benchmarks/convert_speed.py [--jets 100000] [--events 20000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import awkward as ak
import h5py
import numpy as np
import uproot

from hepvae.data.branchmap import BranchMap, ConstituentBranches, JetBranches
from hepvae.data.convert import convert


def write_jetnet(path: Path, n: int, slots: int, rng: np.random.Generator) -> None:
    """JetNet-like file: leading slots filled by pT, the rest masked."""
    counts = rng.integers(10, slots + 1, n)
    mask = np.arange(slots)[None, :] < counts[:, None]
    pf = np.zeros((n, slots, 4), np.float32)
    pf[..., 0] = rng.normal(0, 0.2, (n, slots))
    pf[..., 1] = rng.normal(0, 0.2, (n, slots))
    pf[..., 2] = -np.sort(-rng.exponential(0.03, (n, slots)), axis=1) + 1e-4
    pf[..., 3] = mask
    pf[~mask] = 0
    jf = np.stack(
        [rng.uniform(800, 1600, n), rng.uniform(-2.5, 2.5, n), rng.uniform(10, 250, n), counts],
        axis=1,
    ).astype(np.float32)
    with h5py.File(path, "w") as f:
        f["particle_features"] = pf
        f["jet_features"] = jf


def write_nanoaod(path: Path, n: int, rng: np.random.Generator) -> None:
    """PFNano-like events: FatJet, PFCands and the FatJetPFCands association table."""
    n_jets = rng.integers(1, 4, n)
    n_cands = rng.poisson(300, n) + 3
    jet = {f: rng.uniform(1, 2, int(n_jets.sum())).astype(np.float32) * 300 for f in ("pt",)}
    jet["eta"] = rng.uniform(-2, 2, len(jet["pt"])).astype(np.float32)
    jet["phi"] = rng.uniform(-np.pi, np.pi, len(jet["pt"])).astype(np.float32)
    jet["mass"] = rng.uniform(10, 200, len(jet["pt"])).astype(np.float32)
    total = int(n_cands.sum())
    cand = {
        "pt": (rng.exponential(5, total) + 0.5).astype(np.float32),
        "eta": rng.normal(0, 2, total).astype(np.float32),
        "phi": rng.uniform(-np.pi, np.pi, total).astype(np.float32),
        "mass": np.zeros(total, np.float32),
    }
    # about a third of the candidates belong to a jet
    owner = np.floor(rng.uniform(-2, 1, total) * np.repeat(n_jets, n_cands)).astype(np.int32)
    owner = ak.unflatten(np.where(owner < 0, -1, owner), n_cands)
    members = ak.local_index(owner)[owner >= 0]
    data = {
        "FatJet": ak.zip({k: ak.unflatten(v, n_jets) for k, v in jet.items()}),
        "PFCands": ak.zip({k: ak.unflatten(v, n_cands) for k, v in cand.items()}),
        "FatJetPFCands": ak.zip(
            {
                "jetIdx": ak.values_astype(owner[owner >= 0], np.int32),
                "pFCandsIdx": ak.values_astype(members, np.int32),
            }
        ),
    }
    with uproot.recreate(path) as f:
        f.mktree("Events", {k: v.type for k, v in data.items()}).extend(data)


NANOAOD = BranchMap(
    layout="events",
    jet=JetBranches(pt="FatJet_pt", eta="FatJet_eta", phi="FatJet_phi", mass="FatJet_mass"),
    constituents=ConstituentBranches(
        pt="PFCands_pt",
        eta="PFCands_eta",
        phi="PFCands_phi",
        mass="PFCands_mass",
        jet_index="FatJetPFCands_jetIdx",
        candidate_index="FatJetPFCands_pFCandsIdx",
    ),
    jet_type="q",
)


def timed(label: str, inputs: list[Path], output: Path, **kw) -> None:
    start = time.perf_counter()
    _, report = convert(inputs, output, **kw)
    seconds = time.perf_counter() - start
    size = sum(p.stat().st_size for p in inputs) / 1e6
    print(
        f"{label:34s} {report.entries:8d} entries {report.jets:8d} jets {seconds:7.2f} s "
        f"{report.jets / seconds:10.0f} jets/s  ({size:.0f} MB in)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jets", type=int, default=100_000, help="JetNet jets")
    parser.add_argument("--events", type=int, default=20_000, help="NanoAOD-like events")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_jetnet(tmp / "t.hdf5", args.jets, 30, rng)
        write_jetnet(tmp / "g150.hdf5", args.jets // 4, 150, rng)
        write_nanoaod(tmp / "nano.root", args.events, rng)
        timed("JetNet HDF5, 30 particles", [tmp / "t.hdf5"], tmp / "a.root")
        timed("JetNet HDF5, 150 particles", [tmp / "g150.hdf5"], tmp / "b.root")
        timed("NanoAOD-like, all jets", [tmp / "nano.root"], tmp / "c.root", branch_map=NANOAOD)
        leading = BranchMap(**{**NANOAOD.__dict__, "leading_jet_only": True})
        timed(
            "NanoAOD-like, leading jet, 30 parts",
            [tmp / "nano.root"],
            tmp / "d.root",
            branch_map=leading,
            particles=30,
        )


if __name__ == "__main__":
    main()
