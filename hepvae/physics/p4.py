"""Four-momentum helpers on awkward arrays with ``vector`` behaviours (GeV)."""

from __future__ import annotations

import awkward as ak
import numpy as np
import vector

vector.register_awkward()


def constituents(pt, eta, phi, mass=None) -> ak.Array:
    """Jagged ``Momentum4D`` constituents from pt [GeV], eta, phi and mass (0 if None)."""
    pt = ak.Array(pt)
    return ak.zip(
        {
            "pt": pt,
            "eta": ak.Array(eta),
            "phi": ak.Array(phi),
            "mass": ak.zeros_like(pt) if mass is None else ak.Array(mass),
        },
        with_name="Momentum4D",
    )


def sum_p4(parts: ak.Array) -> ak.Array:
    """Sum jagged four-momenta per jet; returns a ``Momentum4D`` array (E, px, py, pz in GeV)."""
    return ak.zip(
        {
            "px": ak.sum(parts.px, axis=1),
            "py": ak.sum(parts.py, axis=1),
            "pz": ak.sum(parts.pz, axis=1),
            "E": ak.sum(parts.E, axis=1),
        },
        with_name="Momentum4D",
    )


def to_cartesian(parts: ak.Array) -> np.ndarray:
    """Flat array [n, 4] of (E, px, py, pz) in GeV for all constituents, in order."""
    flat = ak.flatten(parts, axis=1)
    return np.stack(
        [ak.to_numpy(flat.E), ak.to_numpy(flat.px), ak.to_numpy(flat.py), ak.to_numpy(flat.pz)],
        axis=1,
    )
