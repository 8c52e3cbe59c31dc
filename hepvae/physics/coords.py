"""Jet-relative constituent coordinates (the JetNet convention)."""

from __future__ import annotations

import awkward as ak
import numpy as np

from hepvae.data.schema import wrap_phi


def relative_coordinates(jets: ak.Array) -> ak.Array:
    """Constituent coordinates relative to their jet: ``eta_rel``, ``phi_rel``, ``pt_rel``.

    ``eta_rel = eta - eta_jet``, ``phi_rel`` wrapped to [-pi, pi), ``pt_rel = pt / pt_jet``.
    """
    jet, part = jets.Jet, jets.Part
    return ak.zip(
        {
            "eta_rel": part.eta - jet.eta,
            "phi_rel": wrap_phi(part.phi - jet.phi),
            "pt_rel": part.pt / jet.pt,
        }
    )


def from_relative(
    jet_pt: np.ndarray,
    jet_eta: np.ndarray,
    jet_phi: np.ndarray,
    eta_rel: ak.Array,
    phi_rel: ak.Array,
    pt_rel: ak.Array,
) -> tuple[ak.Array, ak.Array, ak.Array]:
    """Invert :func:`relative_coordinates`: constituent ``pt`` [GeV], ``eta``, ``phi``."""
    return pt_rel * jet_pt, eta_rel + jet_eta, wrap_phi(phi_rel + jet_phi)


def to_jetnet(jets: ak.Array, n_particles: int = 30) -> np.ndarray:
    """Leading ``n_particles`` constituents as a JetNet array [N, n_particles, 4].

    Features per slot: ``eta_rel``, ``phi_rel``, ``pt_rel``, ``mask`` (1 for a real particle);
    empty slots are zero. Constituents are sorted by descending pT first.
    """
    rel = relative_coordinates(jets)
    rel = rel[ak.argsort(rel.pt_rel, axis=1, ascending=False)][:, :n_particles]
    out = np.zeros((len(jets), n_particles, 4), dtype=np.float32)
    for i, field in enumerate(("eta_rel", "phi_rel", "pt_rel")):
        padded = ak.fill_none(ak.pad_none(rel[field], n_particles, axis=1, clip=True), 0.0)
        out[..., i] = ak.to_numpy(padded)
    mask = ak.fill_none(ak.pad_none(ak.ones_like(rel.pt_rel), n_particles, axis=1, clip=True), 0.0)
    out[..., 3] = ak.to_numpy(mask)
    return out


def jetnet_jet_features(jets: ak.Array) -> np.ndarray:
    """JetNet jet features [N, 4]: pT [GeV], eta, mass [GeV], stored multiplicity."""
    return np.stack(
        [
            ak.to_numpy(jets.Jet.pt),
            ak.to_numpy(jets.Jet.eta),
            ak.to_numpy(jets.Jet.mass),
            ak.to_numpy(ak.num(jets.Part, axis=1)),
        ],
        axis=1,
    ).astype(np.float32)
