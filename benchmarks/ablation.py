"""Ablations of the fidelity levers: each variant's reconstructed and generated jets against
held-out Pythia jets, by the JetNet metrics, beside the truth-vs-truth value.

    # train the variants (default config plus overrides, same data, same time) and compare
    python benchmarks/ablation.py --train chamfer=loss.set_loss=chamfer \\
        --train hungarian=loss.set_loss=hungarian -o docs/ablations.md
    # or compare checkpoints trained elsewhere
    python benchmarks/ablation.py --checkpoint chamfer=runs/a/best.pt --checkpoint b=runs/b/best.pt

Per class, the held-out jets (seed ``HELDOUT_SEED``, disjoint from the default training data)
are split into halves A and B of ``--n`` jets. Rows: ``truth`` = metric(A, B); per variant
``reconstructed`` = metric(A, decoded posterior means of B, multiplicity from the head) and
``generated`` = metric(A, ``--n`` jets sampled from the prior, at each ``--temperatures``). Reconstruction isolates the
decoder and the set loss; the gap from reconstructed to generated is the prior's.
Trained variants are reused when ``WORKDIR/NAME/done.json`` records the same settings.

Beside the JetNet metrics every row carries substructure distances (×1e-3) computed on the same
JetNet arrays (massless constituents, pT_rel weights): W1 of τ21 and τ32 (N-subjettiness,
β = 1, R0 = 0.8), W1 of the pT-weighted 2-point EEC in ln R_L, and the fraction of
constituents with pT_rel < 5e-3 (the soft tail). Trained variants also record their steps,
minutes and the weighted validation loss parts of their last epoch (which terms dominate).

    # the prong ablation: top jets only, own training and held-out files, true multiplicity
    python benchmarks/ablation.py --classes t --heldout t=data/top_test.root --n 1000 \\
        --true-multiplicity --train base=data.files=[data/top_train.root] -o docs/x.md
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hepvae.atomic import atomic_path, write_json  # noqa: E402
from hepvae.config import from_dict  # noqa: E402
from hepvae.data.schema import label_of, read_jets  # noqa: E402
from hepvae.errors import HepvaeError  # noqa: E402
from hepvae.evaluate.metrics import METRICS, compute_metrics, sample_sizes  # noqa: E402
from hepvae.physics.coords import JET_AXES, to_jetnet  # noqa: E402
from hepvae.sampling import padded_to_jets  # noqa: E402
from hepvae.train.config import Config, load_train_config  # noqa: E402

HELDOUT_SEED = 100
CLASSES = ("g", "q", "t")
UNITS = {"w1m": 1e-3, "w1p": 1e-3, "w1efp": 1e-5, "fpd": 1e-3, "kpd": 1e-3}
#: substructure columns (see the module docstring), shown ×1e-3
SUBSTRUCTURE = ("tau21", "tau32", "eec", "soft")
SOFT_PT_REL = 5e-3


def log(message: str) -> None:
    print(f"[ablation] {message}", flush=True)


def override(config: Config, assignments: list[str]) -> Config:
    """``config`` with ``section.key=value`` assignments (YAML values); unknown keys are errors."""
    data = config.to_dict()
    for item in assignments:
        key, sep, value = item.partition("=")
        section, _, name = key.partition(".")
        if not sep or not name or section not in data:
            raise HepvaeError(f"--train: expected SECTION.KEY=VALUE, got {item!r}")
        data[section][name] = yaml.safe_load(value)
    return from_dict(Config, data, where="--train overrides")


def parse_named(items: list[str], option: str) -> list[tuple[str, str]]:
    out = []
    for item in items:
        name, sep, rest = item.partition("=")
        if not sep or not name:
            raise HepvaeError(f"{option}: expected NAME=..., got {item!r}")
        out.append((name, rest))
    return out


def train_variant(name: str, config: Config, workdir: Path) -> Path:
    """Train one variant into ``workdir/name`` unless done with the same settings."""
    from hepvae.train.run import train

    run_dir, done = workdir / name, workdir / name / "done.json"
    settings = config.to_dict()
    if done.is_file() and json.loads(done.read_text())["settings"] == settings:
        log(f"{name}: trained earlier, reused")
        return run_dir / "best.pt"
    log(f"{name}: training")
    tick = time.perf_counter()
    result = train(config, run_dir, run_dir / "logs")
    write_json(done, {"settings": settings, "steps": result.steps,
                      "seconds": round(time.perf_counter() - tick, 1),
                      "loss_parts": loss_parts(run_dir / "last.pt")})  # fmt: skip
    return run_dir / "best.pt"


def loss_parts(checkpoint: Path) -> dict[str, float]:
    """Validation loss parts of the last epoch, each times its weight (KL at its final weight)."""
    from hepvae.train.checkpoint import Checkpoint

    ckpt = Checkpoint.load(checkpoint)
    record = ckpt.history[-1] if ckpt.history else {}
    weights = ckpt.config["loss"]
    return {key[4:]: round(value * weights.get(key[4:], 1.0), 5)
            for key, value in record.items()
            if key.startswith("val_") and key[4:] not in ("total", "kl_raw")}  # fmt: skip


def jetnet_parts(array: np.ndarray):
    """Massless constituents (pt = pT_rel, eta_rel, phi_rel) of a JetNet array, jagged."""
    import awkward as ak

    mask = array[..., 3] > 0
    counts = mask.sum(1)
    fields = {name: ak.unflatten(array[..., i][mask].astype(np.float64), counts)
              for i, name in enumerate(("eta", "phi", "pt"))}  # fmt: skip
    fields["mass"] = ak.zeros_like(fields["pt"])
    return ak.zip(fields)


def substructure(array: np.ndarray) -> dict:
    """Per-jet τ21, τ32, the EEC's (ln R_L, weight) pairs and the soft pT_rel fraction."""
    import awkward as ak

    from hepvae.physics.observables import eec2, nsubjettiness, tau_ratios

    parts = jetnet_parts(array)
    tau21, tau32 = tau_ratios(nsubjettiness(parts))
    eec = eec2(parts)
    r_l = np.asarray(ak.flatten(eec.r_l), dtype=np.float64)
    weight = np.asarray(ak.flatten(eec.weight), dtype=np.float64)
    keep = r_l > 0
    pt = array[..., 2][array[..., 3] > 0]
    return {"tau21": tau21, "tau32": tau32, "eec": (np.log(r_l[keep]), weight[keep]),
            "soft": float(np.mean(pt < SOFT_PT_REL))}  # fmt: skip


def substructure_distances(a: dict, b: dict) -> dict[str, float]:
    """W1 of τ21, τ32 and the EEC in ln R_L between two :func:`substructure` results, and the
    soft fraction of ``b``."""
    from scipy.stats import wasserstein_distance

    out = {name: float(wasserstein_distance(a[name], b[name])) for name in ("tau21", "tau32")}
    (ra, wa), (rb, wb) = a["eec"], b["eec"]
    out["eec"] = float(wasserstein_distance(ra, rb, wa, wb))
    out["soft"] = b["soft"]
    return out


def heldout(workdir: Path, n: int, classes=CLASSES, files: dict[str, str] | None = None):
    """Per class, ``2n`` held-out jets: from ``files[class]`` when given (its first ``2n``
    jets), else simulated once into ``workdir``."""
    from hepvae.data.simulate import simulate_to_file

    out = {}
    for jet_type in classes:
        path = workdir / f"heldout_{jet_type}_{2 * n}_seed{HELDOUT_SEED}.root"
        if files and jet_type in files:
            path = Path(files[jet_type])
        elif not path.is_file():
            log(f"simulating {2 * n} held-out {jet_type} jets")
            simulate_to_file(path, jet_type, 2 * n, seed=HELDOUT_SEED, progress=False)
        out[jet_type] = read_jets(path, max_jets=2 * n)
        if len(out[jet_type]) < 2 * n:
            raise HepvaeError(f"{path}: {len(out[jet_type])} jets, need {2 * n}")
    return out


@torch.no_grad()
def variant_samples(
    checkpoint: Path,
    jets,
    n: int,
    seed: int,
    temperatures: tuple[float, ...] = (1.0,),
    jet_axis: str = "constituents",
    true_multiplicity: bool = False,
) -> dict[str, dict[str, np.ndarray]]:
    """Per class, JetNet arrays of the reconstructed half B (posterior mean; the true
    multiplicity or the head's) and of ``n`` jets generated at each prior temperature."""
    from hepvae.train.checkpoint import load_model
    from hepvae.train.data import jets_to_tensors

    model, _ = load_model(checkpoint)
    n_slots = model.config.n_particles
    out = {}
    for jet_type, real in jets.items():
        label = label_of(jet_type)
        b = jets_to_tensors(real[n : 2 * n], n_slots)
        p4, mask = model.reconstruct(
            b.p4.to(model.p4_scale.dtype), b.mask, b.label, true_multiplicity
        )
        labels = np.full(n, label)
        rec = padded_to_jets(p4.numpy(), mask.sum(1).numpy(), labels)
        out[jet_type] = {"reconstructed": to_jetnet(rec, jet_axis=jet_axis)}
        for temperature in temperatures:
            generator = torch.Generator().manual_seed(seed + label)
            p4, mask, jet, count = model.sample(n, label, temperature, generator)
            gen = padded_to_jets(
                p4.numpy(), mask.sum(1).numpy(), labels, 0, jet.numpy(), count.numpy()
            )
            name = "generated" if temperature == 1.0 else f"generated T={temperature:g}"
            out[jet_type][name] = to_jetnet(gen, jet_axis=jet_axis)
    return out


def fmt(value: float, error: float, unit: float) -> str:
    return f"{value / unit:.2f} ± {error / unit:.2f}"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--train", action="append", default=[], metavar="NAME=KEY=VALUE[,KEY=VALUE]",
                   help="a variant: the config with these overrides, trained here")  # fmt: skip
    p.add_argument("--checkpoint", action="append", default=[], metavar="NAME=PATH",
                   help="a variant given by a trained checkpoint")  # fmt: skip
    p.add_argument("--config", type=Path, default=ROOT / "configs" / "default.yaml")
    p.add_argument("--n", type=int, default=2000, help="jets per sample and class")
    p.add_argument("--metrics", default="w1m,w1p,fpd", help="comma-separated")
    p.add_argument("--temperatures", default="1", help="prior temperatures, comma-separated")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jet-axis", choices=JET_AXES, default="stored",
                   help="JetNet coordinates relative to (see hepvae evaluate --jet-axis)")  # fmt: skip
    p.add_argument("--classes", default=",".join(CLASSES), help="jet classes, comma-separated")
    p.add_argument("--heldout", action="append", default=[], metavar="CLASS=PATH",
                   help="held-out jets of a class from this file (default: simulated)")  # fmt: skip
    p.add_argument("--true-multiplicity", action="store_true",
                   help="reconstruct with the true multiplicity instead of the head's")  # fmt: skip
    p.add_argument("--workdir", type=Path, default=Path("outputs/ablation"))
    p.add_argument("--note", default="", help="a paragraph written above the table")
    p.add_argument("-o", "--output", type=Path, help="markdown table (default: print only)")
    args = p.parse_args(argv)
    metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
    if unknown := set(metrics) - set(METRICS):
        raise HepvaeError(f"--metrics: unknown {sorted(unknown)} (known: {', '.join(METRICS)})")
    temperatures = tuple(float(t) for t in args.temperatures.split(","))
    if any(t <= 0 for t in temperatures):
        raise HepvaeError(f"--temperatures must be > 0, got {args.temperatures!r}")
    classes = tuple(c.strip() for c in args.classes.split(",") if c.strip())
    if unknown := set(classes) - set(CLASSES):
        raise HepvaeError(f"--classes: unknown {sorted(unknown)} (known: {', '.join(CLASSES)})")
    variants = parse_named(args.checkpoint, "--checkpoint")
    trained = parse_named(args.train, "--train")
    if not variants and not trained:
        raise HepvaeError("give at least one --train or --checkpoint variant")
    args.workdir.mkdir(parents=True, exist_ok=True)
    base = load_train_config(args.config)
    for name, assignments in trained:
        config = override(base, [a for a in assignments.split(",") if a])
        variants.append((name, str(train_variant(name, config, args.workdir))))
    runs = {}
    for name, checkpoint in variants:
        done = Path(checkpoint).parent / "done.json"
        if done.is_file():
            info = json.loads(done.read_text())
            runs[name] = {k: info.get(k) for k in ("steps", "seconds", "loss_parts")}
            log(f"{name}: {info['steps']} steps, {info['seconds'] / 60:.1f} min, "
                f"weighted loss parts {info.get('loss_parts')}")  # fmt: skip

    jets = heldout(args.workdir, args.n, classes, dict(parse_named(args.heldout, "--heldout")))
    sizes = sample_sizes(args.n)
    rows = []

    def add(jet_type: str, name: str, sample: str, a: np.ndarray, other: np.ndarray) -> None:
        values = compute_metrics(a, other, sizes, metrics, seed=args.seed)
        sub = substructure_distances(reference[jet_type], substructure(other))
        rows.append({"class": jet_type, "variant": name, "sample": sample,
                     **{m: [v.value, v.error] for m, v in values.items()}, **sub})  # fmt: skip
        shown = ", ".join(f"{m} {fmt(*rows[-1][m], UNITS[m])}" for m in metrics)
        shown += "".join(f", {m} {sub[m] / 1e-3:.2f}" for m in SUBSTRUCTURE)
        log(f"{jet_type} {name} {sample}: {shown} (×1e-3)")

    arrays = {t: to_jetnet(real, jet_axis=args.jet_axis) for t, real in jets.items()}
    reference = {t: substructure(a[: args.n]) for t, a in arrays.items()}
    for jet_type in classes:
        add(jet_type, "Pythia", "truth", arrays[jet_type][: args.n], arrays[jet_type][args.n :])
    for name, checkpoint in variants:
        samples = variant_samples(
            Path(checkpoint), jets, args.n, args.seed, temperatures, args.jet_axis,
            args.true_multiplicity,
        )  # fmt: skip
        for jet_type in classes:
            for sample, array in samples[jet_type].items():
                add(jet_type, name, sample, arrays[jet_type][: args.n], array)

    result = {"command": shlex.join(["python", "benchmarks/ablation.py", *(argv or sys.argv[1:])]),
              "note": args.note, "jet_axis": args.jet_axis, "n_per_sample": args.n, "true_multiplicity": args.true_multiplicity,
              "variants": dict(variants), "runs": runs, "rows": rows}  # fmt: skip
    header = "| class | variant | steps | minutes | sample | " + " | ".join(
        [f"{m.upper()} [{UNITS[m]:.0e}]" for m in metrics]
        + ["τ21 W1 [1e-03]", "τ32 W1 [1e-03]", "EEC W1 [1e-03]", "soft frac [1e-03]"]
    )
    lines = [header + " |", "|---" * (5 + len(metrics) + len(SUBSTRUCTURE)) + "|"]
    for jet_type in classes:
        for row in (r for r in rows if r["class"] == jet_type):
            cells = [fmt(*row[m], UNITS[m]) for m in metrics]
            cells += [f"{row[m] / 1e-3:.1f}" for m in SUBSTRUCTURE]
            run = runs.get(row["variant"], {})
            steps = run.get("steps", "")
            minutes = f"{run['seconds'] / 60:.1f}" if run.get("seconds") else ""
            lines.append(f"| {jet_type} | {row['variant']} | {steps} | {minutes} | "
                         f"{row['sample']} | " + " | ".join(cells) + " |")  # fmt: skip
    table = "\n".join(lines)
    print(table, flush=True)
    if args.output:
        with atomic_path(args.output) as tmp:
            note = f"{args.note}\n\n" if args.note else ""
            tmp.write_text(f"{note}Produced by:\n\n    {result['command']}\n\n{table}\n")
        write_json(args.output.with_suffix(".json"), result)
    return result


if __name__ == "__main__":
    try:
        main()
    except HepvaeError as exc:
        sys.exit(f"error: {exc}")
