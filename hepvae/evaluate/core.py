"""Generated against real jets, per jet type, next to the truth-vs-truth baseline.

The metrics are the JetNet ones (:mod:`hepvae.evaluate.metrics`) and the substructure W1s
(:mod:`hepvae.evaluate.substructure`).

For each jet type the real jets are shuffled (``seed``) and split into two disjoint halves
A and B. The model metrics compare A with the generated jets, the baseline compares A with B,
both with N jets per sample, N = min(|A|, |B|, generated, ``n``). So model and baseline use
the same sample sizes and the same reference jets, and a perfect generator gives metrics
that agree with the baseline within errors.
"""

from __future__ import annotations

import datetime
import os
import platform
import time
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from hepvae.data.schema import JET_TYPES, count_jets, read_jets
from hepvae.errors import HepvaeError, ParameterError
from hepvae.evaluate.metrics import (
    METRICS,
    MIN_JETS,
    SCALES,
    compute_metrics,
    efp_features,
    sample_sizes,
)
from hepvae.evaluate.substructure import (
    SUBSTRUCTURE_METRICS,
    SUBSTRUCTURE_MIN_JETS,
    SUBSTRUCTURE_SCALES,
    nparticles_meaningful,
    substructure,
    substructure_w1,
)
from hepvae.paths import as_paths
from hepvae.physics.coords import JET_AXES, to_jetnet
from hepvae.progress import ProgressBar

PathLike = str | os.PathLike

#: every metric ``evaluate`` computes: the JetNet metrics, then the substructure W1s
EVALUATE_METRICS = METRICS + SUBSTRUCTURE_METRICS
#: display scale of every metric (value / scale is shown)
UNITS = {**SCALES, **SUBSTRUCTURE_SCALES}


def evaluate(
    real_paths: PathLike | Iterable[PathLike],
    generated_paths: PathLike | Iterable[PathLike],
    n: int | None = None,
    n_particles: int = 30,
    seed: int = 0,
    metrics: Sequence[str] = EVALUATE_METRICS,
    efp_jobs: int | None = None,
    progress: bool = False,
    jet_axis: str = "stored",
) -> dict[str, Any]:
    """JetNet metrics and substructure W1s of generated against real jets and the truth
    baseline, per jet type.

    ``n`` caps the jets per sample (default: all the data allow), ``n_particles`` the leading
    constituents in the JetNet arrays and the substructure, ``efp_jobs`` the processes for
    the EFPs (default: all CPUs). ``jet_axis`` says what the JetNet coordinates are relative
    to, for real and generated jets alike (:func:`hepvae.physics.coords.to_jetnet`):
    ``"stored"`` (the default, the JetNet convention of the published tables) keeps the stored
    full jets, so that the leading ``n_particles`` pT_rel sum to less than one;
    ``"constituents"`` re-sums each jet from its leading ``n_particles`` constituents, the
    jet a generator of only those constituents emits. The substructure W1s do not depend on
    it. ``w1nparticles`` is left out, with a note, for a jet type where either sample's
    ``Jet_nparticles`` equals its stored multiplicity for every jet. Returns a JSON-ready
    dict (see :func:`hepvae.evaluate.report.write_metrics`); metric values are unscaled,
    ``units`` gives the scale the tables use.
    """
    metrics = _check_metrics(metrics)
    if jet_axis not in JET_AXES:
        raise HepvaeError(f"jet axis must be one of {', '.join(JET_AXES)}, got {jet_axis!r}")
    real_paths, generated_paths = _paths(real_paths), _paths(generated_paths)
    # open every file before the long work, so a bad one fails fast and by name
    inputs = {
        "real": [{"path": str(p.resolve()), "n_jets": count_jets(p)} for p in real_paths],
        "generated": [{"path": str(p.resolve()), "n_jets": count_jets(p)} for p in generated_paths],
    }
    start = time.perf_counter()
    real, generated = read_jets(real_paths), read_jets(generated_paths)
    classes = _jet_types(real, generated)
    plans = [_plan(real, generated, label, n, seed, metrics) for label in classes]

    result: dict[str, Any] = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions(),
        "inputs": inputs,
        "settings": {
            "n": n,
            "n_particles": n_particles,
            "jet_axis": jet_axis,
            "seed": seed,
            "metrics": list(metrics),
            "efp_jobs": efp_jobs,
        },
        "units": {m: UNITS[m] for m in metrics},
        "method": (
            "per jet type: real jets shuffled and split into disjoint halves A and B; "
            "generated = metric(A, generated jets), truth = metric(A, B), both with "
            "n_per_sample jets; JetNet coordinates of the leading n_particles constituents "
            "relative to the jet_axis (stored: the stored full jet; constituents: their own "
            "sum); JetNet metrics from jetnet.evaluation; substructure W1s (w1tau21, w1tau32, "
            "w1d2, w1eec, w1mult, w1nparticles) from the leading n_particles constituents with "
            "scipy.stats.wasserstein_distance, bootstrap batches as jetnet's W1M; values "
            "unscaled (units: display scale)"
        ),
        "jet_types": {},
    }
    total = len(plans) * (6 + 2 * len(metrics))
    with ProgressBar(total, "evaluate", progress, unit="steps", transient=True) as bar:
        for plan in plans:
            result["jet_types"][plan["jet_type"]] = _evaluate_class(
                plan, n_particles, seed, efp_jobs, bar, jet_axis
            )
    result["runtime_s"] = round(time.perf_counter() - start, 2)
    return result


def _paths(paths: PathLike | Iterable[PathLike]) -> list[Path]:
    out = as_paths(paths)
    if not out:
        raise HepvaeError("no input files given")
    return out


def _check_metrics(metrics: Sequence[str]) -> tuple[str, ...]:
    known = ", ".join(EVALUATE_METRICS)
    unknown = [m for m in metrics if m not in EVALUATE_METRICS]
    if unknown:
        raise HepvaeError(f"unknown metric {unknown[0]!r}: choose from {known}")
    if not metrics:
        raise HepvaeError(f"no metrics selected: choose from {known}")
    return tuple(m for m in EVALUATE_METRICS if m in metrics)


def _jet_types(real: ak.Array, generated: ak.Array) -> list[int]:
    """Labels present in both samples; an error if a class is in one and not the other."""
    in_real = set(np.unique(ak.to_numpy(real.Jet.label)).tolist())
    in_gen = set(np.unique(ak.to_numpy(generated.Jet.label)).tolist())
    if not in_real:
        raise HepvaeError("the real files hold no jets")
    if not in_gen:
        raise HepvaeError("the generated files hold no jets")
    if in_real != in_gen:
        names = lambda labels: ", ".join(JET_TYPES[i] for i in sorted(labels)) or "none"  # noqa: E731
        raise HepvaeError(
            f"jet types differ: real has {names(in_real)}, generated has {names(in_gen)} "
            f"(only in real: {names(in_real - in_gen)}; only in generated: "
            f"{names(in_gen - in_real)})"
        )
    return sorted(in_real)


def _plan(
    real: ak.Array,
    generated: ak.Array,
    label: int,
    n: int | None,
    seed: int,
    metrics: Sequence[str],
) -> dict[str, Any]:
    """Choose the jets of one class: halves A, B of the real jets and the generated jets."""
    jet_type = JET_TYPES[label]
    real_c = real[ak.to_numpy(real.Jet.label) == label]
    gen_c = generated[ak.to_numpy(generated.Jet.label) == label]
    rng = np.random.default_rng([seed, label])
    real_order = rng.permutation(len(real_c))
    gen_order = rng.permutation(len(gen_c))
    half = len(real_c) // 2
    available = min(half, len(gen_c))
    n_use = available if n is None else min(n, available)
    needed = {m: {**MIN_JETS, **SUBSTRUCTURE_MIN_JETS}[m] for m in metrics}
    worst = max(needed, key=needed.get)
    if n_use < needed[worst]:
        message = (
            f"jet type {jet_type}: too few jets for {worst.upper()}: it needs at least "
            f"{needed[worst]} jets per sample, i.e. {2 * needed[worst]} real and "
            f"{needed[worst]} generated jets (have {len(real_c)} real, split into halves of "
            f"{half}, and {len(gen_c)} generated"
        )
        if n is not None and n < available:
            raise ParameterError("{message}, {n} {got})", message=message, got=n)
        raise HepvaeError(message + ")")
    notes = []
    if n is not None and n > available:
        notes.append(f"n {n} asked for more jets per sample than the {available} available")
    if "w1nparticles" in metrics:
        samples = (("real", real_c), ("generated", gen_c))
        lacking = [name for name, jets in samples if not nparticles_meaningful(jets)]
        if lacking:
            metrics = tuple(m for m in metrics if m != "w1nparticles")
            notes.append(
                f"W1 of Jet_nparticles left out: in the {' and '.join(lacking)} jets it equals "
                "the stored multiplicity for every jet (no multiplicity before truncation)"
            )
    return {
        "jet_type": jet_type,
        "label": label,
        "notes": notes,
        "metrics": metrics,
        "n_real": len(real_c),
        "n_generated": len(gen_c),
        "n": n_use,
        "reference": real_c[real_order[:n_use]],
        "truth": real_c[real_order[half : half + n_use]],
        "generated": gen_c[gen_order[:n_use]],
    }


def _evaluate_class(
    plan: dict[str, Any],
    n_particles: int,
    seed: int,
    efp_jobs: int | None,
    bar: ProgressBar,
    jet_axis: str,
) -> dict[str, Any]:
    start = time.perf_counter()
    jet_type, metrics = plan["jet_type"], plan["metrics"]
    jetnet_metrics = [m for m in metrics if m in METRICS]
    shape_metrics = [m for m in metrics if m in SUBSTRUCTURE_METRICS]
    arrays = {
        k: to_jetnet(plan[k], n_particles, jet_axis) for k in ("reference", "truth", "generated")
    }
    features = {}
    if {"fpd", "kpd"} & set(metrics):
        for key, jets in arrays.items():
            bar.update(description=f"{jet_type} jets: EFPs of the {key} sample")
            features[key] = efp_features(jets, efp_jobs)
            bar.advance()
    else:
        bar.advance(3)
    shapes = {}
    for key in arrays:
        if shape_metrics:
            bar.update(description=f"{jet_type} jets: substructure of the {key} sample")
            shapes[key] = substructure(plan[key], n_particles, shape_metrics)
        bar.advance()
    sizes = sample_sizes(plan["n"])
    values = {}
    for which in ("generated", "truth"):
        bar.update(description=f"{jet_type} jets: metrics, reference vs {which}")
        values[which] = compute_metrics(
            arrays["reference"],
            arrays[which],
            sizes,
            jetnet_metrics,
            seed=seed,
            efp_jobs=efp_jobs,
            reference_features=features.get("reference"),
            other_features=features.get(which),
            progress=lambda _name: bar.advance(),
        )
        if shape_metrics:
            values[which] |= substructure_w1(
                shapes["reference"], shapes[which], sizes, shape_metrics, seed,
                progress=lambda _name: bar.advance(),
            )  # fmt: skip
    return {
        "label": plan["label"],
        "n_real": plan["n_real"],
        "n_generated": plan["n_generated"],
        "n_per_sample": plan["n"],
        "sample_sizes": sizes.to_dict(),
        "notes": plan["notes"] + list(sizes.notes),
        "metrics": {
            name: _entry(values["generated"][name], values["truth"][name]) for name in metrics
        },
        "runtime_s": round(time.perf_counter() - start, 2),
    }


def _entry(model, truth) -> dict[str, Any]:
    """One metric: model and truth values, their ratio and difference in combined errors.

    The ratio is left out (None) where the baseline is consistent with zero (FPD and KPD of
    two samples of the same distribution often are); the pull is always given.
    """
    ratio = ratio_error = pull = None
    if truth.value > truth.error:
        ratio = model.value / truth.value
        rel = np.hypot(model.error / model.value if model.value else 0.0, truth.error / truth.value)
        ratio_error = abs(ratio) * rel
    sigma = np.hypot(model.error, truth.error)
    if sigma > 0:
        pull = (model.value - truth.value) / sigma
    return {
        "model": model.to_dict(),
        "truth": truth.to_dict(),
        "ratio": _finite(ratio),
        "ratio_error": _finite(ratio_error),
        "pull": _finite(pull),
    }


def _finite(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("hepvae", "jetnet", "energyflow", "numpy", "scipy", "awkward", "uproot"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "unknown"
    if out["hepvae"] == "unknown":
        import hepvae

        out["hepvae"] = hepvae.__version__
    return out
