"""Reporting evaluation results: ``metrics.json`` and a table in the JetNet units."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from hepvae.atomic import ensure_dir, write_json

NAMES = {"w1m": "W1M", "w1p": "W1P", "w1efp": "W1EFP", "fpd": "FPD", "kpd": "KPD"}


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


def metrics_table(result: dict[str, Any]):
    """A rich table per jet type: metric, unit, model, truth baseline, ratio, pull."""
    from rich import box
    from rich.table import Table

    table = Table(
        title="JetNet metrics: generated vs real and real vs real (truth)",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for column, justify in (
        ("jets", "left"),
        ("metric", "left"),
        ("generated", "right"),
        ("truth", "right"),
        ("ratio", "right"),
        ("pull", "right"),
    ):
        table.add_column(column, justify=justify, no_wrap=True)
    table.caption = "ratio = generated / truth; pull = (generated - truth) / combined error"
    for jet_type, block in result["jet_types"].items():
        first = True
        for name, entry in block["metrics"].items():
            scale = result["units"][name]
            ratio = entry["ratio"]
            ratio_text = "-" if ratio is None else value_error(ratio, entry["ratio_error"])
            pull = entry["pull"]
            table.add_row(
                f"{jet_type}\nN = {block['n_per_sample']}" if first else "",
                NAMES[name] + _scale_label(scale),
                _fmt(entry["model"], scale),
                _fmt(entry["truth"], scale),
                ratio_text,
                "-" if pull is None else f"{pull:+.1f}",
                end_section=name == list(block["metrics"])[-1],
            )
            first = False
    return table


def notes(result: dict[str, Any]) -> list[str]:
    """Lines saying where sample sizes depart from the JetNet conventions."""
    out = []
    for jet_type, block in result["jet_types"].items():
        out.extend(f"{jet_type} jets: {note}" for note in block["notes"])
    return out
