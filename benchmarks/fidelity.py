"""Fidelity benchmark: the single source of the README's results table.

    python benchmarks/fidelity.py --scale full            # pixi run fidelity
    python benchmarks/fidelity.py --scale budget          # equal budget: 40k tops, 60 min CPU
    python benchmarks/fidelity.py --scale small --max-train-minutes 8

Steps, each resumable (its outputs are written atomically, and the step is skipped when they
exist and the settings recorded in ``WORKDIR/state.json`` match):

1. simulate 30-particle g, q and t jets with Pythia 8 + FastJet: a training set (which holds
   the validation split) with seed ``TRAIN_SEED`` and a held-out test set with seed
   ``TEST_SEED``; different seeds give different Pythia seeds for every chunk, so the two
   sets are disjoint;
2. train one conditional model for the three classes with ``--config`` (an interrupted run
   continues from its ``last.pt``);
3. generate jets per class from the best checkpoint, time the torch sampling of
   ``SAMPLING_JETS`` jets (µs/jet, printed next to the fidelity), and evaluate them against the held-out
   set with :func:`hepvae.evaluate.evaluate` (JetNet metrics and substructure W1s), whose
   truth-vs-truth baseline compares two disjoint halves of the held-out jets (so each sample
   holds half the test jets);
4. draw a summary figure per class, generated vs held-out jets (``docs/fidelity_<class>.png``:
   jet mass, τ21, τ32, D2, EEC, multiplicity, pT_rel, with ratio panels);
5. write the table as markdown and JSON (``docs/results.md``, ``docs/results.json``).

The ``budget`` scale is the equal-budget comparison: top jets only, 40,000 for training
(validation split included) and a disjoint 12,000 held out, the config's model trained on the
CPU for 60 minutes (the time limit ends training, not the epoch count), 12,000 generated.
Its work folder, table and figures carry the suffix ``_budget`` (``docs/results_budget.md``),
so that it sits beside the full-size run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
JET_TYPES = ("g", "q", "t")
N_PARTICLES = 30
#: simulation seeds of the two data sets; different seeds make them disjoint
TRAIN_SEED = 1
TEST_SEED = 2
GENERATE_SEED = 0
EVALUATE_SEED = 0
#: jets timed for the sampling speed (µs/jet)
SAMPLING_JETS = 1_000


@dataclass(frozen=True)
class Scale:
    """A preset run: jets per class for training (validation split included), held out and
    generated; the classes; optional training overrides (time limit in minutes, epochs,
    device); the suffix of its work folder, table and figures (``results<suffix>.md``)."""

    train: int
    test: int
    generated: int
    jet_types: tuple[str, ...] = JET_TYPES
    train_minutes: float | None = None
    epochs: int | None = None
    device: str | None = None
    suffix: str = ""

    @property
    def sizes(self) -> tuple[int, int, int]:
        return self.train, self.test, self.generated


SCALES = {
    "full": Scale(100_000, 50_000, 50_000),
    # equal budget: tops only, 60 minutes on the CPU; epochs high so that the time limit ends it
    "budget": Scale(
        40_000,
        12_000,
        12_000,
        jet_types=("t",),
        train_minutes=60.0,
        epochs=100_000,
        device="cpu",
        suffix="_budget",
    ),  # fmt: skip
    "small": Scale(3_000, 2_000, 1_000),
    "tiny": Scale(150, 240, 120),
}
FULL = SCALES["full"].sizes
#: how the table describes ``--jet-axis``
AXIS_TEXT = {
    "constituents": "JetNet coordinates of the leading 30 constituents relative to their own "
    "sum, for real and generated jets alike (the jet the generator emits).",
    "stored": "JetNet coordinates relative to the stored jets (the full jet: real jets hold all "
    "their constituents; the generator emits the full jet and its leading 30).",
}
#: observables of the summary figure per class (names of hepvae.analysis.histograms.SPECS)
FIGURE_OBSERVABLES = ("jet_mass", "tau21", "tau32", "d2", "eec2", "multiplicity", "pt_rel")
#: columns of the markdown table
COLUMNS = ("class", "metric", "unit", "model", "truth", "ratio", "pull", "milestone", "goal")


def log(message: str) -> None:
    print(f"[fidelity] {message}", flush=True)


def digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


class State:
    """``state.json``: per step its settings, outputs and seconds; written atomically."""

    def __init__(self, path: Path):
        self.path = path
        self.steps: dict[str, dict] = {}
        self.used: list[str] = []  # the steps of this run, in order
        if path.is_file():
            self.steps = json.loads(path.read_text()).get("steps", {})

    def done(self, name: str, settings: dict) -> bool:
        entry = self.steps.get(name)
        return bool(
            entry
            and entry.get("complete")
            and entry["settings"] == settings
            and all(Path(p).exists() for p in entry["outputs"])
        )

    def record(self, name: str, settings: dict, outputs: list[Path], **extra: Any) -> None:
        self.steps[name] = {
            "settings": settings,
            "outputs": [str(p) for p in outputs],
            **extra,
        }
        from hepvae.atomic import write_json

        write_json(self.path, {"steps": self.steps})

    def run(self, name: str, settings: dict, outputs: list[Path], work: Callable[[], Any]) -> dict:
        """Run ``work`` unless the step is done with these settings; return its entry."""
        self.used.append(name)
        if self.done(name, settings):
            log(f"{name}: done earlier, skipped")
            return self.steps[name]
        log(f"{name}: running")
        tick = time.perf_counter()
        out = work()
        extra = out if isinstance(out, dict) else {}
        seconds = round(time.perf_counter() - tick, 1)
        self.record(name, settings, outputs, complete=True, seconds=seconds, **extra)
        log(f"{name}: finished in {seconds:.1f} s")
        return self.steps[name]


# --- steps ------------------------------------------------------------------------------
def simulate(
    state: State, data_dir: Path, split: str, n: int, seed: int, jet_types: tuple[str, ...]
) -> list[Path]:
    from hepvae.data.simulate import simulate_to_file

    paths = []
    for jet_type in jet_types:
        path = data_dir / f"{split}_{jet_type}.root"
        settings = {"jet_type": jet_type, "n_jets": n, "n_particles": N_PARTICLES, "seed": seed}
        state.run(
            f"simulate {split} {jet_type}",
            settings,
            [path],
            partial(simulate_to_file, path, jet_type, n, N_PARTICLES, seed=seed),
        )
        paths.append(path)
    return paths


def train_config(
    path: Path,
    files: list[Path],
    scale: Scale,
    max_minutes: float | None,
    seed: int | None = None,
):
    """The config at ``path`` for these training files, with the scale's overrides;
    ``max_minutes`` (``--max-train-minutes``) takes precedence over the scale's time limit,
    ``seed`` (``--train-seed``) over the config's ``train.seed``."""
    from hepvae.train.config import load_train_config

    config = load_train_config(path)
    config.data.files = [str(p) for p in files]
    config.data.default_jet_types = list(scale.jet_types)
    minutes = max_minutes if max_minutes is not None else scale.train_minutes
    if minutes is not None:
        config.train.time_limit_minutes = minutes
    if scale.epochs is not None:
        config.train.epochs = scale.epochs
    if scale.device is not None:
        config.train.device = scale.device
    if seed is not None:
        config.train.seed = seed
    return config


def train(state: State, run_dir: Path, config, upstream: str) -> Path:
    """Train (or continue an interrupted run from ``last.pt``); return the best checkpoint."""
    from hepvae.train.run import train as run_training

    settings = {"config": config.to_dict(), "data": upstream}
    best, last = run_dir / "best.pt", run_dir / "last.pt"
    name = "train"
    state.used.append(name)
    if state.done(name, settings):
        log(f"{name}: done earlier, skipped")
        return Path(state.steps[name]["checkpoint"])
    entry = state.steps.get(name, {})
    resume = None
    spent = 0.0  # seconds of earlier, interrupted attempts with these settings
    if entry.get("settings") == settings and last.is_file():
        resume = last
        spent = entry.get("seconds_before", 0.0) + max(
            0.0, last.stat().st_mtime - entry.get("attempt_started", last.stat().st_mtime)
        )
        log(f"{name}: resuming the interrupted run from {last} ({spent:.0f} s spent before)")
    elif run_dir.exists():
        log(f"{name}: settings changed or no checkpoint: starting afresh in {run_dir}")
        shutil.rmtree(run_dir)
    limit = config.train.time_limit_minutes
    if limit is not None and spent:
        config.train.time_limit_minutes = max(limit - spent / 60, 0.05)
    state.record(name, settings, [], complete=False, attempt_started=time.time(),
                 seconds_before=spent)  # fmt: skip
    log(f"{name}: running")
    tick = time.perf_counter()
    result = run_training(config, run_dir, run_dir / "logs", resume=resume)
    seconds = round(spent + time.perf_counter() - tick, 1)
    checkpoint = best if best.is_file() else last
    state.record(
        name,
        settings,
        [checkpoint],
        complete=True,
        seconds=seconds,
        checkpoint=str(checkpoint),
        steps=result.steps,
        epochs=result.epochs,
        jets_per_second=round(result.jets_per_second, 1),
        best_val=result.best_val,
        precision=result.precision,
        resumed=resume is not None,
        commit=commit(),  # the code that trained the model
        finished=time.time(),  # identifies this training run for the steps after it
    )
    log(f"{name}: finished in {seconds:.1f} s ({result.steps} steps, {result.epochs} epochs)")
    return checkpoint


def generate(
    state: State,
    checkpoint: Path,
    out_dir: Path,
    n: int,
    device: str,
    upstream: str,
    jet_types: tuple[str, ...],
) -> list[Path]:
    """``n`` jets of each class, one file per class (seed ``GENERATE_SEED`` + the class's
    index in ``JET_TYPES``, whichever classes a scale has)."""
    from hepvae.generate import generate as run_generation

    paths = []
    for jet_type in jet_types:
        path = out_dir / f"generated_{jet_type}.root"
        seed = GENERATE_SEED + JET_TYPES.index(jet_type)
        settings = {"n": n, "seed": seed, "checkpoint": str(checkpoint), "train": upstream}
        state.run(
            f"generate {jet_type}",
            settings,
            [path],
            partial(run_generation, checkpoint, path, n, jet_type, device=device, seed=seed),
        )
        paths.append(path)
    return paths


def sampling_speed(
    state: State, checkpoint: Path, jet_type: str, device: str, upstream: str
) -> dict:
    """Wall time of sampling ``SAMPLING_JETS`` jets in torch (``HyperVAE.sample``, one batch,
    after a warm-up), best of three: ``{"us_per_jet", "n", "jet_type", "device", "threads"}``."""
    import torch

    from hepvae.data.schema import label_of
    from hepvae.generate import load_generator

    def work() -> dict:
        vae = load_generator(checkpoint, device).vae
        label = label_of(jet_type)
        vae.sample(64, label)  # warm-up
        times = []
        for _ in range(3):
            tick = time.perf_counter()
            vae.sample(SAMPLING_JETS, label)
            if device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - tick)
        us = 1e6 * min(times) / SAMPLING_JETS
        log(f"sampling: {us:.0f} µs/jet ({SAMPLING_JETS} {jet_type} jets, torch, {device})")
        return {"us_per_jet": round(us, 1), "n": SAMPLING_JETS, "jet_type": jet_type,
                "device": device, "threads": torch.get_num_threads()}  # fmt: skip

    settings = {"checkpoint": str(checkpoint), "train": upstream, "device": device}
    return state.run("sampling speed", settings, [], work)


def evaluate(
    state: State,
    test: list[Path],
    generated: list[Path],
    out: Path,
    metrics,
    upstream: str,
    jet_axis: str,
) -> dict:
    from hepvae.atomic import write_json
    from hepvae.evaluate import evaluate as run_evaluation

    settings = {"metrics": list(metrics), "seed": EVALUATE_SEED, "inputs": upstream,
                "jet_axis": jet_axis}  # fmt: skip

    def work() -> None:
        result = run_evaluation(
            test, generated, n_particles=N_PARTICLES, seed=EVALUATE_SEED, metrics=metrics,
            progress=True, jet_axis=jet_axis,
        )  # fmt: skip
        write_json(out, result)

    state.run("evaluate", settings, [out], work)
    return json.loads(out.read_text())


def figure_names(scale: Scale) -> list[str]:
    """``fidelity<suffix>_<class>.png`` for each class of the scale."""
    return [f"fidelity{scale.suffix}_{jet_type}.png" for jet_type in scale.jet_types]


def figures(
    state: State, test: list[Path], generated: list[Path], out_dir: Path, upstream: str,
    jet_axis: str, scale: Scale,
) -> list[Path]:  # fmt: skip
    """``out_dir/fidelity<suffix>_<class>.png``: generated vs held-out jets of each class."""
    paths = [out_dir / name for name in figure_names(scale)]

    def work() -> None:
        from hepvae.analysis.histograms import SPEC_BY_NAME, book, fill
        from hepvae.analysis.plots import summary_sheet
        from hepvae.data.schema import read_jets

        specs = [SPEC_BY_NAME[name] for name in FIGURE_OBSERVABLES]
        for real_path, gen_path, path in zip(test, generated, paths):
            result = {}
            for name, file in (("held-out", real_path), ("generated", gen_path)):
                jets, hists = read_jets(file), book()
                fill(hists, jets.Jet, jets.Part, jet_axis=jet_axis)
                result[name] = {"n_jets": len(jets), "hists": hists}
            summary_sheet(result, path.with_suffix(""), "held-out", specs, ncols=4,
                          suffixes=(".png",))  # fmt: skip

    state.run("figures", {"inputs": upstream, "jet_axis": jet_axis}, paths, work)
    return paths


# --- the table --------------------------------------------------------------------------
def hardware() -> dict:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu, "cpu_threads": threads, "torch_threads": torch.get_num_threads(),
            "gpu": gpu, "torch": torch.__version__, "python": platform.python_version()}  # fmt: skip


def commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        head = git("rev-parse", "HEAD")
        # the run's own tables and figures in docs/ do not make the code uncommitted
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!docs")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+uncommitted changes" if dirty else "")


def milestone(name: str, entry: dict) -> bool:
    """The issue's milestone: within 3x the truth value; FPD and KPD within 3 sigma of the
    truth value (FPD: or below 0.3e-3, whichever is larger)."""
    model, truth = entry["model"]["value"], entry["truth"]["value"]
    if name in ("fpd", "kpd"):
        pull = entry["pull"]
        return (pull is not None and pull <= 3) or (name == "fpd" and model < 0.3e-3)
    return model <= 3 * truth if truth > 0 else model == 0


def goal(entry: dict) -> bool:
    """The issue's goal: the model value within the truth value's error band."""
    return abs(entry["model"]["value"] - entry["truth"]["value"]) <= entry["truth"]["error"]


def results(metrics: dict, state: State, args, sizes: tuple[int, int, int]) -> dict:
    scale = SCALES[args.scale]
    train_entry = state.steps["train"]
    train_settings = train_entry["settings"]["config"]["train"]
    speed = state.steps["sampling speed"]
    rows = []
    for jet_type, block in metrics["jet_types"].items():
        for name, entry in block["metrics"].items():
            rows.append({"jet_type": jet_type, "metric": name, "unit": metrics["units"][name],
                         "model": entry["model"], "truth": entry["truth"],
                         "ratio": entry.get("ratio"), "ratio_error": entry.get("ratio_error"),
                         "pull": entry.get("pull"), "milestone": milestone(name, entry),
                         "goal": goal(entry)})  # fmt: skip
    return {
        "command": args.command,
        "scale": args.scale if sizes == scale.sizes else "custom",
        "full_scale": sizes == FULL,
        "note": args.note,
        "jet_axis": args.jet_axis,
        "config": str(args.config),
        "config_digest": digest(train_entry["settings"]["config"]),
        "commit": train_entry.get("commit", commit()),
        "evaluation_commit": commit(),
        "hardware": hardware(),
        "sizes": {
            "train_per_class": sizes[0],
            "test_per_class": sizes[1],
            "generated_per_class": sizes[2],
            "n_per_sample": {t: b["n_per_sample"] for t, b in metrics["jet_types"].items()},
            "validation_fraction": train_entry["settings"]["config"]["data"]["val_fraction"],
        },
        "seeds": {"train": TRAIN_SEED, "test": TEST_SEED, "model": train_settings["seed"],
                  "generate": GENERATE_SEED, "evaluate": EVALUATE_SEED},  # fmt: skip
        "training": {k: train_entry.get(k) for k in
                     ("seconds", "steps", "epochs", "jets_per_second", "best_val", "precision",
                      "resumed")},
        "time_limit_minutes": train_settings.get("time_limit_minutes"),
        "sampling": {k: speed.get(k) for k in ("us_per_jet", "n", "jet_type", "device", "threads")},
        "step_seconds": {
            name: state.steps[name].get("seconds") for name in state.used if name != "table"
        },
        "method": metrics["method"],
        "figures": figure_names(scale),
        "rows": rows,
    }  # fmt: skip


def markdown(res: dict) -> str:
    from hepvae.evaluate.report import NAMES, value_error
    from hepvae.evaluate.substructure import SUBSTRUCTURE_UNITS

    sizes, hw, tr = res["sizes"], res["hardware"], res["training"]
    lines = ["# Fidelity results", ""]
    if res["scale"] == "budget":
        lines += [
            "> **Equal-budget run (scale: budget):** top jets only, "
            f"{sizes['train_per_class']:,} for training, the config's model trained on the CPU "
            f"for {res['time_limit_minutes']:g} minutes (time limit, not epochs). The full "
            f"benchmark uses {FULL[0]:,} training jets per class (`docs/results.md`).",
            "",
        ]
    elif not res["full_scale"]:
        f = FULL
        lines += [
            f"> **Reduced-size run (scale: {res['scale']}).** The full benchmark uses {f[0]:,} "
            f"training, {f[1]:,} held-out and {f[2]:,} generated jets per class "
            "(`pixi run fidelity`); these numbers are not that.",
            "",
        ]
    if res["note"]:
        lines += [f"> {res['note']}", ""]
    lines += [
        "Produced by (from the repository root):",
        "",
        f"    {res['command']}",
        "",
        f"- commit: `{res['commit']}` (trained)"
        + (
            ""
            if res["evaluation_commit"] == res["commit"]
            else f", `{res['evaluation_commit']}` (generated jets evaluated)"
        )
        + f"; config: `{res['config']}` (digest {res['config_digest']})",
        f"- hardware: {hw['cpu']}, {hw['cpu_threads']} CPU threads (torch {hw['torch_threads']})"
        + (f", GPU {hw['gpu']}" if hw["gpu"] else ", no GPU"),
        f"- jets per class: {sizes['train_per_class']:,} training (incl. "
        f"{sizes['validation_fraction']:.0%} validation, seed {res['seeds']['train']}), "
        f"{sizes['test_per_class']:,} held-out (seed {res['seeds']['test']}), "
        f"{sizes['generated_per_class']:,} generated; jets per metric sample: "
        + ", ".join(f"{t} {n:,}" for t, n in sizes["n_per_sample"].items()),
        f"- training: {tr['seconds']:.0f} s, {tr['steps']} steps, {tr['epochs']} epochs, "
        f"{tr['jets_per_second']} jets/s"
        + (f", {tr['precision']}" if tr.get("precision") else "")
        + f", training seed {res['seeds']['model']}",
        f"- sampling: {res['sampling']['us_per_jet']:g} µs/jet ({res['sampling']['n']:,} "
        f"{res['sampling']['jet_type']} jets in one batch, torch on {res['sampling']['device']}, "
        f"{res['sampling']['threads']} threads)",
        "- step times [s]: "
        + ", ".join(f"{k} {v:.0f}" for k, v in res["step_seconds"].items() if v is not None),
        "",
        "Model: metric(held-out half A, generated); truth: metric(half A, half B). "
        + AXIS_TEXT[res["jet_axis"]]
        + " Values in the units shown. Milestone: within 3x truth (FPD, KPD: pull <= 3, FPD also "
        "passes below 0.3e-3); goal: within the truth value's error.",
        "",
        "Substructure W1s (from the leading 30 constituents, independent of the jet axis): "
        "τ21, τ32 (N-subjettiness, R0 = 0.8, β = 1), D2 (β = 1), the pT-weighted 2-point EEC "
        "in ln R_L, the stored multiplicity and, where both samples carry it, Jet_nparticles "
        "(multiplicity before truncation); bootstrap errors as for W1M.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for row in res["rows"]:
        unit = row["unit"]
        model = value_error(row["model"]["value"] / unit, row["model"]["error"] / unit)
        truth = value_error(row["truth"]["value"] / unit, row["truth"]["error"] / unit)
        ratio = "—" if row["ratio"] is None else value_error(row["ratio"], row["ratio_error"])
        pull = "—" if row["pull"] is None else f"{row['pull']:.1f}"
        scale_text = "" if unit == 1 else f"{unit:.0e}"  # multiplicities: plain particles
        unit_text = " ".join(t for t in (scale_text, SUBSTRUCTURE_UNITS.get(row["metric"])) if t)
        lines.append(
            f"| {row['jet_type']} | {NAMES[row['metric']]} | {unit_text} | {model} | {truth} | "
            f"{ratio} | {pull} | {'yes' if row['milestone'] else 'no'} | "
            f"{'yes' if row['goal'] else 'no'} |"
        )
    figures = res.get("figures", [])
    if figures:
        lines += ["", "Generated vs held-out jets per class (`" + "`, `".join(figures) + "`):", ""]
        lines += [f"![{Path(f).stem}]({f})" for f in figures]
    return "\n".join(lines) + "\n"


def write_table(state: State, metrics: dict, args, sizes, results_dir: Path, upstream: str):
    from hepvae.atomic import atomic_path, ensure_dir, write_json

    suffix = SCALES[args.scale].suffix
    md, js = results_dir / f"results{suffix}.md", results_dir / f"results{suffix}.json"
    settings = {"evaluate": upstream, "command": args.command, "note": args.note}

    def work() -> None:
        res = results(metrics, state, args, sizes)
        ensure_dir(results_dir)
        write_json(js, res)
        with atomic_path(md) as tmp:
            tmp.write_text(markdown(res))

    state.run("table", settings, [md, js], work)
    return md, js


# --- driver -----------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from hepvae.commands.evaluate import METRIC_NAMES

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", choices=sorted(SCALES), default="full",
                   help="preset sizes (train, test, generated per class): "
                   + "; ".join(f"{k} {v.sizes}" for k, v in SCALES.items())
                   + "; budget: tops only, 60 minutes of CPU training")  # fmt: skip
    p.add_argument("--train-per-class", type=int, help="training jets per class (with val)")
    p.add_argument("--test-per-class", type=int, help="held-out jets per class (halved: A, B)")
    p.add_argument("--generate-per-class", type=int, help="generated jets per class")
    p.add_argument("--config", type=Path, default=Path("configs/default.yaml"))
    p.add_argument("--workdir", type=Path,
                   help="work folder (default: outputs/fidelity<suffix of the scale>)")  # fmt: skip
    p.add_argument("--results-dir", type=Path, default=ROOT / "docs",
                   help="where results<suffix>.md and .json go (default: docs/)")  # fmt: skip
    p.add_argument("--max-train-minutes", type=float,
                   help="training time limit (train.time_limit_minutes; budget: 60)")  # fmt: skip
    p.add_argument("--train-seed", type=int,
                   help="seed of the model's initialization and batches (train.seed; default: "
                   "the config's), for a second training run on the same data")  # fmt: skip
    p.add_argument("--metrics", default=",".join(METRIC_NAMES),
                   help="comma-separated subset of " + ",".join(METRIC_NAMES) + " (default: all)")  # fmt: skip
    p.add_argument("--note", default="", help="a line added to the markdown table")
    p.add_argument("--jet-axis", choices=tuple(AXIS_TEXT), default="stored",
                   help="JetNet coordinates relative to the stored jet (default, the JetNet "
                   "convention) or to the sum of the leading 30 constituents (see hepvae "
                   "evaluate --jet-axis)")  # fmt: skip
    args = p.parse_args(argv)
    if args.workdir is None:
        args.workdir = Path(f"outputs/fidelity{SCALES[args.scale].suffix}")
    args.command = shlex.join(["python", "benchmarks/fidelity.py", *(argv or sys.argv[1:])])
    return args


def main(argv: list[str] | None = None) -> dict:
    from hepvae.errors import HepvaeError
    from hepvae.train.loop import resolve_device

    args = parse_args(argv)
    scale = SCALES[args.scale]
    sizes = (
        args.train_per_class or scale.train,
        args.test_per_class or scale.test,
        args.generate_per_class or scale.generated,
    )
    if min(sizes) <= 0:
        raise HepvaeError("jets per class must be positive")
    metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    state = State(work / "state.json")
    log(f"workdir {work}; jets per class: train {sizes[0]}, test {sizes[1]}, "
        f"generated {sizes[2]}")  # fmt: skip

    types = scale.jet_types
    train_files = simulate(state, work / "data", "train", sizes[0], TRAIN_SEED, types)
    test_files = simulate(state, work / "data", "test", sizes[1], TEST_SEED, types)
    data_key = digest([state.steps[f"simulate train {t}"]["settings"] for t in types])
    test_key = digest([state.steps[f"simulate test {t}"]["settings"] for t in types])

    config = train_config(args.config, train_files, scale, args.max_train_minutes, args.train_seed)
    checkpoint = train(state, work / "run", config, data_key)
    train_key = digest([state.steps["train"]["settings"], state.steps["train"]["finished"]])

    device = resolve_device(config.train.device).type
    generated = generate(state, checkpoint, work / "generated", sizes[2], device, train_key, types)
    gen_key = digest([state.steps[f"generate {t}"]["settings"] for t in types] + [test_key])
    sampling_speed(state, checkpoint, types[-1], device, train_key)

    result = evaluate(
        state, test_files, generated, work / "metrics.json", metrics, gen_key, args.jet_axis
    )
    figures(state, test_files, generated, args.results_dir, gen_key, args.jet_axis, scale)
    eval_key = digest([state.steps["evaluate"]["settings"]])
    md, js = write_table(state, result, args, sizes, args.results_dir, eval_key)
    log(f"results: {md} and {js}")
    print(Path(md).read_text(), flush=True)
    return json.loads(Path(js).read_text())


if __name__ == "__main__":
    from hepvae.errors import HepvaeError

    try:
        main()
    except HepvaeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
