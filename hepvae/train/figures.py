"""Validation figure: jet mass and multiplicity of real, reconstructed and generated jets."""

from __future__ import annotations

import numpy as np
import torch


def jet_mass(p4: torch.Tensor) -> np.ndarray:
    """Invariant mass [GeV] of the constituents' sum, p4 [B, N, 4] GeV with zero padding."""
    total = p4.sum(1).double()
    m2 = total[:, 0] ** 2 - (total[:, 1:] ** 2).sum(-1)
    return m2.clamp_min(0).sqrt().cpu().numpy()


def validation_figure(samples: dict[str, tuple[torch.Tensor, torch.Tensor]], title: str = ""):
    """A matplotlib figure with two panels; ``samples`` maps a name to (p4 GeV, mask)."""
    import matplotlib.pyplot as plt

    fig, (ax_m, ax_n) = plt.subplots(1, 2, figsize=(10, 4))
    masses = {k: jet_mass(p4) for k, (p4, _) in samples.items()}
    counts = {k: mask.sum(1).cpu().numpy() for k, (_, mask) in samples.items()}
    top = max(float(np.percentile(m, 99.5)) for m in masses.values() if len(m)) * 1.1
    mass_bins = np.linspace(0, max(top, 1.0), 50)
    n_max = max(int(c.max()) for c in counts.values() if len(c))
    count_bins = np.arange(0.5, n_max + 1.5)
    for name in samples:
        style = {"histtype": "step", "density": True, "label": name, "linewidth": 1.5}
        ax_m.hist(masses[name], bins=mass_bins, **style)
        ax_n.hist(counts[name], bins=count_bins, **style)
    ax_m.set_xlabel("jet mass [GeV]")
    ax_n.set_xlabel("constituent multiplicity")
    for ax in (ax_m, ax_n):
        ax.set_ylabel("density")
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig
