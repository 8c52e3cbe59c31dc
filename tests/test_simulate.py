"""Pythia 8 + FastJet simulation: determinism, physics sanity, file output and CLI errors.

Real Pythia events at small sizes; samples are shared between tests (module-scoped).
"""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
from scipy.stats import gaussian_kde

from hepvae.cli import main
from hepvae.data.nanoevents import open_events
from hepvae.data.pythia_jets import _matched, _pythia, _truth_partons
from hepvae.data.schema import read_jets, read_metadata
from hepvae.data.simulate import SimulationConfig, flatten_events, simulate, simulate_to_file
from hepvae.errors import HepvaeError
from hepvae.physics.p4 import sum_p4

N_MASS = 300  # jets for the mass peaks: 2 chunks of the default 250


@pytest.fixture(scope="module")
def top_jets():
    return simulate("t", N_MASS, n_particles=150, seed=1, workers=1, progress=False)


@pytest.fixture(scope="module")
def w_jets():
    return simulate("w", N_MASS, n_particles=150, seed=1, workers=1, progress=False)


def mass_mode(jets: ak.Array) -> float:
    """Most probable jet mass [GeV], from a Gaussian kernel density estimate."""
    mass = ak.to_numpy(jets.Jet.mass).astype(float)
    grid = np.linspace(0.0, 400.0, 801)
    return float(grid[np.argmax(gaussian_kde(mass)(grid))])


def test_same_jets_with_one_or_two_workers(w_jets):
    two = simulate("w", N_MASS, n_particles=150, seed=1, workers=2, progress=False)
    assert ak.array_equal(two, w_jets)


def test_same_seed_repeats_and_smaller_samples_are_prefixes(w_jets):
    again = simulate("w", 40, n_particles=150, seed=1, workers=1, progress=False)
    assert ak.array_equal(again, w_jets[:40])


def test_particles_option_only_truncates(w_jets):
    short = simulate("w", 40, n_particles=30, seed=1, workers=1, progress=False)
    full = w_jets[:40]
    assert ak.array_equal(short.Jet, full.Jet)
    assert ak.array_equal(short.Part, full.Part[:, :30])


def test_different_seeds_give_different_jets(w_jets):
    other = simulate("w", 40, n_particles=150, seed=2, workers=1, progress=False)
    assert not np.any(np.isin(ak.to_numpy(other.Jet.pt), ak.to_numpy(w_jets.Jet.pt)))


@pytest.mark.parametrize("sample", ["top_jets", "w_jets"])
def test_jets_pass_the_jetnet_cuts(sample, request):
    jets = request.getfixturevalue(sample)
    pt, eta = ak.to_numpy(jets.Jet.pt), ak.to_numpy(jets.Jet.eta)
    assert np.all((pt > 800) & (pt < 1600)) and np.all(np.abs(eta) < 2.5)
    assert np.all(ak.to_numpy(jets.Jet.label) == {"top_jets": 2, "w_jets": 3}[sample])
    # constituents sorted by pT, stored count = min(full multiplicity, 150)
    assert ak.all(jets.Part.pt[:, 1:] <= jets.Part.pt[:, :-1])
    stored = ak.to_numpy(ak.num(jets.Part, axis=1))
    np.testing.assert_array_equal(stored, np.minimum(ak.to_numpy(jets.Jet.nparticles), 150))


@pytest.mark.parametrize("sample", ["top_jets", "w_jets"])
def test_constituents_sum_to_the_jet(sample, request):
    jets = request.getfixturevalue(sample)
    jets = jets[jets.Jet.nparticles <= 150]  # untruncated jets
    assert len(jets) > 0.9 * N_MASS
    total = sum_p4(jets.Part)
    for field, atol in (("pt", 0.05), ("eta", 1e-4), ("mass", 0.1)):
        np.testing.assert_allclose(
            ak.to_numpy(getattr(total, field)), ak.to_numpy(jets.Jet[field]), rtol=1e-4, atol=atol
        )
    dphi = (ak.to_numpy(total.phi - jets.Jet.phi) + np.pi) % (2 * np.pi) - np.pi
    assert np.max(np.abs(dphi)) < 1e-4


def test_truncated_jets_keep_the_full_jet_momentum(top_jets):
    # the 30 leading constituents carry less than the jet, whose momentum stays the full one
    jets = top_jets[top_jets.Jet.nparticles > 30]
    assert len(jets) > 0.9 * N_MASS
    leading = sum_p4(jets.Part[:, :30])
    assert ak.all(leading.E < sum_p4(jets.Part).E)
    assert ak.all(leading.mass < jets.Jet.mass)


# Ungroomed R = 0.8 jets: the underlying event (multiparton interactions) and wide-angle
# radiation push the peaks a little above the pole masses (measured: top ~182 GeV; W ~84-94
# GeV, and 80-84 GeV with PartonLevel:MPI = off). Fully contained decays make the peaks; QCD
# jets of the same pT would peak near 100 (q) or 110-150 GeV (g).


def test_top_mass_peaks_near_the_top_mass(top_jets):
    assert 165.0 < mass_mode(top_jets) < 195.0


def test_w_mass_peaks_near_the_w_mass(w_jets):
    assert 75.0 < mass_mode(w_jets) < 100.0


@pytest.mark.parametrize("jet_type", ["g", "q", "z"])
def test_other_classes_simulate(jet_type):
    jets = simulate(jet_type, 15, seed=3, workers=1, progress=False)
    assert len(jets) == 15
    assert np.all(ak.to_numpy(jets.Jet.label) == "gqtwz".index(jet_type))
    assert np.all(ak.to_numpy(jets.Jet.pt) > 800)


@pytest.mark.parametrize(
    "jet_type, pdg, n_quarks, window",
    [("t", 6, 3, (152.0, 194.0)), ("w", 24, 2, (49.1, 111.7)), ("z", 23, 2, (53.8, 128.6))],
)
def test_truth_partons_are_the_resonance_decay_quarks(jet_type, pdg, n_quarks, window):
    # the partons that define a t, W or Z jet: per resonance, its decay quarks, whose invariant
    # mass is the resonance's Breit-Wigner mass, inside the generated window
    cfg = SimulationConfig(jet_type=jet_type)
    pythia = _pythia(cfg.settings())
    pythia.rndm.init(7)
    rec = flatten_events(pythia.nextBatch(20))
    partons, owner = _truth_partons(rec["id"], rec["status"], rec["mother"], cfg)
    assert np.all(np.abs(rec["id"][owner]) == pdg)
    assert np.all(np.abs(rec["id"][partons]) <= 5)  # quarks only
    owners, counts = np.unique(owner, return_counts=True)
    assert len(owners) == 40 and np.all(counts == n_quarks)  # two resonances per event
    for o in owners:
        p = partons[owner == o]
        e, px, py, pz = (rec[c][p].sum() for c in ("e", "px", "py", "pz"))
        assert window[0] < np.sqrt(e**2 - px**2 - py**2 - pz**2) < window[1]


def test_containment_rule():
    # one event, two objects: partons of object 7 at (eta, phi) = (0, 0) and (0.5, 0),
    # object 9 at (3, 0); jets at eta = 0.2 and 1.5
    args = (
        np.array([0, 0, 0]),
        np.array([0.0, 0.5, 3.0]),
        np.zeros(3),
        np.array([7, 7, 9]),
        1,
    )
    jets = (np.array([0, 0]), np.array([0.2, 1.5]), np.zeros(2))
    np.testing.assert_array_equal(_matched(*jets, *args, 0.8), [True, False])
    np.testing.assert_array_equal(_matched(*jets, *args, 0.25), [False, False])


def test_file_reads_back_and_in_coffea(tmp_path, w_jets):
    path = simulate_to_file(
        tmp_path / "w.root", "w", 40, n_particles=150, seed=1, workers=1, progress=False
    )
    jets = read_jets(path)
    assert ak.array_equal(jets, w_jets[:40])
    meta = read_metadata(path)
    assert meta["producer"] == "simulate" and meta["seed"] == 1 and meta["n_jets"] == 40
    assert meta["n_events"] > 0 and "PhaseSpace:pTHatMin = 900.0" in meta["pythia_settings"]
    assert set(meta["versions"]) >= {"pythia8mc", "fastjet", "hepvae"}
    events = open_events(path)
    dr = ak.to_numpy(ak.flatten(events.Part.delta_r(events.Jet)))
    np.testing.assert_allclose(dr, ak.to_numpy(ak.flatten(jets.Part.deltaR(jets.Jet))), atol=1e-5)
    assert np.median(dr) < 0.4


def test_library_rejects_bad_input(tmp_path):
    with pytest.raises(HepvaeError, match="unknown jet type"):
        simulate("b", 10, workers=1, progress=False)
    with pytest.raises(HepvaeError, match="n_jets"):
        simulate("t", 0, workers=1, progress=False)
    with pytest.raises(HepvaeError, match="Pythia rejected the setting 'Foo:bar = 1'"):
        simulate("t", 10, workers=1, progress=False, pythia_settings=("Foo:bar = 1",))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "options, message",
    [
        (["--type", "b", "--n", "10"], "--type"),
        (["--type", "t", "--n", "0"], "--n"),
        (["--type", "t", "--n", "10", "-o", "{tmp}/a_file/out.root"], "a_file"),
    ],
)
def test_cli_bad_input(tmp_path, capsys, options, message):
    (tmp_path / "a_file").write_text("not a folder")
    options = [o.replace("{tmp}", str(tmp_path)) for o in options]
    rc = main(["simulate", *options, "--workers", "1", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_cli_writes_a_file(tmp_path, capsys):
    out = tmp_path / "sub" / "z.root"
    rc = main(
        [
            "simulate",
            "--type",
            "z",
            "--n",
            "12",
            "--seed",
            "5",
            "--workers",
            "1",
            "--quiet",
            "-o",
            str(out),
        ]
    )
    assert rc == 0 and "wrote 12 z jets" in capsys.readouterr().out
    assert len(read_jets(out)) == 12
    assert [p.name for p in out.parent.iterdir()] == ["z.root"]
