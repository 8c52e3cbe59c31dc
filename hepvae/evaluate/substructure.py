"""Substructure W1 distances between two samples of jets, next to the JetNet metrics.

Each is the 1-Wasserstein distance (``scipy.stats.wasserstein_distance``) between the two
samples' distributions of one observable, computed from the leading ``n_particles``
constituents of each jet (the ones the JetNet metrics see) with :mod:`hepvae.physics.observables`:

============  ===============================================================  ==============
metric        observable                                                       unit of W1
============  ===============================================================  ==============
w1tau21       τ21 = τ2/τ1, N-subjettiness (fastjet), R0 = 0.8, β = 1            dimensionless
w1tau32       τ32 = τ3/τ2, likewise                                             dimensionless
w1d2          D2 = e3/e2³, energy correlation functions with β = 1             dimensionless
w1eec         pT-weighted 2-point EEC in ln R_L: every pair i < j of a jet     ln R_L
              at ln ΔR_ij with weight 2 z_i z_j (contact terms left out;
              R_L floored at 1e-8)
w1mult        stored constituents per jet (at most ``n_particles``)            particles
w1nparticles  ``Jet_nparticles``, the multiplicity before truncation; only     particles
              where both samples carry it (it differs from the stored count
              for some jets in each), otherwise left out with a note
============  ===============================================================  ==============

They do not depend on the jet axis: energy fractions are relative to the constituents' pT
sum. Errors follow jetnet's W1M: ``w1_batches`` bootstrap batches of ``w1_eval_samples``
jets drawn with replacement from each sample (for the EEC, all pairs of the drawn jets);
value and error are the mean and standard deviation over the batches.

Cost: the EEC dominates (sorting all pairs in every batch: about 1.5 s of CPU per batch of
5 000 jets of 30 constituents, so about 40 s per comparison at 25 000 jets); τ (fastjet) takes
about 0.1 ms per jet, the rest is negligible.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import awkward as ak
import numpy as np

from hepvae.evaluate.metrics import MetricValue, SampleSizes
from hepvae.physics import observables as obs

#: the substructure metrics, in the order the tables show them
SUBSTRUCTURE_METRICS = ("w1tau21", "w1tau32", "w1d2", "w1eec", "w1mult", "w1nparticles")
#: display scale of each (value / scale is shown)
SUBSTRUCTURE_SCALES = {"w1tau21": 1e-3, "w1tau32": 1e-3, "w1d2": 1e-3, "w1eec": 1e-3,
                       "w1mult": 1.0, "w1nparticles": 1.0}  # fmt: skip
#: what each W1 is measured in, for the tables
SUBSTRUCTURE_UNITS = {"w1tau21": "", "w1tau32": "", "w1d2": "", "w1eec": "ln R_L",
                      "w1mult": "particles", "w1nparticles": "particles"}  # fmt: skip
#: fewest jets per sample (a few dozen jets per bootstrap batch)
SUBSTRUCTURE_MIN_JETS = dict.fromkeys(SUBSTRUCTURE_METRICS, 50)
#: smallest R_L of the EEC (coincident constituents would sit at ln 0 = -inf)
MIN_R_L = 1e-8
#: N-subjettiness and D2 parameters
R0, BETA = 0.8, 1.0


@dataclass(frozen=True)
class Substructure:
    """Per-jet observables of ``n_jets`` jets: ``values[name]`` [N], the EEC pairs (jagged)."""

    n_jets: int
    values: dict[str, np.ndarray] = field(default_factory=dict)
    eec_log_r: ak.Array | None = None
    eec_weight: ak.Array | None = None


def nparticles_meaningful(jets: ak.Array) -> bool:
    """Whether ``Jet_nparticles`` says more than the stored count: it differs for some jet."""
    return bool(np.any(ak.to_numpy(jets.Jet.nparticles) != ak.to_numpy(ak.num(jets.Part, axis=1))))


def substructure(jets: ak.Array, n_particles: int, metrics: Sequence[str]) -> Substructure:
    """The observables that ``metrics`` need, from the leading ``n_particles`` constituents."""
    parts = obs.leading(jets.Part, n_particles)
    values: dict[str, np.ndarray] = {}
    if {"w1tau21", "w1tau32"} & set(metrics):
        values["w1tau21"], values["w1tau32"] = obs.tau_ratios(
            obs.nsubjettiness(parts, r0=R0, beta=BETA)
        )
    if "w1d2" in metrics:
        values["w1d2"] = obs.d2(parts, beta=BETA)
    if "w1mult" in metrics:
        values["w1mult"] = obs.multiplicity(parts).astype(np.float64)
    if "w1nparticles" in metrics:
        values["w1nparticles"] = ak.to_numpy(jets.Jet.nparticles).astype(np.float64)
    if "w1eec" not in metrics:
        return Substructure(len(jets), values)
    corr = obs.eec2(parts)
    log_r = np.log(np.maximum(corr.r_l, MIN_R_L))
    return Substructure(len(jets), values, log_r, corr.weight)


def _bootstrap(
    n_ref: int, n_other: int, sizes: SampleSizes, seed: Sequence[int], w1: Callable[..., float]
) -> MetricValue:
    """Mean and spread of ``w1(ref_index, other_index)`` over bootstrap batches (as jetnet)."""
    rng = np.random.default_rng(seed)
    w1s = [
        w1(rng.choice(n_ref, sizes.w1_eval_samples), rng.choice(n_other, sizes.w1_eval_samples))
        for _ in range(sizes.w1_batches)
    ]
    return MetricValue(float(np.mean(w1s)), float(np.std(w1s)))


def _flat(array: ak.Array) -> np.ndarray:
    return ak.to_numpy(ak.flatten(array, axis=1))


def _distance(reference: Substructure, other: Substructure, name: str) -> Callable[..., float]:
    """W1 of metric ``name`` between the jets ``i`` of ``reference`` and ``j`` of ``other``."""
    from scipy.stats import wasserstein_distance

    if name == "w1eec":
        ref_r, ref_w = reference.eec_log_r, reference.eec_weight
        oth_r, oth_w = other.eec_log_r, other.eec_weight
        return lambda i, j: wasserstein_distance(
            _flat(ref_r[i]), _flat(oth_r[j]), _flat(ref_w[i]), _flat(oth_w[j])
        )
    a, b = reference.values[name], other.values[name]
    return lambda i, j: wasserstein_distance(a[i], b[j])


def substructure_w1(
    reference: Substructure,
    other: Substructure,
    sizes: SampleSizes,
    metrics: Sequence[str],
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, MetricValue]:
    """W1 of each of ``metrics`` (:data:`SUBSTRUCTURE_METRICS`) between two samples.

    Each metric draws its batches from its own generator seeded with ``seed`` and the
    metric's index, so a metric's value does not depend on which others are computed.
    """
    out: dict[str, MetricValue] = {}
    for name in metrics:
        out[name] = _bootstrap(
            reference.n_jets,
            other.n_jets,
            sizes,
            [seed, SUBSTRUCTURE_METRICS.index(name)],
            _distance(reference, other, name),
        )
        if progress is not None:
            progress(name)
    return out
