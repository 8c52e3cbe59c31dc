"""JetNet metrics (W1M, W1P, W1EFP, FPD, KPD) and substructure W1s (τ21, τ32, D2, EEC,
multiplicity) of generated jets, next to the truth baseline."""

from hepvae.evaluate.core import EVALUATE_METRICS, UNITS, evaluate
from hepvae.evaluate.metrics import METRICS, SCALES, compute_metrics, sample_sizes
from hepvae.evaluate.report import metrics_table, substructure_table, write_metrics
from hepvae.evaluate.substructure import SUBSTRUCTURE_METRICS

__all__ = [
    "EVALUATE_METRICS",
    "METRICS",
    "SCALES",
    "SUBSTRUCTURE_METRICS",
    "UNITS",
    "compute_metrics",
    "evaluate",
    "metrics_table",
    "sample_sizes",
    "substructure_table",
    "write_metrics",
]
