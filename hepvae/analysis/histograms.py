"""The comparison histograms: binning (a typed config), booking and filling from one chunk.

Every histogram has ``Weight`` storage and one axis named after the observable. Jet-level
histograms get one entry per jet, constituent-level ones one per constituent, and the energy
correlators a total weight of one per jet (contact terms in the underflow bin, see
:mod:`hepvae.physics.observables`). So for N jets, ``h.sum(flow=True).value`` is N for jet-level
histograms and the correlators, and the number of constituents for constituent-level ones.
Variances treat jets as independent and the entries within a jet as correlated
(:func:`fill_per_jet`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import awkward as ak
import hist
import numpy as np

from hepvae.physics import observables as obs
from hepvae.physics.coords import JET_AXES, constituent_jets, relative_coordinates


@dataclass(frozen=True)
class Axis:
    """A regular axis: ``bins`` between ``start`` and ``stop`` (log-spaced if ``log``)."""

    bins: int
    start: float
    stop: float
    log: bool = False

    def __post_init__(self):
        if self.bins <= 0 or not self.stop > self.start or (self.log and self.start <= 0):
            raise ValueError(f"invalid axis {self}")


@dataclass(frozen=True)
class Binning:
    """Binning of every histogram (defaults suit JetNet-like jets, pT ≈ 1 TeV, R = 0.8)."""

    jet_pt: Axis = Axis(50, 0.0, 2500.0)
    jet_eta: Axis = Axis(50, -2.5, 2.5)
    jet_mass: Axis = Axis(50, 0.0, 400.0)
    max_multiplicity: int = 150
    nparticles: Axis = Axis(50, 0.0, 250.0)
    pt_rel: Axis = Axis(50, 1e-4, 1.0, log=True)
    eta_rel: Axis = Axis(50, -0.8, 0.8)
    phi_rel: Axis = Axis(50, -0.8, 0.8)
    r_l: Axis = Axis(40, 1e-3, 1.6, log=True)
    tau: Axis = Axis(50, 0.0, 1.0)
    d2: Axis = Axis(60, 0.0, 6.0)
    width: Axis = Axis(60, 0.0, 0.6)


@dataclass(frozen=True)
class Spec:
    """How an observable is histogrammed and drawn.

    ``level``: one entry per jet, per constituent, or a per-jet correlator weight.
    ``density``: the plot divides by N_jets and by the bin width in x (``"linear"``) or in
    ln x (``"log"``), or by N_jets only (``"count"``, integer observables on an ``Integer``
    axis whose upper end is the binning key ``axis``).
    """

    name: str
    xlabel: str
    ylabel: str
    level: Literal["jet", "constituent", "correlator"]
    axis: str
    density: Literal["linear", "log", "count"] = "linear"
    logx: bool = False
    logy: bool = False


_PER_JET = r"$\frac{1}{N_\mathrm{jets}}$"
SPECS: tuple[Spec, ...] = (
    Spec("jet_pt", r"Jet $p_\mathrm{T}$ [GeV]", _PER_JET + r"$\frac{dN}{dp_\mathrm{T}}$ [GeV$^{-1}$]", "jet", "jet_pt"),
    Spec("jet_eta", r"Jet $\eta$", _PER_JET + r"$\frac{dN}{d\eta}$", "jet", "jet_eta"),
    Spec("jet_mass", r"Jet mass $m$ [GeV]", _PER_JET + r"$\frac{dN}{dm}$ [GeV$^{-1}$]", "jet", "jet_mass"),
    Spec("multiplicity", "Stored constituents per jet", "Fraction of jets", "jet", "max_multiplicity",
         density="count"),
    Spec("nparticles", r"Constituents before truncation $n$", _PER_JET + r"$\frac{dN}{dn}$", "jet",
         "nparticles"),
    Spec("pt_rel", r"Constituent $p_\mathrm{T}^\mathrm{rel} = p_\mathrm{T}/p_\mathrm{T}^\mathrm{jet}$",
         _PER_JET + r"$\frac{dN_\mathrm{const}}{d\ln p_\mathrm{T}^\mathrm{rel}}$", "constituent", "pt_rel",
         density="log", logx=True, logy=True),
    Spec("eta_rel", r"Constituent $\eta^\mathrm{rel} = \eta - \eta^\mathrm{jet}$",
         _PER_JET + r"$\frac{dN_\mathrm{const}}{d\eta^\mathrm{rel}}$", "constituent", "eta_rel", logy=True),
    Spec("phi_rel", r"Constituent $\phi^\mathrm{rel} = \phi - \phi^\mathrm{jet}$",
         _PER_JET + r"$\frac{dN_\mathrm{const}}{d\phi^\mathrm{rel}}$", "constituent", "phi_rel", logy=True),
    Spec("eec2", r"EEC angle $R_L = \Delta R_{ij}$", _PER_JET + r"$\frac{d\Sigma_\mathrm{EEC}}{d\ln R_L}$",
         "correlator", "r_l", density="log", logx=True),
    Spec("eec3", r"Projected E3C angle $R_L = \max\,\Delta R$", _PER_JET + r"$\frac{d\Sigma_\mathrm{E3C}}{d\ln R_L}$",
         "correlator", "r_l", density="log", logx=True),
    Spec("tau21", r"$\tau_{21} = \tau_2/\tau_1$", _PER_JET + r"$\frac{dN}{d\tau_{21}}$", "jet", "tau"),
    Spec("tau32", r"$\tau_{32} = \tau_3/\tau_2$", _PER_JET + r"$\frac{dN}{d\tau_{32}}$", "jet", "tau"),
    Spec("d2", r"$D_2^{(\beta=1)} = e_3/e_2^3$", _PER_JET + r"$\frac{dN}{dD_2}$", "jet", "d2"),
    Spec("width", r"Jet width $\Sigma_i\, z_i\,\Delta R(i, \mathrm{jet})$", _PER_JET + r"$\frac{dN}{d\,\mathrm{width}}$",
         "jet", "width", logy=True),
)  # fmt: skip
SPEC_BY_NAME = {spec.name: spec for spec in SPECS}


def _axis(spec: Spec, binning: Binning) -> hist.axis.AxesMixin:
    if spec.density == "count":
        top = getattr(binning, spec.axis)
        return hist.axis.Integer(0, top + 1, name=spec.name, label=spec.xlabel)
    ax: Axis = getattr(binning, spec.axis)
    transform = hist.axis.transform.log if ax.log else None
    return hist.axis.Regular(
        ax.bins, ax.start, ax.stop, transform=transform, name=spec.name, label=spec.xlabel
    )


def book(binning: Binning | None = None) -> dict[str, hist.Hist]:
    """Empty histograms, one per observable in :data:`SPECS`, plus ``label`` (jet types)."""
    binning = binning or Binning()
    hists = {
        spec.name: hist.Hist(_axis(spec, binning), storage=hist.storage.Weight()) for spec in SPECS
    }
    hists["label"] = hist.Hist(
        hist.axis.Integer(0, 5, name="label", label="Jet type (JetNet code)"),
        storage=hist.storage.Weight(),
    )
    return hists


def _np(array) -> np.ndarray:
    return np.asarray(ak.to_numpy(ak.flatten(array, axis=None)), dtype=np.float64)


def _entries(array) -> tuple[np.ndarray, np.ndarray]:
    """Flat values of a jagged [N, var] or padded [N, M] array, and each value's jet index."""
    if isinstance(array, np.ndarray):
        return array.ravel().astype(np.float64), np.repeat(np.arange(len(array)), array.shape[1])
    counts = ak.to_numpy(ak.num(array, axis=1))
    return _np(array), np.repeat(np.arange(len(counts)), counts)


def fill_per_jet(
    h: hist.Hist, values: np.ndarray, jet: np.ndarray, n_jets: int, weights=None
) -> None:
    """Add entries that belong to ``n_jets`` jets (``jet``: each entry's jet index) to ``h``.

    Entries of one jet (its constituents, pairs, triples) are correlated, so the statistical
    variance of a bin is the sum over jets of the squared per-jet content, not the sum of the
    squared weights; this is what goes into the histogram's variance.
    """
    extent = h.axes[0].extent  # bins + underflow + overflow
    slot = h.axes[0].index(values) + 1  # -1 (underflow) .. size (overflow) -> 0 .. size + 1
    per_jet = np.bincount(jet * extent + slot, weights=weights, minlength=n_jets * extent).reshape(
        n_jets, extent
    )
    view = h.view(flow=True)
    view.value += per_jet.sum(axis=0)
    view.variance += (per_jet**2).sum(axis=0)


#: most correlator entries (pairs + triples) held in memory at once, ~ 100 MB per array
CORRELATOR_BUDGET = 2_000_000


def _block_size(parts: ak.Array, eec3_particles: int | None) -> int:
    """Jets per block such that the correlators of a block stay within the budget."""
    n = int(ak.max(ak.num(parts, axis=1))) if len(parts) else 0
    m = n if eec3_particles is None else min(n, eec3_particles)
    per_jet = max(n * (n - 1) // 2, m * (m - 1) // 2 + m * (m - 1) * (m - 2) // 6, 1)
    return max(1, CORRELATOR_BUDGET // per_jet)


def fill(
    hists: dict[str, hist.Hist],
    jets: ak.Array,
    parts: ak.Array,
    r0: float = 0.8,
    eec3_particles: int | None = 30,
    jet_axis: str = "stored",
) -> None:
    """Fill the histograms from one chunk: ``jets`` [N] records and their jagged ``parts``.

    ``r0`` is the N-subjettiness radius, ``eec3_particles`` the leading constituents used for
    the projected E3C (None: all). ``jet_axis="stored"`` (the default, the JetNet convention)
    takes the jet pT, eta, mass and the constituents' relative coordinates from the stored jet
    (for simulated jets: all constituents, also those beyond the stored ones),
    ``"constituents"`` from the sum of the stored constituents (what a generator of only those
    constituents emits).
    """
    if jet_axis not in JET_AXES:
        raise ValueError(f"jet_axis must be one of {JET_AXES}, got {jet_axis!r}")
    if jet_axis == "constituents":
        plain = ak.zip({k: jets[k] for k in ("pt", "eta", "phi", "mass", "label", "nparticles")})
        jets = constituent_jets(plain, parts)
    n = len(jets)
    hists["jet_pt"].fill(_np(jets.pt))
    hists["jet_eta"].fill(_np(jets.eta))
    hists["jet_mass"].fill(_np(jets.mass))
    hists["label"].fill(np.asarray(ak.to_numpy(jets.label), dtype=np.int64))
    hists["multiplicity"].fill(obs.multiplicity(parts))
    hists["nparticles"].fill(_np(jets.nparticles))

    rel = relative_coordinates(ak.zip({"Jet": jets, "Part": parts}, depth_limit=1))
    for name in ("pt_rel", "eta_rel", "phi_rel"):
        fill_per_jet(hists[name], *_entries(rel[name]), n)

    step = _block_size(parts, eec3_particles)
    for start in range(0, n, step):
        block = parts[start : start + step]
        for name, corr in (
            ("eec2", obs.eec2(block)),
            ("eec3", obs.eec3_projected(block, eec3_particles)),
        ):
            r_l, jet = _entries(corr.r_l)
            weight, _ = _entries(corr.weight)
            contact_jet = np.arange(len(block))
            fill_per_jet(  # the contact terms at R_L = 0 go to the underflow bin
                hists[name],
                np.concatenate([r_l, np.zeros(len(block))]),
                np.concatenate([jet, contact_jet]),
                len(block),
                weights=np.concatenate([weight, corr.contact]),
            )

    tau21, tau32 = obs.tau_ratios(obs.nsubjettiness(parts, r0=r0))
    hists["tau21"].fill(tau21)
    hists["tau32"].fill(tau32)
    hists["d2"].fill(obs.d2(parts))
    hists["width"].fill(obs.jet_width(jets, parts))
