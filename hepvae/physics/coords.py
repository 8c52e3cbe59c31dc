"""Jet-relative constituent coordinates (the JetNet convention)."""

from __future__ import annotations

import awkward as ak
import numpy as np

from hepvae.physics.p4 import constituents, jet_coordinates, wrap_phi


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


#: what the JetNet coordinates are relative to (see :func:`to_jetnet`)
JET_AXES = ("constituents", "stored")


def constituent_jets(jets: ak.Array, parts: ak.Array) -> ak.Array:
    """``jets`` records with pt [GeV], eta, phi and mass [GeV] replaced by those of the sum of
    ``parts`` (jagged, pt/eta/phi/mass); other fields (label, nparticles, ...) are kept."""
    kinematics = jet_coordinates(constituents(parts.pt, parts.eta, parts.phi, parts.mass))
    for name, values in kinematics.items():
        jets = ak.with_field(jets, values, name)
    return jets


def leading_system(jets: ak.Array, n_particles: int) -> ak.Array:
    """The jets cut to their leading ``n_particles`` constituents, each ``Jet`` four-momentum
    replaced by the sum of those constituents (:func:`constituent_jets`)."""
    parts = jets.Part[ak.argsort(jets.Part.pt, axis=1, ascending=False)][:, :n_particles]
    jets = ak.with_field(jets, parts, "Part")
    return ak.with_field(jets, constituent_jets(jets.Jet, parts), "Jet")


def to_jetnet(jets: ak.Array, n_particles: int = 30, jet_axis: str = "stored") -> np.ndarray:
    """Leading ``n_particles`` constituents as a JetNet array [N, n_particles, 4].

    Features per slot: ``eta_rel``, ``phi_rel``, ``pt_rel``, ``mask`` (1 for a real particle);
    empty slots are zero. Constituents are sorted by descending pT first.
    ``jet_axis="stored"`` takes the coordinates relative to the stored ``Jet`` (the JetNet
    convention: the jet of all constituents, so ``sum(pt_rel) < 1`` when some are cut);
    ``"constituents"`` relative to the sum of the leading ``n_particles`` constituents, the jet
    a generator emits (``sum(pt_rel) = 1`` up to the angles).
    """
    if jet_axis not in JET_AXES:
        raise ValueError(f"jet_axis must be one of {JET_AXES}, got {jet_axis!r}")
    if jet_axis == "constituents":
        jets = leading_system(jets, n_particles)
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
