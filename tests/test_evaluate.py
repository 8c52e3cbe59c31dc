"""JetNet metrics with the truth baseline: same distribution, shifted mass, smeared constituents.

One evaluation covers three scenarios, one per jet type: the real file holds t, w and z jets
from the same distribution; in the generated file the t jets come from that distribution
too, the w jets have a larger mass (constituent angles to the axis stretched by 1.3) and the
z jets have smeared constituents.
"""

from __future__ import annotations

import json

import awkward as ak
import numpy as np
import pytest
import uproot

from hepvae.cli import main
from hepvae.data.schema import LABELS, make_jets, write_jets
from hepvae.errors import HepvaeError, SchemaError
from hepvae.evaluate import evaluate
from hepvae.physics.p4 import constituents, sum_p4
from tests.conftest import random_jets

N_REAL, N_GEN = 600, 300


def _rebuild(jets, pt, eta, phi):
    """Jets whose four-momentum is the sum of the given massless constituents."""
    order = ak.argsort(pt, axis=1, ascending=False)
    pt, eta, phi = pt[order], eta[order], phi[order]
    phi = (phi + np.pi) % (2 * np.pi) - np.pi
    p4 = sum_p4(constituents(pt, eta, phi))
    return make_jets(p4.pt, p4.eta, p4.phi, p4.mass, jets.Jet.label, pt, eta, phi)


def stretched(jets, factor):
    """Constituent distances to the jet axis scaled by ``factor``: jet mass grows ~ factor."""
    part, jet = jets.Part, jets.Jet
    return _rebuild(
        jets,
        part.pt,
        jet.eta + factor * (part.eta - jet.eta),
        jet.phi + factor * (part.phi - jet.phi),
    )


def smeared(jets, seed, pt_sigma=0.5, angle_sigma=0.1):
    """Constituent pT x lognormal(0, pt_sigma), eta and phi + normal(0, angle_sigma)."""
    rng = np.random.default_rng(seed)
    counts = ak.num(jets.Part, axis=1)
    total = int(ak.sum(counts))

    def noise(values):
        return ak.unflatten(values, counts)

    part = jets.Part
    return _rebuild(
        jets,
        part.pt * noise(rng.lognormal(0.0, pt_sigma, total)),
        part.eta + noise(rng.normal(0.0, angle_sigma, total)),
        part.phi + noise(rng.normal(0.0, angle_sigma, total)),
    )


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    folder = tmp_path_factory.mktemp("evaluate")
    t, w, z = LABELS["t"], LABELS["w"], LABELS["z"]
    real = ak.concatenate(
        [random_jets(N_REAL, seed=s, label=lab) for s, lab in ((1, t), (2, w), (3, z))]
    )
    generated = ak.concatenate(
        [
            random_jets(N_GEN, seed=11, label=t),
            stretched(random_jets(N_GEN, seed=12, label=w), 1.3),
            smeared(random_jets(N_GEN, seed=13, label=z), seed=0),
        ]
    )  # fmt: skip
    return {
        "real": write_jets(folder / "real.root", real),
        "generated": write_jets(folder / "generated.root", generated),
        "folder": folder,
    }


@pytest.fixture(scope="module")
def result(samples):
    return evaluate(samples["real"], samples["generated"], seed=0, efp_jobs=1)


def _pull(entry):
    model, truth = entry["model"], entry["truth"]
    return (model["value"] - truth["value"]) / np.hypot(model["error"], truth["error"])


def test_same_distribution_agrees_with_truth_baseline(result):
    block = result["jet_types"]["t"]
    assert block["n_per_sample"] == N_GEN  # halves of 800 real jets, 400 generated
    for name, entry in block["metrics"].items():
        assert abs(_pull(entry)) < 3, (name, entry)
        assert entry["pull"] == pytest.approx(_pull(entry))


def test_shifted_mass_grows_mass_and_efp_metrics(result):
    metrics = result["jet_types"]["w"]["metrics"]
    assert metrics["w1m"]["ratio"] > 4 and metrics["w1m"]["pull"] > 5
    assert metrics["w1efp"]["ratio"] > 3
    assert metrics["fpd"]["pull"] > 5
    # particle pT fractions are unchanged by the stretch; the angles are not
    w1p = metrics["w1p"]["model"]["components"]
    w1p_truth = metrics["w1p"]["truth"]["components"]
    assert w1p[0] > 3 * w1p_truth[0] and w1p[1] > 3 * w1p_truth[1]


def test_smeared_constituents_grow_particle_metrics(result):
    metrics = result["jet_types"]["z"]["metrics"]
    assert metrics["w1p"]["ratio"] > 2 and metrics["w1p"]["pull"] > 3
    assert metrics["kpd"]["pull"] > 3 or metrics["fpd"]["pull"] > 3


def test_result_records_sizes_versions_and_inputs(result, samples):
    assert set(result["jet_types"]) == {"t", "w", "z"}
    block = result["jet_types"]["t"]
    sizes = block["sample_sizes"]
    assert sizes["w1_eval_samples"] == N_GEN and sizes["kpd_batch_size"] == N_GEN
    assert sizes["fpd_max_samples"] == N_GEN and sizes["fpd_min_samples"] == int(0.4 * N_GEN)
    assert any("JetNet: 50000" in note for note in block["notes"])
    assert result["versions"]["jetnet"] and result["versions"]["numpy"] == np.__version__
    assert result["inputs"]["real"][0]["n_jets"] == 3 * N_REAL
    assert result["units"] == {"w1m": 1e-3, "w1p": 1e-3, "w1efp": 1e-5, "fpd": 1e-3, "kpd": 1e-3}
    json.dumps(result, allow_nan=False)  # strict JSON


def test_seed_makes_results_reproducible(samples):
    kwargs = {"n": 100, "metrics": ("w1m", "w1p")}
    a = evaluate(samples["real"], samples["generated"], seed=5, **kwargs)
    b = evaluate(samples["real"], samples["generated"], seed=5, **kwargs)
    for jet_type in ("t", "w", "z"):
        assert a["jet_types"][jet_type]["metrics"] == b["jet_types"][jet_type]["metrics"]


@pytest.fixture
def top_file(tmp_path):
    return write_jets(tmp_path / "top.root", random_jets(300, seed=4))


def test_missing_file_is_named(top_file, tmp_path):
    with pytest.raises(HepvaeError, match=r"nope\.root: no such file"):
        evaluate(tmp_path / "nope.root", top_file)


def test_schema_mismatch_is_named(top_file, tmp_path):
    bad = tmp_path / "bad.root"
    with uproot.recreate(bad) as f:
        f.mktree("Events", {"Jet_pt": np.float32}).extend({"Jet_pt": np.ones(3, np.float32)})
    with pytest.raises(SchemaError, match=r"bad\.root: missing branches"):
        evaluate(top_file, bad)


def test_mismatched_jet_types(top_file, tmp_path):
    mixed = ak.concatenate([random_jets(300, seed=5), random_jets(300, seed=6, label=0)])
    gen = write_jets(tmp_path / "mixed.root", mixed)
    with pytest.raises(HepvaeError, match="jet types differ: real has t, generated has g, t"):
        evaluate(top_file, gen)


def test_too_few_jets_names_class_and_number(top_file, tmp_path):
    few = write_jets(tmp_path / "few.root", random_jets(60, seed=7))
    with pytest.raises(HepvaeError, match=r"jet type t: too few jets for FPD: .* at least 100"):
        evaluate(top_file, few)
    # the W1 metrics alone need fewer jets
    out = evaluate(top_file, few, metrics=("w1m",))
    assert out["jet_types"]["t"]["n_per_sample"] == 60


def test_cli_writes_metrics_and_table(samples, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["evaluate", "--real", str(samples["real"]), "--generated", str(samples["generated"])]
    argv += ["-o", str(out), "--n", "100", "--metrics", "w1m,w1p", "--seed", "3"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "W1M [10⁻³]" in printed and "W1P [10⁻³]" in printed and "truth" in printed
    data = json.loads((out / "metrics.json").read_text())
    assert data["settings"]["n"] == 100 and data["settings"]["seed"] == 3
    assert set(data["jet_types"]["t"]["metrics"]) == {"w1m", "w1p"}
    assert [p.name for p in out.iterdir()] == ["metrics.json"]  # no temporary files left


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--real", "missing.root"], "missing.root: no such file"),
        (["--metrics", "w1m,foo"], "unknown metric 'foo'"),
        (["--n", "0"], "must be > 0"),
    ],
)
def test_cli_bad_input_is_one_line(samples, tmp_path, capsys, extra, message):
    argv = ["evaluate", "--real", str(samples["real"]), "--generated", str(samples["generated"])]
    argv += ["-o", str(tmp_path / "out")] + extra
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse errors
        code = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert message in err[-1]
    assert not (tmp_path / "out" / "metrics.json").exists()


def test_jet_axis_constituents_resums_the_leading_particles():
    from hepvae.commands import JET_AXES as CLI_AXES
    from hepvae.physics.coords import JET_AXES, to_jetnet

    assert CLI_AXES == JET_AXES
    jets = random_jets(40, seed=21, max_particles=30)
    cut = 8
    own, stored = to_jetnet(jets, cut, "constituents"), to_jetnet(jets, cut, "stored")
    # an independent sum of the leading `cut` massless constituents, jet by jet
    for i in range(len(jets)):
        part = jets.Part[i]
        pt, eta, phi = (np.asarray(getattr(part, k), dtype=np.float64)[:cut]
                        for k in ("pt", "eta", "phi"))  # fmt: skip
        px, py, pz = (pt * np.cos(phi)).sum(), (pt * np.sin(phi)).sum(), (pt * np.sinh(eta)).sum()
        jet_pt = np.hypot(px, py)
        jet_eta, jet_phi = np.arcsinh(pz / jet_pt), np.arctan2(py, px)
        n = len(pt)
        np.testing.assert_allclose(own[i, :n, 2], pt / jet_pt, rtol=1e-5)
        np.testing.assert_allclose(own[i, :n, 0], eta - jet_eta, atol=1e-5)
        dphi = (phi - jet_phi + np.pi) % (2 * np.pi) - np.pi
        np.testing.assert_allclose(own[i, :n, 1], dphi, atol=1e-5)
    # jets with more than `cut` constituents: the stored jet carries pT the cut ones lack
    longer = np.asarray(ak.num(jets.Part, axis=1)) > cut
    assert longer.any() and (stored[longer, :, 2].sum(1) < own[longer, :, 2].sum(1)).all()
    # jets of at most `cut` constituents, stored as their sum: both axes agree
    short = ~longer
    np.testing.assert_allclose(own[short], stored[short], atol=1e-5)
    with pytest.raises(ValueError, match="jet_axis"):
        to_jetnet(jets, cut, "beam")


def test_a_generator_of_exact_leading_constituents_matches_truth(tmp_path):
    """Real jets cut to 6 constituents: a 'generator' that emits exactly such leading-6
    systems (its jets the sum of them, as hepvae writes them) agrees with the truth baseline
    when the axis is the constituents' sum, and is far off relative to the stored full jets."""
    from hepvae.physics.coords import leading_system

    real = random_jets(600, seed=31, max_particles=30)
    generated = leading_system(random_jets(300, seed=32, max_particles=30), 6)
    real_path = write_jets(tmp_path / "real.root", real)
    gen_path = write_jets(tmp_path / "gen.root", generated)
    kwargs = {"n_particles": 6, "metrics": ("w1m", "w1p"), "seed": 0}
    own = evaluate(real_path, gen_path, jet_axis="constituents", **kwargs)
    stored = evaluate(real_path, gen_path, jet_axis="stored", **kwargs)
    assert own["settings"]["jet_axis"] == "constituents"
    for name in ("w1m", "w1p"):
        assert abs(_pull(own["jet_types"]["t"]["metrics"][name])) < 3
        assert _pull(stored["jet_types"]["t"]["metrics"][name]) > 5
    with pytest.raises(HepvaeError, match="jet axis"):
        evaluate(real_path, gen_path, jet_axis="beam", **kwargs)
