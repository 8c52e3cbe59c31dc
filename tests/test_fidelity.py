"""The fidelity benchmark end to end at tiny sizes: real Pythia jets, a few training steps,
generation, JetNet metrics, the results table; and its resumability."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import tomllib
import yaml

from benchmarks import fidelity

ROOT = Path(__file__).resolve().parents[1]


def tiny_config(path: Path) -> Path:
    config = yaml.safe_load((ROOT / "configs" / "default.yaml").read_text())
    config["data"]["batch_size"] = 32
    config["train"].update(epochs=1, max_steps=2, figure_every=0, progress=False)
    config["train"].update(device="cpu", precision="fp32")  # not `auto`: the same on any machine
    path.write_text(yaml.safe_dump(config))
    return path


METRICS = ("w1m", "w1p", "w1tau32", "w1d2", "w1eec", "w1mult", "w1nparticles")


def run(tmp_path: Path, capsys, *scale: str) -> tuple[dict, str]:
    argv = [*(scale or ("--scale", "tiny")), "--config", str(tmp_path / "tiny.yaml"),
            "--metrics", ",".join(METRICS), "--workdir", str(tmp_path / "work"),
            "--results-dir", str(tmp_path / "docs")]  # fmt: skip
    result = fidelity.main(argv)
    return result, capsys.readouterr().out


def ran(out: str) -> list[str]:
    """The steps a run printed as running (not skipped)."""
    prefix, suffix = "[fidelity] ", ": running"
    return [
        line[len(prefix) : -len(suffix)]
        for line in out.splitlines()
        if line.startswith(prefix) and line.endswith(suffix)
    ]


def test_fidelity_pipeline_writes_table_and_resumes(tmp_path, capsys):
    tiny_config(tmp_path / "tiny.yaml")
    first, out = run(tmp_path, capsys)
    assert "skipped" not in out and len(ran(out)) == 6 + 1 + 3 + 1 + 1 + 1 + 1
    docs = tmp_path / "docs"
    md = (docs / "results.md").read_text()
    on_disk = json.loads((docs / "results.json").read_text())
    assert on_disk == first
    # one row per class and metric, the substructure W1s included, with model, truth, ratio
    # and the targets; generated files carry the multiplicity before truncation: nparticles
    assert [(r["jet_type"], r["metric"]) for r in first["rows"]] == [
        (t, m) for t in ("g", "q", "t") for m in METRICS
    ]
    for row in first["rows"]:
        if row["metric"] != "w1mult":  # all 30 stored in both samples: 0 +- 0 may happen
            assert row["model"]["value"] > 0 and row["truth"]["error"] > 0, row
        assert isinstance(row["milestone"], bool) and isinstance(row["goal"], bool)
    assert "| t | W1 τ32 | 1e-03 |" in md and "| W1 EEC | 1e-03 ln R_L |" in md
    assert "| W1 mult. | particles |" in md
    # the summary figure per class, generated vs held-out, linked from the table
    for jet_type in ("g", "q", "t"):
        figure = docs / f"fidelity_{jet_type}.png"
        assert figure.stat().st_size > 20_000 and f"]({figure.name})" in md
    n_train, n_test, n_gen = fidelity.SCALES["tiny"].sizes
    assert first["sizes"]["train_per_class"] == n_train
    assert first["sizes"]["n_per_sample"] == {t: min(n_test // 2, n_gen) for t in "gqt"}
    assert first["seeds"]["train"] != first["seeds"]["test"]
    assert first["seeds"]["model"] == 0 and ", training seed 0" in md  # the config's train.seed
    assert first["training"]["steps"] == 2 and first["hardware"]["cpu_threads"] >= 1
    assert first["scale"] == "tiny" and not first["full_scale"]
    assert "Reduced-size run" in md and first["command"] in md
    sampling = first["sampling"]  # µs/jet of torch sampling, printed next to the fidelity
    assert sampling["us_per_jet"] > 0 and sampling["n"] == fidelity.SAMPLING_JETS
    assert f"- sampling: {sampling['us_per_jet']:g} µs/jet" in md and "µs/jet" in out
    assert first["jet_axis"] == "stored" and fidelity.AXIS_TEXT["stored"] in md
    table = [line for line in md.splitlines() if line.startswith("|")]
    assert len(table) == 2 + len(first["rows"])  # header, rule, rows
    assert table[0].split("|")[1:-1] == [f" {c} " for c in fidelity.COLUMNS]

    # a second run skips every step and gives the same table
    (docs / "results.md").unlink()
    (docs / "results.json").unlink()
    second, out = run(tmp_path, capsys)
    assert ran(out) == ["table"]
    # simulate, train, generate, sampling speed, evaluate, figures
    assert out.count("done earlier, skipped") == 6 + 1 + 3 + 1 + 1 + 1
    assert second == first and (docs / "results.md").read_text() == md

    # an interrupted training run continues from last.pt; the steps after it are redone
    state_path = tmp_path / "work" / "state.json"
    state = json.loads(state_path.read_text())
    state["steps"]["train"]["complete"] = False
    state_path.write_text(json.dumps(state))
    third, out = run(tmp_path, capsys)
    assert "train: resuming the interrupted run" in out
    assert ran(out) == [
        "train", "generate g", "generate q", "generate t", "sampling speed", "evaluate",
        "figures", "table",
    ]  # fmt: skip
    assert out.count("done earlier, skipped") == 6
    assert third["training"]["resumed"] and third["training"]["steps"] >= 2


def test_pixi_task_runs_the_benchmark_at_full_size():
    task = tomllib.loads((ROOT / "pixi.toml").read_text())["tasks"]["fidelity"]
    words = shlex.split(task["cmd"])
    assert words[1] == "benchmarks/fidelity.py" and (ROOT / words[1]).is_file()
    assert words[words.index("--scale") + 1] == "full"
    assert fidelity.SCALES["full"].sizes == (100_000, 50_000, 50_000)


def test_budget_scale_plan():
    """The equal-budget scale: 40k training tops, a disjoint 12k held-out sample (another
    seed), the default config for 60 minutes on the CPU (time, not epochs), 12k generated,
    written beside the full-size table."""
    budget = fidelity.SCALES["budget"]
    assert budget.sizes == (40_000, 12_000, 12_000) and budget.jet_types == ("t",)
    assert fidelity.TRAIN_SEED != fidelity.TEST_SEED
    args = fidelity.parse_args(["--scale", "budget"])
    assert args.workdir == Path("outputs/fidelity_budget") and args.jet_axis == "stored"
    config = fidelity.train_config(args.config, [Path("train_t.root")], budget, None)
    default = fidelity.train_config(args.config, [], fidelity.SCALES["full"], None)
    assert config.train.time_limit_minutes == 60 and config.train.device == "cpu"
    # so many epochs that the time limit ends training; the model is the default one
    assert config.train.epochs * 36_000 / 5_000 > 60 * 60
    assert config.model == default.model and config.loss == default.loss
    assert config.data.default_jet_types == ["t"] and config.data.files == ["train_t.root"]
    assert fidelity.train_config(args.config, [], budget, 5.0).train.time_limit_minutes == 5.0
    # --train-seed: a second training run on the same data, all else equal
    seeded = fidelity.parse_args(["--scale", "budget", "--train-seed", "3"])
    assert args.train_seed is None and seeded.train_seed == 3
    other = fidelity.train_config(args.config, [Path("train_t.root")], budget, None, 3)
    assert other.train.seed == 3 != config.train.seed
    assert other.model == config.model and other.data == config.data
    assert fidelity.figure_names(budget) == ["fidelity_budget_t.png"]


def test_budget_scale_at_tiny_size(tmp_path, capsys):
    """The budget scale end to end at the tiny test's sizes: tops only, its own table and
    figure beside (not over) the full-size ones, a held-out sample disjoint from training."""
    import awkward as ak

    from hepvae.data.schema import read_jets

    tiny_config(tmp_path / "tiny.yaml")
    n_train, n_test, n_gen = fidelity.SCALES["tiny"].sizes
    sizes = ["--train-per-class", str(n_train), "--test-per-class", str(n_test),
             "--generate-per-class", str(n_gen)]  # fmt: skip
    result, out = run(tmp_path, capsys, "--scale", "budget", *sizes)
    assert ran(out)[:3] == ["simulate train t", "simulate test t", "train"]
    docs = tmp_path / "docs"
    assert sorted(p.name for p in docs.iterdir()) == [
        "fidelity_budget_t.png", "results_budget.json", "results_budget.md"
    ]  # fmt: skip
    assert {row["jet_type"] for row in result["rows"]} == {"t"}
    assert result["time_limit_minutes"] == 60 and result["training"]["steps"] == 2
    assert result["training"]["precision"] == "fp32"  # as the config asks
    assert result["sampling"]["us_per_jet"] > 0 and result["scale"] == "custom"
    data = tmp_path / "work" / "data"
    train_pt = ak.to_numpy(read_jets(data / "train_t.root").Jet.pt)
    test_pt = ak.to_numpy(read_jets(data / "test_t.root").Jet.pt)
    assert len(test_pt) == n_test and not set(train_pt) & set(test_pt)
