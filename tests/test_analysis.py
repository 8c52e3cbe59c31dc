"""coffea analysis: histogram totals, local vs dask executors, plots and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from hepvae.analysis import JetObservables
from hepvae.analysis.histograms import SPEC_BY_NAME, SPECS
from hepvae.analysis.runner import parse_datasets, run_analysis
from hepvae.cli import main
from hepvae.data.schema import write_jets
from hepvae.errors import HepvaeError
from tests.conftest import random_jets

N_REAL, N_GEN = 300, 200


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("analysis")
    real, gen = random_jets(N_REAL, seed=1), random_jets(N_GEN, seed=2)
    return {
        "real": write_jets(folder / "real.root", real),
        "gen": write_jets(folder / "gen.root", gen),
        "n_const": {"real": int(ak.sum(ak.num(real.Part))), "gen": int(ak.sum(ak.num(gen.Part)))},
    }


@pytest.fixture(scope="module")
def local_result(files):
    datasets = {"real": [files["real"]], "gen": [files["gen"]]}
    return run_analysis(datasets, JetObservables(), chunksize=128, status=False)


def test_histogram_totals_equal_number_of_jets(local_result, files):
    for name, n_jets in (("real", N_REAL), ("gen", N_GEN)):
        block = local_result[name]
        assert block["n_jets"] == n_jets
        for key, h in block["hists"].items():
            total = h.sum(flow=True).value
            level = SPEC_BY_NAME[key].level if key in SPEC_BY_NAME else "jet"
            expected = files["n_const"][name] if level == "constituent" else n_jets
            assert total == pytest.approx(expected, rel=1e-9), key
        assert block["hists"]["jet_eta"].values().sum() == n_jets  # |eta| < 2.5: no flow
        eec = block["hists"]["eec2"]
        assert eec.values(flow=True)[0] > 0  # contact terms (R_L = 0) in the underflow


def test_dask_local_cluster_gives_identical_histograms(local_result, files):
    """Worker processes, as ``--local-cluster`` starts them: the processor and the chunks'
    results travel pickled between processes. The workers are gone afterwards."""
    import os

    from distributed import Client, LocalCluster

    datasets = {"real": [files["real"]], "gen": [files["gen"]]}
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        pids = set(client.run(os.getpid).values())
        dask_result = run_analysis(
            datasets, JetObservables(), chunksize=128, status=False, client=client
        )
    assert len(pids) == 2 and os.getpid() not in pids
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # the worker process has exited (and was reaped)
    assert set(dask_result) == set(local_result)
    for name in local_result:
        assert dask_result[name]["n_jets"] == local_result[name]["n_jets"]
        for key, h in local_result[name]["hists"].items():
            other = dask_result[name]["hists"][key]
            assert other.axes == h.axes
            # sums of the same weights in another order: equal up to rounding
            np.testing.assert_allclose(other.values(flow=True), h.values(flow=True), rtol=1e-12)
            np.testing.assert_allclose(
                other.variances(flow=True), h.variances(flow=True), rtol=1e-12
            )


def test_analysis_examples_package_imports_and_runs(files):
    import analysis
    from analysis.eec_in_pt_bins import EECInPtBins

    assert analysis.JetObservables is JetObservables
    out = run_analysis({"real": [files["real"]]}, EECInPtBins(), status=False)
    assert out["real"].sum(flow=True).value == pytest.approx(N_REAL)


def test_parse_datasets():
    assert parse_datasets(["a/real.root", "gen=x.root,y.root"]) == {
        "real": [Path("a/real.root")],
        "gen": [Path("x.root"), Path("y.root")],
    }
    with pytest.raises(HepvaeError, match="given twice"):
        parse_datasets(["a/real.root", "b/real.root"])
    with pytest.raises(HepvaeError, match="may only hold"):
        parse_datasets(["my set=x.root"])


def test_cli_analyze_on_local_dask_cluster_writes_histograms_plots_and_summary(
    files, tmp_path, capsys
):
    out = tmp_path / "out"
    argv = ["analyze", f"real={files['real']}", f"generated={files['gen']}", "-o", str(out)]
    assert main(argv + ["--chunksize", "150", "--local-cluster", "2"]) == 0
    printed = capsys.readouterr().out
    assert printed.index("real: 300 jets") < printed.index("generated: 200 jets")
    for spec in SPECS:
        for suffix in (".png", ".pdf"):
            assert (out / "plots" / f"{spec.name}{suffix}").stat().st_size > 1000
    assert (out / "plots" / "summary.png").exists() and (out / "plots" / "summary.pdf").exists()
    with uproot.open(out / "histograms.root") as f:
        h = f["generated/jet_pt"].to_hist()
        assert h.sum(flow=True).value == pytest.approx(N_GEN)
    summary = json.loads((out / "analysis.json").read_text())
    assert summary["reference"] == "real" and list(summary["datasets"]) == ["real", "generated"]
    assert summary["settings"]["executor"] == "dask"
    assert summary["settings"]["jet_axis"] == "stored"  # the JetNet convention by default
    assert summary["datasets"]["generated"]["n_jets"] == N_GEN
    leftovers = [p for p in out.rglob("*") if ".tmp-" in p.name]
    assert not leftovers


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["missing.root"], "missing.root: no such file"),
        (
            ["-o", "OUT", "--executor", "iterative", "--local-cluster", "2"],
            "need the dask executor",
        ),
        (["-o", "OUT", "--binning", "BINNING"], "unknown key 'jet_ptt'"),
    ],
)
def test_cli_analyze_bad_input_is_one_line(files, tmp_path, capsys, extra, message):
    binning = tmp_path / "binning.yaml"
    binning.write_text("jet_ptt: {bins: 10, start: 0, stop: 100}\n")
    names = {"BINNING": str(binning), "OUT": str(tmp_path / "out")}
    extra = [names.get(e, e) for e in extra]
    argv = ["analyze", str(files["real"]), *extra]
    if "-o" not in argv:
        argv += ["-o", names["OUT"]]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hepvae analyze: error:") and message in err[0]
    assert not (tmp_path / "out").exists()


def test_fill_per_jet_variance_from_per_jet_sums():
    import hist

    from hepvae.analysis.histograms import fill_per_jet

    h = hist.Hist(hist.axis.Regular(2, 0.0, 2.0), storage=hist.storage.Weight())
    # jet 0: two entries in bin 0 (weights 1, 2) and one in overflow; jet 1: one in bin 0
    values = np.array([0.5, 0.7, 5.0, 0.2])
    jet = np.array([0, 0, 0, 1])
    fill_per_jet(h, values, jet, 2, weights=np.array([1.0, 2.0, 1.0, 4.0]))
    np.testing.assert_allclose(h.values(flow=True), [0.0, 7.0, 0.0, 1.0])
    np.testing.assert_allclose(h.variances(flow=True), [0.0, 3.0**2 + 4.0**2, 0.0, 1.0])


def test_jet_axis_chooses_stored_or_constituent_sum_kinematics():
    from hepvae.analysis.histograms import book, fill
    from hepvae.physics.coords import leading_system

    full = random_jets(120, seed=41, max_particles=30)
    cut = ak.with_field(full, full.Part[:, :5], "Part")  # stored jet keeps all constituents
    resummed = leading_system(full, 5).Jet
    for axis, expected in (("stored", full.Jet), ("constituents", resummed)):
        hists = book()
        fill(hists, cut.Jet, cut.Part, jet_axis=axis)
        reference = book()
        reference["jet_mass"].fill(ak.to_numpy(expected.mass))
        reference["jet_pt"].fill(ak.to_numpy(expected.pt))
        for name in ("jet_mass", "jet_pt"):
            np.testing.assert_array_equal(hists[name].values(), reference[name].values())
    # the two choices differ on these jets
    a, b = book(), book()
    fill(a, cut.Jet, cut.Part, jet_axis="stored")
    fill(b, cut.Jet, cut.Part, jet_axis="constituents")
    assert not np.array_equal(a["jet_mass"].values(), b["jet_mass"].values())
    default = book()
    fill(default, cut.Jet, cut.Part)  # the stored jet, as JetNet
    for name in ("jet_mass", "pt_rel", "d2"):
        np.testing.assert_array_equal(default[name].values(), a[name].values())
    assert JetObservables().jet_axis == "stored"
    with pytest.raises(ValueError, match="jet_axis"):
        fill(book(), cut.Jet, cut.Part, jet_axis="beam")
