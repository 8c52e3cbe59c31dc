"""Example: a small coffea processor of your own, the 2-point EEC in bins of jet pT.

Run locally, or on a dask cluster (``--scheduler tcp://HOST:8786``, or ``--local-cluster 4``)::

    python -m analysis.eec_in_pt_bins real=REAL.root gen=GEN.root [--local-cluster 2]

It prints the EEC peak position per data set and jet-pT bin. The physics comes from
:mod:`hepvae.physics.observables`; the processor only fills a histogram.
"""

from __future__ import annotations

import argparse

import awkward as ak
import hist
import numpy as np
from coffea import processor

from hepvae.physics.observables import eec2

PT_EDGES = (0.0, 600.0, 900.0, 1200.0, 1600.0, 3000.0)  # GeV


class EECInPtBins(processor.ProcessorABC):
    """Per data set: Σ_EEC(R_L) summed over jets, in bins of jet pT [GeV]."""

    def process(self, events):
        h = hist.Hist(
            hist.axis.Variable(PT_EDGES, name="jet_pt", label="Jet $p_T$ [GeV]"),
            hist.axis.Regular(30, 1e-3, 1.6, transform=hist.axis.transform.log, name="r_l"),
            storage=hist.storage.Weight(),
        )
        corr = eec2(events.Part)
        jet_pt = ak.broadcast_arrays(events.Jet.pt, corr.r_l)[0]
        h.fill(
            jet_pt=ak.to_numpy(ak.flatten(jet_pt)),
            r_l=ak.to_numpy(ak.flatten(corr.r_l)),
            weight=ak.to_numpy(ak.flatten(corr.weight)),
        )
        h.fill(jet_pt=ak.to_numpy(events.Jet.pt), r_l=np.zeros(len(events)), weight=corr.contact)
        return {events.metadata["dataset"]: h}

    def postprocess(self, accumulator):
        return accumulator


def main(argv: list[str] | None = None) -> dict:
    from hepvae.analysis.runner import parse_datasets, run_analysis

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="+", help="FILE or NAME=FILE[,FILE...]")
    parser.add_argument("--scheduler", help="dask scheduler address")
    parser.add_argument("--local-cluster", type=int, help="dask LocalCluster workers")
    args = parser.parse_args(argv)
    out = run_analysis(
        parse_datasets(args.datasets),
        EECInPtBins(),
        scheduler=args.scheduler,
        local_cluster=args.local_cluster,
    )
    for name, h in out.items():
        for i, (lo, hi) in enumerate(zip(PT_EDGES[:-1], PT_EDGES[1:])):
            row = h.values()[i]
            if row.sum() > 0:
                peak = h.axes["r_l"].centers[np.argmax(row)]
                print(f"{name}: {lo:.0f}-{hi:.0f} GeV: EEC peak at R_L = {peak:.3f}")
    return out


if __name__ == "__main__":
    main()
