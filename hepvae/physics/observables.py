"""Jet substructure observables, vectorized over jets with awkward (no per-jet Python loops).

Inputs are any awkward records with fields ``pt`` [GeV], ``eta``, ``phi`` (and ``mass`` [GeV]
where noted): the hepvae in-memory arrays (``jets.Jet``, ``jets.Part``) and coffea NanoEvents
(``events.Jet``, ``events.Part``) both work. Distances are ΔR = sqrt(Δη² + Δφ²) with Δφ
wrapped to [-π, π).

Energy weights: z_i = pT_i / Σ_k pT_k, the scalar sum over the stored constituents of the jet,
so that each jet's weights add up to exactly one.

Energy-energy correlators (pT-weighted, exponent 1), per jet:

* 2-point: Σ_EEC(R_L) = Σ_{i,j} z_i z_j δ(R_L - ΔR_ij), summed over all ordered pairs. The
  off-diagonal pairs i≠j are returned once per unordered pair with weight 2 z_i z_j; the
  diagonal (contact) terms i = j sit at R_L = 0 with weight Σ_i z_i². Off-diagonal and contact
  weights together sum to (Σ_i z_i)² = 1 per jet.
* projected 3-point: Σ_E3C(R_L) = Σ_{i,j,k} z_i z_j z_k δ(R_L - max(ΔR_ij, ΔR_ik, ΔR_jk)),
  summed over all ordered triples, coincident indices included. Distinct triples come once
  with weight 6 z_i z_j z_k; triples with two equal indices are returned per pair i<j with
  weight 3 z_i z_j (z_i + z_j) at R_L = ΔR_ij; the contact term Σ_i z_i³ sits at R_L = 0.
  The total is (Σ_i z_i)³ = 1 per jet.

Histogramming the returned R_L with these weights, the contact term in the underflow, gives
per-jet distributions that integrate to one; dividing a sum over jets by their number gives
the average per jet.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import awkward as ak
import numpy as np

from hepvae.physics.p4 import cartesian, delta_r


@dataclass(frozen=True)
class Correlator:
    """An energy correlator per jet: R_L and weights per jet, ``contact`` [N] at R_L = 0.

    ``r_l`` and ``weight`` are jagged awkward arrays or zero-weight padded [N, M] numpy arrays;
    either way, flattening both gives the entries to histogram.
    """

    r_l: ak.Array | np.ndarray
    weight: ak.Array | np.ndarray
    contact: np.ndarray


def energy_fractions(parts: ak.Array) -> ak.Array:
    """z_i = pT_i / Σ_k pT_k per jet (jagged, float64 so that each jet's sum is 1 to 1e-15)."""
    pt = ak.values_astype(parts.pt, np.float64)
    return pt / ak.sum(pt, axis=1)


def multiplicity(parts: ak.Array) -> np.ndarray:
    """Number of stored constituents per jet."""
    return ak.to_numpy(ak.num(parts, axis=1))


def jet_width(jets: ak.Array, parts: ak.Array) -> np.ndarray:
    """Jet width (girth) Σ_i z_i ΔR(i, jet axis) per jet, with the jet axis from ``jets``."""
    dr = delta_r(parts.eta, parts.phi, jets.eta, jets.phi)
    return ak.to_numpy(ak.sum(energy_fractions(parts) * dr, axis=1))


def _flat(array: ak.Array) -> np.ndarray:
    return np.asarray(ak.to_numpy(ak.flatten(array, axis=1)), dtype=np.float64)


def eec2(parts: ak.Array) -> Correlator:
    """The pT-weighted 2-point energy correlator per jet (see the module docstring).

    ``r_l`` and ``weight`` are jagged, one entry per pair i < j of each jet.
    """
    counts = ak.to_numpy(ak.num(parts, axis=1)).astype(np.int64)
    pairs = ak.argcombinations(ak.local_index(parts.pt, axis=1), 2, axis=1)
    per_jet = ak.to_numpy(ak.num(pairs, axis=1))
    offset = np.repeat(np.cumsum(counts) - counts, per_jet)  # each jet's first constituent
    a = ak.to_numpy(ak.flatten(pairs["0"])) + offset
    b = ak.to_numpy(ak.flatten(pairs["1"])) + offset
    eta, phi, z = _flat(parts.eta), _flat(parts.phi), _flat(energy_fractions(parts))
    return Correlator(
        r_l=ak.unflatten(delta_r(eta[a], phi[a], eta[b], phi[b]), per_jet),
        weight=ak.unflatten(2.0 * z[a] * z[b], per_jet),
        contact=ak.to_numpy(ak.sum(energy_fractions(parts) ** 2, axis=1)),
    )


def leading(parts: ak.Array, n: int) -> ak.Array:
    """The ``n`` leading constituents by pT of each jet."""
    return parts[ak.argsort(parts.pt, axis=1, ascending=False)][:, :n]


def _padded(array: ak.Array, width: int) -> np.ndarray:
    """A jagged array as [N, width] float64, zero-padded."""
    padded = ak.fill_none(ak.pad_none(array, width, axis=1, clip=True), 0.0)
    return np.asarray(ak.to_numpy(padded), dtype=np.float64)


@functools.lru_cache(maxsize=8)
def _index_tuples(n: int, size: int) -> tuple[np.ndarray, ...]:
    """Index arrays of all i < j (< k) among ``n`` slots, as from itertools.combinations."""
    combos = np.array(list(itertools.combinations(range(n), size)), dtype=np.intp)
    return tuple(combos.reshape(-1, size).T)


def eec3_projected(parts: ak.Array, max_particles: int | None = None) -> Correlator:
    """The pT-weighted projected 3-point correlator per jet (see the module docstring).

    ``max_particles`` restricts it to the leading constituents (weights renormalized to them).
    Computed on zero-padded [N, n] arrays (n = the largest multiplicity), which is several
    times faster than jagged triples; ``r_l`` and ``weight`` come back as [N, M] numpy arrays
    whose padded entries have weight 0. M = n(n-1)/2 + n(n-1)(n-2)/6: 4495 for n = 30, so
    process large samples in blocks of jets (:func:`hepvae.analysis.histograms.fill` does).
    """
    if max_particles is not None:
        parts = leading(parts, max_particles)
    n = int(ak.max(ak.num(parts, axis=1))) if len(parts) else 0
    z = _padded(energy_fractions(parts), n)
    eta, phi = _padded(parts.eta, n), _padded(parts.phi, n)
    dr = delta_r(eta[:, :, None], phi[:, :, None], eta[:, None, :], phi[:, None, :])
    i, j = _index_tuples(n, 2)
    pair_r = dr[:, i, j]
    pair_w = 3.0 * z[:, i] * z[:, j] * (z[:, i] + z[:, j])
    i, j, k = _index_tuples(n, 3)
    triple_r = np.maximum(np.maximum(dr[:, i, j], dr[:, i, k]), dr[:, j, k])
    triple_w = 6.0 * z[:, i] * z[:, j] * z[:, k]
    return Correlator(
        r_l=np.concatenate([pair_r, triple_r], axis=1),
        weight=np.concatenate([pair_w, triple_w], axis=1),
        contact=np.sum(z**3, axis=1),
    )


def _cartesian(parts: ak.Array) -> ak.Array:
    """px, py, pz, E [GeV] as plain float64 records, from pt, eta, phi, mass."""
    pt = ak.values_astype(parts.pt, np.float64)
    eta = ak.values_astype(parts.eta, np.float64)
    phi = ak.values_astype(parts.phi, np.float64)
    mass = ak.values_astype(parts.mass, np.float64)
    px, py, pz, energy = cartesian(pt, eta, phi, mass)
    return ak.zip({"px": px, "py": py, "pz": pz, "E": energy})


def nsubjettiness(parts: ak.Array, r0: float = 0.8, beta: float = 1.0) -> np.ndarray:
    """N-subjettiness τ1, τ2, τ3 per jet [N, 3] from fastjet contrib.

    Normalized measure, τ_N = Σ_i pT_i min_k ΔR_{i,k}^β / Σ_i pT_i R0^β, with one-pass
    exclusive-kT axes (fastjet's defaults) from all constituents of each jet. A jet with at
    most N constituents has τ_N = 0.
    """
    import fastjet

    if len(parts) == 0:
        return np.zeros((0, 3))
    sequence = fastjet.ClusterSequence(
        _cartesian(parts), fastjet.JetDefinition(fastjet.kt_algorithm, r0)
    )
    taus = sequence.njettiness(njets=[1, 2, 3], R0=r0, beta=beta)
    return np.asarray(ak.to_numpy(taus), dtype=np.float64).reshape(len(parts), 3)


def tau_ratios(taus: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """τ21 = τ2/τ1 and τ32 = τ3/τ2; 0 where the denominator is 0 (too few constituents)."""
    taus = np.asarray(taus, dtype=np.float64)

    def ratio(num, den):
        return np.divide(num, den, out=np.zeros_like(num), where=den > 0)

    return ratio(taus[:, 1], taus[:, 0]), ratio(taus[:, 2], taus[:, 1])


#: most entries of the padded [jets, n, n] arrays of :func:`d2` held at once (~ 32 MB each)
D2_BUDGET = 4_000_000


def energy_correlations(parts: ak.Array, beta: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Energy correlation functions e2 and e3 per jet (Larkoski, Salam, Thaler; pT, ΔR).

    e2 = Σ_{i<j} z_i z_j ΔR_ij^β and e3 = Σ_{i<j<k} z_i z_j z_k (ΔR_ij ΔR_ik ΔR_jk)^β, with the
    energy fractions z of :func:`energy_fractions`. Both come from the padded pairwise matrix
    W_ij = z_j ΔR_ij^β (W_ii = 0): e2 = ½ Σ_ij z_i W_ij and e3 = tr(W³)/6, since terms with
    coincident indices vanish. Jets are processed in blocks (:data:`D2_BUDGET`).
    """
    n_jets = len(parts)
    e2, e3 = np.zeros(n_jets), np.zeros(n_jets)
    n = int(ak.max(ak.num(parts, axis=1))) if n_jets else 0
    if n < 2:
        return e2, e3
    step = max(1, D2_BUDGET // (n * n))
    for start in range(0, n_jets, step):
        block = parts[start : start + step]
        z = _padded(energy_fractions(block), n)
        eta, phi = _padded(block.eta, n), _padded(block.phi, n)
        angle = delta_r(eta[:, :, None], phi[:, :, None], eta[:, None, :], phi[:, None, :]) ** beta
        w = angle * z[:, None, :]  # padded slots have z = 0 and drop out
        e2[start : start + step] = 0.5 * np.einsum("bi,bij->b", z, w)
        e3[start : start + step] = np.einsum("bij,bji->b", w @ w, w) / 6.0
    return e2, e3


def d2(parts: ak.Array, beta: float = 1.0) -> np.ndarray:
    """D2 = e3 / e2³ per jet (:func:`energy_correlations`; small for two-prong jets).

    The energy fractions are relative to the constituents given (as fastjet contrib's
    EnergyCorrelator on a jet made of them), and the ratio does not depend on an angular
    normalization ΔR/R. 0 where e2 = 0 (fewer than two constituents).
    """
    e2, e3 = energy_correlations(parts, beta)
    return np.divide(e3, e2**3, out=np.zeros_like(e3), where=e2 > 0)
