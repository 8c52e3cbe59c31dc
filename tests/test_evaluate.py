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
from hepvae.data.schema import LABELS, make_jets, read_jets, write_jets
from hepvae.errors import HepvaeError, SchemaError
from hepvae.evaluate import EVALUATE_METRICS, SUBSTRUCTURE_METRICS, UNITS, evaluate
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
    assert result["units"] == UNITS and set(UNITS) == set(EVALUATE_METRICS)
    assert (UNITS["w1m"], UNITS["w1efp"], UNITS["w1tau32"], UNITS["w1mult"]) == (
        1e-3,
        1e-5,
        1e-3,
        1,
    )
    assert result["settings"]["jet_axis"] == "stored"
    # every metric, the substructure W1s included, with model and truth baseline; random_jets
    # store all constituents, so Jet_nparticles carries nothing and is left out with a note
    metrics = result["jet_types"]["t"]["metrics"]
    assert list(metrics) == [m for m in EVALUATE_METRICS if m != "w1nparticles"]
    assert any("Jet_nparticles left out" in note for note in block["notes"])
    for name in SUBSTRUCTURE_METRICS[:5]:
        assert metrics[name]["model"]["value"] > 0 and metrics[name]["truth"]["error"] > 0
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
    assert "Substructure" not in printed
    data = json.loads((out / "metrics.json").read_text())
    assert data["settings"]["n"] == 100 and data["settings"]["seed"] == 3
    assert data["settings"]["jet_axis"] == "stored"  # the JetNet convention by default
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


def test_cli_metric_names_and_jet_axis_defaults():
    from hepvae.cli import build_parser
    from hepvae.commands.evaluate import METRIC_NAMES

    assert METRIC_NAMES == EVALUATE_METRICS
    parser = build_parser()
    args = parser.parse_args(["evaluate", "--real", "a.root", "--generated", "b.root", "-o", "x"])
    assert args.jet_axis == "stored" and args.metrics == list(EVALUATE_METRICS)
    assert parser.parse_args(["analyze", "a.root", "-o", "x"]).jet_axis == "stored"
    old = ["analyze", "a.root", "-o", "x", "--jet-axis", "constituents"]
    assert parser.parse_args(old).jet_axis == "constituents"


def test_cli_prints_substructure_table_with_units(samples, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["evaluate", "--real", str(samples["real"]), "--generated", str(samples["generated"])]
    argv += ["-o", str(out), "--n", "100", "--metrics", "w1tau32,w1eec,w1mult"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "JetNet metrics" not in printed and "Substructure W1" in printed
    assert "τ32 [10⁻³]" in printed and "EEC [10⁻³ ln R_L]" in printed
    assert "mult. [particles]" in printed
    data = json.loads((out / "metrics.json").read_text())
    assert list(data["jet_types"]["w"]["metrics"]) == ["w1tau32", "w1eec", "w1mult"]
    assert data["units"] == {"w1tau32": 1e-3, "w1eec": 1e-3, "w1mult": 1.0}


@pytest.fixture(scope="module")
def pythia(tmp_path_factory):
    """Real Pythia 8 top jets (300, and 150 others) and gluon jets (150) labelled as tops."""
    from hepvae.data.simulate import simulate

    folder = tmp_path_factory.mktemp("pythia")
    top = simulate("t", 300, seed=1, workers=1, progress=False)
    gluon = simulate("g", 150, seed=2, workers=1, progress=False)
    gluon = ak.with_field(gluon, ak.with_field(gluon.Jet, LABELS["t"], "label"), "Jet")
    return {
        "top": write_jets(folder / "top.root", top),
        "other_top": write_jets(
            folder / "other_top.root", simulate("t", 150, seed=3, workers=1, progress=False)
        ),
        "gluon": write_jets(folder / "gluon.root", gluon),
    }


def test_substructure_w1_of_gluons_against_tops_is_large(pythia):
    result = evaluate(pythia["top"], pythia["gluon"], metrics=SUBSTRUCTURE_METRICS, seed=0)
    metrics = result["jet_types"]["t"]["metrics"]
    # both samples are truncated to 30 stored constituents: nparticles is compared too
    assert list(metrics) == list(SUBSTRUCTURE_METRICS)
    assert metrics["w1nparticles"]["truth"]["value"] > 0  # gluon and top multiplicities overlap
    for name in ("w1tau21", "w1tau32", "w1d2", "w1eec"):
        assert metrics[name]["ratio"] > 2.5 and metrics[name]["pull"] > 3, (name, metrics[name])
    assert metrics["w1tau32"]["ratio"] > 4 and metrics["w1eec"]["ratio"] > 3


def test_substructure_w1_of_a_sample_with_itself_is_zero(pythia):
    from hepvae.evaluate.substructure import _distance, substructure

    jets = read_jets(pythia["top"])
    shapes = substructure(jets, 30, SUBSTRUCTURE_METRICS)
    assert shapes.n_jets == 300 and len(shapes.eec_log_r) == 300
    everything = np.arange(len(jets))
    for name in SUBSTRUCTURE_METRICS:
        assert _distance(shapes, shapes, name)(everything, everything) == pytest.approx(0, abs=1e-9)
    # independent tops agree with the truth baseline, and are far below gluons against tops
    result = evaluate(pythia["top"], pythia["other_top"], metrics=SUBSTRUCTURE_METRICS, seed=0)
    gluons = evaluate(pythia["top"], pythia["gluon"], metrics=SUBSTRUCTURE_METRICS, seed=0)
    for name, entry in result["jet_types"]["t"]["metrics"].items():
        assert entry["pull"] is None or abs(entry["pull"]) < 3, (name, entry)
        if name != "w1mult":  # all 30 stored: 0 for both
            far = gluons["jet_types"]["t"]["metrics"][name]["model"]["value"]
            assert entry["model"]["value"] < 0.5 * far, name
