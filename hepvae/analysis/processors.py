"""coffea processors over hepvae files (read with :class:`hepvae.data.nanoevents.HepvaeSchema`)."""

from __future__ import annotations

from typing import Any

from coffea import processor

from hepvae.analysis.histograms import Binning, book, fill


class JetObservables(processor.ProcessorABC):
    """Histograms of jet and constituent observables, per data set.

    Output: ``{dataset: {"n_jets": int, "hists": {name: hist.Hist}}}`` with the histograms of
    :data:`hepvae.analysis.histograms.SPECS` (jet pT, η, mass, stored and original multiplicity; constituent
    pT_rel, η_rel, φ_rel; 2-point EEC, projected E3C; τ21, τ32, D2; jet width) and ``label``.
    The jet kinematics come from the stored jet unless ``jet_axis`` is ``"constituents"``
    (the sum of the stored constituents, see :func:`hepvae.analysis.histograms.fill`).
    The physics lives in :mod:`hepvae.physics.observables`; this class only fills.
    """

    def __init__(
        self,
        binning: Binning | None = None,
        r0: float = 0.8,
        eec3_particles: int | None = 30,
        jet_axis: str = "stored",
    ):
        self.binning = binning or Binning()
        self.r0 = r0
        self.eec3_particles = eec3_particles
        self.jet_axis = jet_axis

    def process(self, events) -> dict[str, Any]:
        hists = book(self.binning)
        fill(hists, events.Jet, events.Part, r0=self.r0, eec3_particles=self.eec3_particles,
             jet_axis=self.jet_axis)  # fmt: skip
        return {events.metadata["dataset"]: {"n_jets": len(events), "hists": hists}}

    def postprocess(self, accumulator: dict[str, Any]) -> dict[str, Any]:
        return accumulator
