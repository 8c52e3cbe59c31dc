"""JetNet metrics (W1M, W1P, W1EFP, FPD, KPD) of generated jets, next to the truth baseline."""

from hepvae.evaluate.core import evaluate
from hepvae.evaluate.metrics import METRICS, SCALES, compute_metrics, sample_sizes
from hepvae.evaluate.report import metrics_table, write_metrics

__all__ = [
    "METRICS",
    "SCALES",
    "compute_metrics",
    "evaluate",
    "metrics_table",
    "sample_sizes",
    "write_metrics",
]
