"""Write a copy of a jet file with every jet turned about its axis so that its leading
constituent lies at d phi' = 0, d eta' > 0 (``--reflect``: and the second at d phi' >= 0).

A diagnostic for the prong ablation (docs/ablation_prongs.md): the rotation acts in the
(d eta, d phi) plane about the stored jet axis, so every dR, and with it tau_N and the EEC,
is unchanged; the jet four-momentum is recomputed from the turned constituents.

    python benchmarks/orient_jets.py data/top_train.root data/top_train_oriented.root
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import awkward as ak
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hepvae.data.schema import make_jets, read_jets, wrap_phi, write_jets  # noqa: E402
from hepvae.physics.coords import constituent_jets  # noqa: E402


def orient(jets: ak.Array, reflect: bool = False) -> ak.Array:
    """The jets turned (and optionally reflected) about their axis, constituents by pT."""
    p = jets.Part[ak.argsort(jets.Part.pt, axis=1, ascending=False)]
    de, dp = p.eta - jets.Jet.eta, wrap_phi(p.phi - jets.Jet.phi)
    theta = np.arctan2(ak.to_numpy(dp[:, 0]), ak.to_numpy(de[:, 0]))
    c, s = np.cos(theta), np.sin(theta)
    de, dp = de * c + dp * s, dp * c - de * s
    if reflect:
        second = ak.to_numpy(ak.fill_none(ak.pad_none(dp, 2, axis=1)[:, 1], 0.0))
        dp = dp * np.where(second < 0, -1.0, 1.0)
    eta, phi = de + jets.Jet.eta, wrap_phi(dp + jets.Jet.phi)
    parts = ak.zip({"pt": p.pt, "eta": eta, "phi": phi, "mass": p.mass})
    jet = constituent_jets(jets.Jet, parts)
    return make_jets(jet.pt, jet.eta, jet.phi, jet.mass, jets.Jet.label, p.pt, eta, phi,
                     p.mass, jets.Jet.nparticles)  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("source", type=Path)
    p.add_argument("output", type=Path)
    p.add_argument("--reflect", action="store_true")
    args = p.parse_args()
    write_jets(args.output, orient(read_jets(args.source), args.reflect))


if __name__ == "__main__":
    main()
