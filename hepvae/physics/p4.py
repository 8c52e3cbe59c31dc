"""Four-momentum helpers on numpy and awkward arrays with ``vector`` behaviours (GeV).

The numpy/awkward twin of :mod:`hepvae.physics.kinematics` (torch).
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np
import vector

vector.register_awkward()

_TWO_PI = 2.0 * np.pi


def wrap_phi(phi: Any) -> Any:
    """Azimuthal angles (differences) wrapped to [-pi, pi); exact for angles already in range.

    Works on numbers, numpy and awkward arrays. The numpy twin of
    :func:`hepvae.physics.kinematics.wrap_angle` (same formula).
    """
    return phi - _TWO_PI * np.floor((phi + np.pi) / _TWO_PI)


def delta_r(eta1: Any, phi1: Any, eta2: Any, phi2: Any) -> Any:
    """Angular distance sqrt(d_eta^2 + d_phi^2), d_phi wrapped to [-pi, pi); elementwise on
    numbers, numpy and awkward arrays."""
    return np.hypot(eta1 - eta2, wrap_phi(phi1 - phi2))


def pt_eta_phi(px: Any, py: Any, pz: Any) -> tuple[Any, Any, Any]:
    """pT [GeV], pseudorapidity asinh(pz / pT) and azimuth (wrapped to [-pi, pi)) from
    px, py, pz [GeV]; numpy or awkward arrays. The twin of
    :func:`hepvae.physics.kinematics.pt_eta_phi_m` without the mass."""
    pt = np.hypot(px, py)
    return pt, np.arcsinh(pz / pt), wrap_phi(np.arctan2(py, px))


def invariant_mass(energy: Any, px: Any, py: Any, pz: Any) -> Any:
    """Mass sqrt(max(E^2 - p^2, 0)) [GeV] from E, px, py, pz [GeV] (space-like: massless)."""
    return np.sqrt(np.maximum(energy**2 - px**2 - py**2 - pz**2, 0.0))


def cartesian(pt: Any, eta: Any, phi: Any, mass: Any) -> tuple[Any, Any, Any, Any]:
    """(px, py, pz, E) [GeV] from pT [GeV], eta, phi and mass [GeV], with
    E = sqrt(px^2 + py^2 + pz^2 + m^2); numpy or awkward arrays."""
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    return px, py, pz, np.sqrt(px**2 + py**2 + pz**2 + mass**2)


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


def jet_coordinates(parts: ak.Array) -> dict[str, Any]:
    """pt [GeV], eta, phi (wrapped to [-pi, pi)) and mass [GeV] of the sum of jagged
    four-momenta per jet; the mass is sqrt(max(m^2, 0)), so one massless constituent gives 0."""
    total = sum_p4(parts)
    return {
        "pt": total.pt,
        "eta": total.eta,
        "phi": wrap_phi(total.phi),
        "mass": np.sqrt(np.maximum(total.mass2, 0.0)),
    }


def to_cartesian(parts: ak.Array) -> np.ndarray:
    """Flat array [n, 4] of (E, px, py, pz) in GeV for all constituents, in order."""
    flat = ak.flatten(parts, axis=1)
    return np.stack(
        [ak.to_numpy(flat.E), ak.to_numpy(flat.px), ak.to_numpy(flat.py), ak.to_numpy(flat.pz)],
        axis=1,
    )
