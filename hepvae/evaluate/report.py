"""Reporting evaluation results: ``metrics.json``, a table of the JetNet metrics in the JetNet
units and one of the substructure W1s."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from hepvae.atomic import ensure_dir, write_json
from hepvae.evaluate.metrics import METRICS
from hepvae.evaluate.substructure import BETA, R0, SUBSTRUCTURE_UNITS

#: the observable of each substructure W1, as the substructure table names it
OBSERVABLES = {"w1tau21": "τ21", "w1tau32": "τ32", "w1d2": "D2", "w1eec": "EEC",
               "w1mult": "mult.", "w1nparticles": "nparticles"}  # fmt: skip
#: display names of the metrics
NAMES = {"w1m": "W1M", "w1p": "W1P", "w1efp": "W1EFP", "fpd": "FPD", "kpd": "KPD",
         **{name: f"W1 {text}" for name, text in OBSERVABLES.items()}}  # fmt: skip


def write_metrics(result: dict[str, Any], out_dir: str | os.PathLike) -> Path:
    """Write the result of :func:`hepvae.evaluate.evaluate` to ``out_dir/metrics.json``."""
    return write_json(ensure_dir(out_dir) / "metrics.json", result)


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _scale_label(scale: float) -> str:
    """``[10⁻³]``: the unit of the displayed numbers (value = shown number x unit)."""
    exponent = round(math.log10(scale))
    return f" [10{str(exponent).translate(_SUPERSCRIPT)}]" if exponent else ""


def value_error(value: float, error: float) -> str:
    """``value ± error`` rounded to two significant digits of the error."""
    if not (math.isfinite(error) and error > 0):
        return f"{value:.3g} ± {error:.1g}"
    digits = max(0, 1 - math.floor(math.log10(error)))
    return f"{value:.{digits}f} ± {error:.{digits}f}"


def _fmt(entry: dict[str, Any], scale: float) -> str:
    return value_error(entry["value"] / scale, entry["error"] / scale)


def _table(result: dict[str, Any], names: dict[str, str], title: str, caption: str):
    """A rich table of the metrics ``names`` (name: row label), per jet type: model, truth,
    ratio, pull; None if the result holds none of them."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    if not any(
        name in names for block in result["jet_types"].values() for name in block["metrics"]
    ):
        return None

    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    for column, justify in (
        ("jets", "left"),
        ("metric", "left"),
        ("generated", "right"),
        ("truth", "right"),
        ("ratio", "right"),
        ("pull", "right"),
    ):
        table.add_column(column, justify=justify, no_wrap=True)
    table.caption = caption
    for jet_type, block in result["jet_types"].items():
        shown = [name for name in block["metrics"] if name in names]
        for name in shown:
            entry, scale = block["metrics"][name], result["units"][name]
            ratio, pull = entry["ratio"], entry["pull"]
            table.add_row(
                f"{jet_type}\nN = {block['n_per_sample']}" if name == shown[0] else "",
                escape(names[name] + _unit_label(name, scale)),  # "[...]" is not markup
                _fmt(entry["model"], scale),
                _fmt(entry["truth"], scale),
                "-" if ratio is None else value_error(ratio, entry["ratio_error"]),
                "-" if pull is None else f"{pull:+.1f}",
                end_section=name == shown[-1],
            )
    return table


def _unit_label(name: str, scale: float) -> str:
    """``[10⁻³]``, ``[10⁻³ ln R_L]`` or ``[constituents]``: the unit of the shown numbers."""
    scale_text = _scale_label(scale).strip(" []")
    unit = " ".join(t for t in (scale_text, SUBSTRUCTURE_UNITS.get(name, "")) if t)
    return f" [{unit}]" if unit else ""


_CAPTION = "ratio = generated / truth; pull = (generated - truth) / combined error"


def metrics_table(result: dict[str, Any]):
    """A rich table per jet type of the JetNet metrics: model, truth baseline, ratio, pull;
    None if none were computed."""
    return _table(
        result,
        {m: NAMES[m] for m in METRICS},
        "JetNet metrics: generated vs real and real vs real (truth)",
        _CAPTION,
    )


def substructure_table(result: dict[str, Any]):
    """A rich table of the substructure W1s, or None if none were computed."""
    caption = (
        f"W1 of each observable's distribution, in the units shown; {_CAPTION}. "
        f"τ: N-subjettiness R0 = {R0}, β = {BETA:g}; D2: β = {BETA:g}; EEC: pT-weighted "
        "pairs in ln R_L; mult.: stored constituents; nparticles: before truncation"
    )
    return _table(
        result,
        OBSERVABLES,
        "Substructure W1: generated vs real and real vs real (truth)",
        caption,
    )


def notes(result: dict[str, Any]) -> list[str]:
    """Lines saying where sample sizes depart from the JetNet conventions."""
    out = []
    for jet_type, block in result["jet_types"].items():
        out.extend(f"{jet_type} jets: {note}" for note in block["notes"])
    return out
