"""Comparison plots: each data set over the reference, with a ratio panel (mplhep, CMS style).

Histograms are shown per jet (divided by the number of jets) and per unit x (or ln x for log
axes, see :class:`hepvae.analysis.histograms.Spec`), so that data sets of different size
compare directly and constituent-level plots integrate to the mean multiplicity. Error bars
are statistical, with jets independent and entries of one jet correlated (see
:func:`hepvae.analysis.histograms.fill_per_jet`). The ratio panel shows each data set over
the reference, with the reference's own relative uncertainty as a grey band around one.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hepvae.analysis.histograms import SPECS, Spec
from hepvae.atomic import atomic_path, ensure_dir
from hepvae.data.schema import JET_TYPES

JET_NAMES = {"g": "gluon", "q": "light-quark", "t": "top-quark", "w": "W-boson", "z": "Z-boson"}
RATIO_RANGES = (0.2, 0.5, 1.0)
_OTHER_COLORS = ("#3f90da", "#ffa90e", "#bd1f01", "#94a4a2", "#832db6", "#a96b59")


def _density(h, n_jets: int, spec: Spec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges, per-jet density and its statistical error for one histogram."""
    edges = h.axes[0].edges
    if spec.density == "log":
        widths = np.diff(np.log(edges))
    elif spec.density == "count":
        widths = np.ones(len(edges) - 1)
        edges = edges - 0.5  # integer k drawn as the bin [k - 0.5, k + 0.5)
    else:
        widths = np.diff(edges)
    scale = 1.0 / (max(n_jets, 1) * widths)
    return edges, h.values() * scale, np.sqrt(h.variances()) * scale


def _mass_on_right(y: np.ndarray, edges: np.ndarray, logx: bool) -> bool:
    """Whether most of a curve lies in the right half of its occupied x-range (legend left)."""
    x = np.log(edges) if logx else edges
    occupied = np.flatnonzero(y > 0)
    if occupied.size == 0:
        return False
    lo, hi = x[occupied[0]], x[occupied[-1] + 1]
    centers = 0.5 * (x[:-1] + x[1:])
    weights = np.clip(y, 0, None) * np.diff(x)
    return float(np.sum(weights * centers) / np.sum(weights)) > 0.5 * (lo + hi)


def jet_type_text(result: dict[str, Any]) -> str:
    """``top-quark jets`` (or a list) from the ``label`` histograms of all data sets."""
    present = set()
    for block in result.values():
        counts = block["hists"]["label"].values()
        present |= {JET_TYPES[i] for i in np.flatnonzero(counts > 0)}
    names = [JET_NAMES[t] for t in JET_TYPES if t in present]
    return (", ".join(names) + " jets") if names else ""


def _ratio_limits(ratios: list[np.ndarray]) -> tuple[float, float]:
    """The narrowest of ±0.2, ±0.5, ±1 around one that holds 90 % of the ratio points."""
    values = np.concatenate([r[np.isfinite(r)] for r in ratios]) if ratios else np.array([])
    if values.size == 0:
        return 0.5, 1.5
    spread = np.quantile(np.abs(values - 1.0), 0.9)
    for half in RATIO_RANGES:
        if spread <= half * 0.9:
            return 1.0 - half, 1.0 + half
    return 0.0, 2.0


def draw(
    ax,
    rax,
    spec: Spec,
    result: dict[str, Any],
    reference: str,
    legend: bool = True,
    label_text: str | None = None,
) -> None:
    """Draw one observable on a main axis ``ax`` and its ratio axis ``rax``."""
    import mplhep as hep

    names = [reference] + [name for name in result if name != reference]
    curves = {}
    for name in names:
        block = result[name]
        curves[name] = _density(block["hists"][spec.name], block["n_jets"], spec)
    edges, ref_y, ref_err = curves[reference]

    occupied = np.zeros(len(edges) - 1, dtype=bool)
    for _, y, _ in curves.values():
        occupied |= y > 0
    for i, name in enumerate(names):
        _, y, err = curves[name]
        label = f"{name} ({result[name]['n_jets']:,} jets)"
        if name == reference:
            hep.histplot(
                y, edges, yerr=err, ax=ax, histtype="errorbar", color="black", label=label,
                markersize=4, capsize=0,
            )  # fmt: skip
        else:
            color = _OTHER_COLORS[(i - 1) % len(_OTHER_COLORS)]
            hep.histplot(
                y, edges, yerr=err, ax=ax, histtype="step", color=color, label=label, linewidth=1.8
            )

    # ratio panel: reference's relative uncertainty as a band, the others as points
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(ref_y > 0, ref_err / ref_y, np.nan)
    rax.stairs(
        1 + np.nan_to_num(rel), edges, baseline=1 - np.nan_to_num(rel), fill=True, color="0.8"
    )
    rax.axhline(1.0, color="black", linewidth=0.8)
    ratios = []
    centers = np.sqrt(edges[:-1] * edges[1:]) if spec.logx else 0.5 * (edges[:-1] + edges[1:])
    for i, name in enumerate(names[1:], start=1):
        _, y, err = curves[name]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(ref_y > 0, y / ref_y, np.nan)
            ratio_err = np.where(ref_y > 0, err / ref_y, np.nan)
        ratio[~occupied] = np.nan
        ratios.append(ratio)
        color = _OTHER_COLORS[(i - 1) % len(_OTHER_COLORS)]
        rax.errorbar(
            centers, ratio, yerr=ratio_err, fmt="o", color=color, markersize=3.5, linewidth=1
        )
    rax.set_ylim(*_ratio_limits(ratios))
    rax.set_ylabel(
        f"Ratio to\n{reference}" if len(reference) > 6 else f"Ratio to {reference}",
        fontsize=0.8 * plt_rc("font.size"),
    )
    rax.set_xlabel(spec.xlabel)

    # axes: trim x to the occupied bins, scales and room for the legend
    if occupied.any():
        lo, hi = np.flatnonzero(occupied)[[0, -1]]
        x_lo, x_hi = edges[lo], edges[hi + 1]
        if spec.density == "count" and x_hi - x_lo < 10:  # a few integers: show some context
            x_lo, x_hi = max(edges[0], x_lo - 5), x_hi + 5
        ax.set_xlim(x_lo, x_hi)
    if spec.logx:
        ax.set_xscale("log")
    ax.set_ylabel(spec.ylabel)
    # curves fill the lower 55 % of the frame (in log y: of the decades), the legend the rest
    positive = np.concatenate([c[1][c[1] > 0] for c in curves.values()])
    top = positive.max() if positive.size else 1.0
    if spec.logy:
        ax.set_yscale("log")
        bottom = positive.min() * 0.5 if positive.size else 1e-3
        ax.set_ylim(bottom, bottom * (top / bottom) ** (1 / 0.55))
    else:
        ax.set_ylim(0, top / 0.55)
    ax.set_xlabel("")
    if legend:
        from matplotlib.patches import Patch

        handles, labels = ax.get_legend_handles_labels()
        handles.append(Patch(color="0.8"))
        labels.append(f"{reference} stat. unc. (ratio)")
        loc = "upper left" if _mass_on_right(ref_y, edges, spec.logx) else "upper right"
        ax.legend(handles, labels, loc=loc, frameon=False, title=label_text or None)
    experiment_label(ax)


def experiment_label(ax, name: str = "hepvae", text: str = "Simulation") -> None:
    """``hepvae Simulation`` above the top-left corner, in the CMS-style look.

    (mplhep's ``exp_label`` redraws the figure to place its text, which dominated the plotting
    time; an annotation anchored to the first text costs nothing.)
    """
    size = plt_rc("font.size")
    first = ax.text(
        0.0, 1.015, name, transform=ax.transAxes, ha="left", va="bottom",
        fontweight="bold", fontsize=size * 1.15,
    )  # fmt: skip
    ax.annotate(
        text, xy=(1.0, 0.0), xycoords=first, xytext=(0.3 * size, 0), textcoords="offset points",
        ha="left", va="bottom", fontstyle="italic", fontsize=size * 0.95,
    )  # fmt: skip


def plt_rc(key: str):
    import matplotlib

    return matplotlib.rcParams[key]


def _figure(nrows: int, ncols: int, panel: tuple[float, float]):
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(panel[0] * ncols, panel[1] * nrows))
    outer = fig.add_gridspec(nrows, ncols, wspace=0.38, hspace=0.3)
    pairs = []
    for r in range(nrows):
        for c in range(ncols):
            inner = outer[r, c].subgridspec(2, 1, height_ratios=(3, 1), hspace=0.06)
            ax = fig.add_subplot(inner[0])
            rax = fig.add_subplot(inner[1], sharex=ax)
            ax.tick_params(labelbottom=False)
            pairs.append((ax, rax))
    return fig, pairs


def _save(fig, base: Path, suffixes: Sequence[str] = (".png", ".pdf")) -> list[Path]:
    out = []
    for suffix in suffixes:
        path = base.with_suffix(suffix)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=150 if suffix == ".png" else None, bbox_inches="tight")
        out.append(path)
    return out


def plot_all(
    result: dict[str, Any],
    out_dir: str | os.PathLike,
    reference: str | None = None,
    specs: Sequence[Spec] = SPECS,
) -> list[Path]:
    """One figure per observable and a summary sheet, as PNG and PDF in ``out_dir``.

    ``result`` is the processor output ``{dataset: {"n_jets", "hists"}}``; ``reference``
    (default: the first data set) is drawn as points and divides the others in the ratios.
    """
    import matplotlib.pyplot as plt
    import mplhep as hep

    if not result:
        return []
    reference = reference or next(iter(result))
    out_dir = ensure_dir(out_dir)
    text = jet_type_text(result)
    written = []
    with plt.style.context(hep.style.CMS):
        for spec in specs:
            fig, ((ax, rax),) = _figure(1, 1, (9.0, 9.0))
            draw(ax, rax, spec, result, reference, label_text=text)
            written += _save(fig, out_dir / spec.name)
            plt.close(fig)
    written += summary_sheet(result, out_dir / "summary", reference, specs)
    return written


def summary_sheet(
    result: dict[str, Any],
    base: str | os.PathLike,
    reference: str | None = None,
    specs: Sequence[Spec] = SPECS,
    ncols: int = 5,
    suffixes: Sequence[str] = (".png", ".pdf"),
) -> list[Path]:
    """One figure with a panel (and ratio panel) per observable of ``specs``, ``ncols`` to a
    row, written as ``base`` with each of ``suffixes``; ``result`` and ``reference`` as for
    :func:`plot_all`. The first panel holds the legend."""
    import matplotlib.pyplot as plt
    import mplhep as hep

    reference = reference or next(iter(result))
    text = jet_type_text(result)
    ensure_dir(Path(base).parent)
    nrows = -(-len(specs) // ncols)
    with plt.style.context(hep.style.CMS), plt.rc_context(
        {"font.size": 13, "axes.labelsize": 13, "legend.fontsize": 11,
         "xtick.labelsize": 11, "ytick.labelsize": 11}
    ):  # fmt: skip
        fig, pairs = _figure(nrows, ncols, (5.6, 5.6))
        for k, ((ax, rax), spec) in enumerate(zip(pairs, specs)):
            draw(ax, rax, spec, result, reference, legend=k == 0, label_text=text)
        for ax, rax in pairs[len(specs) :]:
            ax.set_visible(False)
            rax.set_visible(False)
        written = _save(fig, Path(base), suffixes)
        plt.close(fig)
    return written
