"""The JetNet metrics between two samples of jets, computed with ``jetnet.evaluation``.

Inputs are JetNet arrays ``[N, P, 4]`` (eta_rel, phi_rel, pt_rel, mask), see
:func:`hepvae.physics.coords.to_jetnet`. The metrics and their JetNet sample sizes:

=======  ==========================================================  ==================
metric   what jetnet computes                                        JetNet sizes
=======  ==========================================================  ==================
w1m      W1 of the relative jet mass m/pT from the P constituents     5 x 50 000 jets
w1p      W1 of eta_rel, phi_rel, pt_rel of real particles (mean of 3)  5 x 50 000 jets
w1efp    W1 of the 5 EFPs with n=4, d=4, prime (mean over EFPs)       5 x 50 000 jets
fpd      Frechet distance of the 36 EFPs with d<=4, extrapolated     20 000..50 000
         to infinite sample size (value, fit error)                  (10 sizes x 20)
kpd      kernel distance (MMD, polynomial kernel of degree 4) of     10 x 5 000 jets
         the 36 EFPs (median, half the 16-84 % spread)
=======  ==========================================================  ==================

With fewer jets than these sizes, :func:`sample_sizes` scales them down (W1 batches and the
KPD batch take all jets, FPD fits 0.4 N..N) and says so in its notes. The W1 metrics draw
their bootstrap samples from jetnet's module-level generator, which :func:`compute_metrics`
seeds for reproducibility.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass

import numpy as np

#: metric names in the order the field reports them
METRICS = ("w1m", "w1p", "w1efp", "fpd", "kpd")
#: display scale: the tables show value / scale, as in the JetNet papers
SCALES = {"w1m": 1e-3, "w1p": 1e-3, "w1efp": 1e-5, "fpd": 1e-3, "kpd": 1e-3}
#: fewest jets per sample for which a metric is meaningful here; FPD needs batches larger
#: than its 36 features (0.4 N > 36), the others a few dozen jets per bootstrap sample
MIN_JETS = {"w1m": 50, "w1p": 50, "w1efp": 50, "fpd": 100, "kpd": 50}
#: number of EFP features jetnet uses for FPD and KPD (d <= 4)
N_FPD_FEATURES = 36

#: JetNet reference sizes (jetnet.evaluation defaults)
W1_EVAL_SAMPLES = 50_000
W1_BATCHES = 5
FPD_MIN_SAMPLES = 20_000
FPD_MAX_SAMPLES = 50_000
FPD_BATCHES = 20
FPD_POINTS = 10
KPD_BATCH_SIZE = 5_000
KPD_BATCHES = 10


@dataclass(frozen=True)
class SampleSizes:
    """Sizes passed to jetnet for N jets per sample, and where they depart from JetNet's."""

    n_jets: int
    w1_eval_samples: int
    w1_batches: int
    fpd_min_samples: int
    fpd_max_samples: int
    fpd_batches: int
    fpd_points: int
    kpd_batch_size: int
    kpd_batches: int
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        out = asdict(self)
        out["notes"] = list(self.notes)
        return out


def sample_sizes(n_jets: int) -> SampleSizes:
    """JetNet sample sizes where ``n_jets`` jets per sample allow them, smaller ones otherwise."""
    notes = []
    w1 = min(W1_EVAL_SAMPLES, n_jets)
    if w1 < W1_EVAL_SAMPLES:
        notes.append(f"W1 metrics: {W1_BATCHES} bootstrap batches of {w1} jets (JetNet: 50000)")
    fpd_max = min(FPD_MAX_SAMPLES, n_jets)
    fpd_min = min(FPD_MIN_SAMPLES, max(int(0.4 * n_jets), N_FPD_FEATURES + 1))
    if fpd_max < FPD_MAX_SAMPLES:
        notes.append(f"FPD: batch sizes {fpd_min}..{fpd_max} (JetNet: 20000..50000)")
    kpd = min(KPD_BATCH_SIZE, n_jets)
    if kpd < KPD_BATCH_SIZE:
        notes.append(f"KPD: {KPD_BATCHES} batches of {kpd} jets (JetNet: 5000)")
    return SampleSizes(
        n_jets=n_jets,
        w1_eval_samples=w1,
        w1_batches=W1_BATCHES,
        fpd_min_samples=fpd_min,
        fpd_max_samples=fpd_max,
        fpd_batches=FPD_BATCHES,
        fpd_points=FPD_POINTS,
        kpd_batch_size=kpd,
        kpd_batches=KPD_BATCHES,
        notes=tuple(notes),
    )


@dataclass(frozen=True)
class MetricValue:
    """A metric's value and uncertainty as jetnet returns them (unscaled), with components."""

    value: float
    error: float
    components: tuple[float, ...] = ()
    component_errors: tuple[float, ...] = ()

    def to_dict(self) -> dict:
        out = {"value": self.value, "error": self.error}
        if self.components:
            out["components"] = list(self.components)
            out["component_errors"] = list(self.component_errors)
        return out


@contextlib.contextmanager
def _seeded_jetnet(seed: int) -> Iterator[None]:
    """Seed jetnet's module-level generator (used by the W1 metrics); silence size warnings.

    BLAS runs single-threaded inside: FPD and KPD multiply many small matrices (36 features),
    where BLAS threads only add overhead; measured on 2 busy cores, FPD on 2 x 20 000 jets
    took 19 s with 2 BLAS threads and 1.4 s with one.
    """
    from jetnet.evaluation import gen_metrics
    from threadpoolctl import threadpool_limits

    saved = gen_metrics.rng
    gen_metrics.rng = np.random.default_rng(seed)
    try:
        with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
            # jetnet warns below its recommended 50 000 jets; sample_sizes notes say so instead
            warnings.filterwarnings("ignore", message="Recommended number", category=RuntimeWarning)
            yield
    finally:
        gen_metrics.rng = saved


def efp_features(jets: np.ndarray, efp_jobs: int | None = None) -> np.ndarray:
    """The 36 EFPs (d <= 4) that FPD and KPD compare, per jet: [N, 36]."""
    from jetnet.evaluation import get_fpd_kpd_jet_features

    return get_fpd_kpd_jet_features(jets[..., :3], efp_jobs=efp_jobs)


def compute_metrics(
    reference: np.ndarray,
    other: np.ndarray,
    sizes: SampleSizes,
    metrics: Sequence[str] = METRICS,
    seed: int = 0,
    efp_jobs: int | None = None,
    reference_features: np.ndarray | None = None,
    other_features: np.ndarray | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, MetricValue]:
    """JetNet metrics between two JetNet arrays [N, P, 4] with the given sample sizes.

    ``reference_features`` / ``other_features`` are the FPD/KPD EFPs if already computed
    (:func:`efp_features`); ``progress`` is called with each metric's name when it is done.
    """
    from jetnet import evaluation as ev

    ref3, oth3 = reference[..., :3], other[..., :3]
    need_features = {"fpd", "kpd"} & set(metrics)
    if need_features and reference_features is None:
        reference_features = efp_features(reference, efp_jobs)
    if need_features and other_features is None:
        other_features = efp_features(other, efp_jobs)

    out: dict[str, MetricValue] = {}
    w1_kwargs = {"num_eval_samples": sizes.w1_eval_samples, "num_batches": sizes.w1_batches}
    with _seeded_jetnet(seed):
        for name in metrics:
            if name == "w1m":
                value, error = ev.w1m(ref3, oth3, **w1_kwargs)
                out[name] = MetricValue(float(value), float(error))
            elif name == "w1p":
                means, stds = ev.w1p(
                    ref3, oth3, mask1=reference[..., 3], mask2=other[..., 3], **w1_kwargs
                )
                out[name] = _averaged(means, stds)
            elif name == "w1efp":
                means, stds = ev.w1efp(ref3, oth3, efp_jobs=efp_jobs, **w1_kwargs)
                out[name] = _averaged(means, stds)
            elif name == "fpd":
                value, error = ev.fpd(
                    reference_features,
                    other_features,
                    min_samples=sizes.fpd_min_samples,
                    max_samples=sizes.fpd_max_samples,
                    num_batches=sizes.fpd_batches,
                    num_points=sizes.fpd_points,
                    seed=seed,
                )
                out[name] = MetricValue(float(value), float(error))
            elif name == "kpd":
                value, error = ev.kpd(
                    reference_features,
                    other_features,
                    num_batches=sizes.kpd_batches,
                    batch_size=sizes.kpd_batch_size,
                    seed=seed,
                )
                out[name] = MetricValue(float(value), float(error))
            else:
                raise ValueError(f"unknown metric {name!r}")
            if progress is not None:
                progress(name)
    return out


def _averaged(means: np.ndarray, stds: np.ndarray) -> MetricValue:
    """Mean over components (JetNet's W1P, W1EFP); error: mean of the components' spreads.

    The components share their bootstrap batches, so their spreads are correlated; the mean
    of the spreads is the error of the mean for fully correlated components (conservative).
    """
    means, stds = np.asarray(means, float), np.asarray(stds, float)
    return MetricValue(
        float(means.mean()),
        float(stds.mean()),
        tuple(float(m) for m in means),
        tuple(float(s) for s in stds),
    )
