"""Summaries of jet files for ``hepvae inspect``."""

from __future__ import annotations

import os

import awkward as ak
import numpy as np
from rich.table import Table

from hepvae.data.schema import JET_TYPES, iterate_jets, read_metadata


def summarize(path: str | os.PathLike) -> Table:
    """Read a schema file fully (checking every jet) and return a summary table."""
    meta = read_metadata(path)
    n = 0
    labels = np.zeros(len(JET_TYPES), dtype=np.int64)
    mult, pt, mass = [], [], []
    for jets in iterate_jets(path):
        n += len(jets)
        labels += np.bincount(ak.to_numpy(jets.Jet.label), minlength=len(JET_TYPES))
        mult.append(ak.to_numpy(ak.num(jets.Part, axis=1)))
        pt.append(ak.to_numpy(jets.Jet.pt))
        mass.append(ak.to_numpy(jets.Jet.mass))
    table = Table(title=str(path), show_header=False)
    table.add_row("schema version", str(meta.get("schema_version", "unknown")))
    table.add_row("producer", str(meta.get("producer", "unknown")))
    table.add_row("jets", str(n))
    table.add_row(
        "classes", ", ".join(f"{t}: {c}" for t, c in zip(JET_TYPES, labels) if c) or "none"
    )
    if n:
        mult, pt, mass = (np.concatenate(x) for x in (mult, pt, mass))
        table.add_row("constituents", _range(mult, "{:.0f}"))
        table.add_row("jet pT [GeV]", _range(pt, "{:.1f}"))
        table.add_row("jet mass [GeV]", _range(mass, "{:.1f}"))
    return table


def _range(x: np.ndarray, fmt: str) -> str:
    lo, med, hi = np.min(x), np.median(x), np.max(x)
    return f"{fmt.format(lo)} .. {fmt.format(hi)} (median {fmt.format(med)})"
