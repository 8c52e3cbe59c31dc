"""The ablation benchmark at tiny size: real held-out Pythia jets, a trained checkpoint,
JetNet metrics for truth, reconstructed and generated samples."""

from __future__ import annotations

import json

import pytest

from benchmarks import ablation
from hepvae.errors import HepvaeError
from hepvae.train.config import Config
from tests.sampler_fixtures import tiny_checkpoint


def test_ablation_compares_a_checkpoint_with_the_truth_baseline(tmp_path, tmp_path_factory):
    checkpoint = tiny_checkpoint(tmp_path_factory)
    out = tmp_path / "ablations.md"
    argv = ["--checkpoint", f"tiny={checkpoint}", "--n", "40", "--metrics", "w1m,w1p",
            "--temperatures", "1,0.5", "--workdir", str(tmp_path / "work"), "-o", str(out)]  # fmt: skip
    result = ablation.main(argv)
    rows = result["rows"]
    assert [(r["class"], r["variant"], r["sample"]) for r in rows] == [
        (t, "Pythia", "truth") for t in "gqt"
    ] + [(t, "tiny", s) for t in "gqt" for s in ("reconstructed", "generated", "generated T=0.5")]
    for row in rows:
        assert row["w1m"][0] > 0 and row["w1p"][1] >= 0
        assert all(row[m] > 0 for m in ("tau21", "tau32", "eec")) and 0 <= row["soft"] < 1
    # the barely trained model has no prongs: its tau32 is far from Pythia's
    truth32 = {r["class"]: r["tau32"] for r in rows if r["sample"] == "truth"}
    assert all(r["tau32"] > truth32[r["class"]] for r in rows if r["sample"] == "generated")
    # a barely trained model is far worse than Pythia against Pythia
    truth = {r["class"]: r["w1p"][0] for r in rows if r["sample"] == "truth"}
    assert all(r["w1p"][0] > truth[r["class"]] for r in rows if r["sample"] == "generated")
    by_sample = {(r["class"], r["sample"]): r["w1p"][0] for r in rows}
    assert all(by_sample[t, "generated"] != by_sample[t, "generated T=0.5"] for t in "gqt")
    table = [line for line in out.read_text().splitlines() if line.startswith("|")]
    assert len(table) == 2 + len(rows)
    assert json.loads(out.with_suffix(".json").read_text())["rows"] == rows
    assert "Produced by" in out.read_text() and result["command"] in out.read_text()

    # the held-out jets are simulated once
    held = sorted((tmp_path / "work").glob("heldout_*.root"))
    stamps = [p.stat().st_mtime_ns for p in held]
    ablation.main(argv[:-2])
    assert len(held) == 3 and [p.stat().st_mtime_ns for p in held] == stamps


def test_overrides_are_validated():
    config = ablation.override(Config(), ["loss.set_loss=chamfer", "train.lr=0.001"])
    assert config.loss.set_loss == "chamfer" and config.train.lr == 0.001
    with pytest.raises(HepvaeError, match="loss"):
        ablation.override(Config(), ["loss.no_such_key=1"])
    with pytest.raises(HepvaeError, match="SECTION.KEY=VALUE"):
        ablation.override(Config(), ["set_loss"])
    with pytest.raises(HepvaeError, match="--temperatures"):
        ablation.main(["--checkpoint", "a=b.pt", "--temperatures", "0"])
    with pytest.raises(HepvaeError, match="--checkpoint"):
        ablation.main(["--checkpoint", "no-name-given"])
