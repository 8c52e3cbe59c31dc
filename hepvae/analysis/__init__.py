"""coffea analysis of hepvae files: processors, a local or dask runner, and comparison plots."""

from hepvae.analysis.histograms import SPECS, Axis, Binning, book, fill
from hepvae.analysis.processors import JetObservables

__all__ = ["SPECS", "Axis", "Binning", "JetObservables", "book", "fill"]
