"""User-facing analysis examples on top of :mod:`hepvae.analysis`.

The processors, runner and plots live in the installed package (``hepvae.analysis``), so that
``hepvae analyze`` and dask workers import them like any other module. This folder holds
runnable examples meant to be copied and changed; run them from the repository root, e.g.
``python -m analysis.eec_in_pt_bins real.root generated.root``.
"""

from hepvae.analysis import Binning, JetObservables

__all__ = ["Binning", "JetObservables"]
