"""Jet observables against independent brute-force numpy sums and known jet shapes."""

from __future__ import annotations

import itertools

import awkward as ak
import numpy as np
import pytest

from hepvae.physics.observables import (
    d2,
    eec2,
    eec3_projected,
    energy_correlations,
    jet_width,
    nsubjettiness,
    tau_ratios,
)
from hepvae.physics.p4 import constituents, sum_p4

# three small jets built by hand: (pt [GeV], eta, phi) per constituent; the third crosses phi=pi
HAND_JETS = [
    [(300.0, 0.10, 0.20), (150.0, -0.05, 0.30), (50.0, 0.30, -0.10), (10.0, 0.0, 0.0)],
    [(500.0, 1.00, -1.00), (400.0, 1.30, -1.20)],
    [(200.0, -0.50, 3.10), (120.0, -0.40, -3.05), (60.0, -0.70, 3.00), (30.0, -0.45, -3.12),
     (5.0, -0.60, 2.95)],
]  # fmt: skip


def _parts(jets):
    pt = ak.Array([[c[0] for c in j] for j in jets])
    eta = ak.Array([[c[1] for c in j] for j in jets])
    phi = ak.Array([[c[2] for c in j] for j in jets])
    return constituents(pt, eta, phi)


def _dr(a, b):
    dphi = (a[2] - b[2] + np.pi) % (2 * np.pi) - np.pi
    return np.hypot(a[1] - b[1], dphi)


def _histogram(values, weights, edges):
    """Weights per bin with under/overflow, like hist's flow=True."""
    idx = np.searchsorted(edges, values, side="right")
    return np.bincount(idx, weights=weights, minlength=len(edges) + 1)


EDGES = np.geomspace(1e-3, 1.6, 25)


def _binned(corr, edges=EDGES):
    """Per-jet binned correlator from the vectorized result (contact term at R_L = 0)."""
    out = []
    for r, w, c in zip(ak.to_list(corr.r_l), ak.to_list(corr.weight), corr.contact):
        out.append(_histogram(np.array(r + [0.0]), np.array(w + [c]), edges))
    return np.array(out)


def test_eec2_matches_brute_force_sum_and_is_normalized():
    corr = eec2(_parts(HAND_JETS))
    for jet, binned in zip(HAND_JETS, _binned(corr)):
        total = sum(c[0] for c in jet)
        r, w = [], []
        for a, b in itertools.product(jet, jet):  # all ordered pairs, diagonal included
            r.append(_dr(a, b))
            w.append(a[0] * b[0] / total**2)
        expected = _histogram(np.array(r), np.array(w), EDGES)
        np.testing.assert_allclose(binned, expected, rtol=1e-5, atol=1e-7)
        assert binned.sum() == pytest.approx(1.0, rel=1e-6)  # one per jet, contact included
    # the contact (i = j) weight is sum z_i^2 and sits in the underflow bin
    z = np.array([c[0] for c in HAND_JETS[1]]) / 900.0
    assert corr.contact[1] == pytest.approx(np.sum(z**2), rel=1e-6)


def test_projected_e3c_matches_brute_force_sum_and_is_normalized():
    corr = eec3_projected(_parts(HAND_JETS))
    for jet, binned in zip(HAND_JETS, _binned(corr)):
        total = sum(c[0] for c in jet)
        r, w = [], []
        for a, b, c in itertools.product(jet, jet, jet):  # all ordered triples
            r.append(max(_dr(a, b), _dr(a, c), _dr(b, c)))
            w.append(a[0] * b[0] * c[0] / total**3)
        expected = _histogram(np.array(r), np.array(w), EDGES)
        np.testing.assert_allclose(binned, expected, rtol=1e-5, atol=1e-7)
        assert binned.sum() == pytest.approx(1.0, rel=1e-6)


def test_e3c_on_leading_particles_only():
    full = eec3_projected(_parts(HAND_JETS[2:]))
    lead = eec3_projected(_parts(HAND_JETS[2:]), max_particles=3)
    assert np.count_nonzero(lead.weight) == 3 + 1  # 3 pairs + 1 triple
    assert np.count_nonzero(full.weight) == 10 + 10
    assert lead.weight.sum() + lead.contact[0] == pytest.approx(1.0, rel=1e-12)
    # the leading three are (200, 120, 60) GeV: their weights, renormalized to them
    z = np.array([200.0, 120.0, 60.0]) / 380.0
    assert lead.contact[0] == pytest.approx(np.sum(z**3), rel=1e-12)


def test_jet_width_matches_brute_force():
    parts = _parts(HAND_JETS)
    axis = sum_p4(parts)
    width = jet_width(axis, parts)
    for jet, value, eta, phi in zip(HAND_JETS, width, axis.eta, axis.phi):
        total = sum(c[0] for c in jet)
        expected = sum(c[0] * _dr(c, (0, eta, phi)) for c in jet) / total
        assert value == pytest.approx(expected, rel=1e-5)


def _prong_jet(rng, centers, n_per=10, spread=0.02):
    """Constituents scattered by ``spread`` around each (eta, phi) centre, pT ~ 50 GeV each."""
    pt, eta, phi = [], [], []
    for ce, cp in centers:
        pt += list(rng.exponential(50.0, n_per) + 1.0)
        eta += list(ce + rng.normal(0, spread, n_per))
        phi += list(cp + rng.normal(0, spread, n_per))
    return pt, eta, phi


def test_tau21_small_for_two_prongs_large_for_one_and_tau32_for_three():
    rng = np.random.default_rng(3)
    shapes = {
        "one": [(0.0, 0.0)],
        "two": [(-0.2, 0.0), (0.2, 0.0)],
        "three": [(0.0, 0.25), (0.2, -0.15), (-0.2, -0.15)],
    }
    jets = [_prong_jet(rng, centers) for centers in shapes.values()]
    parts = constituents(*(ak.Array([j[k] for j in jets]) for k in range(3)))
    tau21, tau32 = tau_ratios(nsubjettiness(parts))
    one, two, three = 0, 1, 2
    assert tau21[one] > 0.5
    assert tau21[two] < 0.2
    assert tau32[three] < 0.3 < tau32[two]


def test_tau1_of_two_equal_prongs_is_analytic():
    # two massless 500 GeV particles at dR = 0.4: tau1 = (2 * 500 * 0.2) / (1000 * R0)
    parts = constituents(ak.Array([[500.0, 500.0]]), ak.Array([[0.0, 0.4]]), ak.Array([[0, 0.0]]))
    taus = nsubjettiness(parts, r0=0.8)
    assert taus[0, 0] == pytest.approx(0.25, abs=2e-3)
    assert taus[0, 1] == pytest.approx(0.0, abs=1e-9)  # two particles: two exact axes
    assert tau_ratios(taus)[1][0] == 0.0  # tau32 with tau2 = 0 is defined as 0


def test_energy_correlations_and_d2_match_brute_force_sums():
    # HAND_JETS has 4, 2 and 5 constituents; add a 3-particle jet with every pair distinct
    jets = HAND_JETS + [[(400.0, 0.0, 0.0), (300.0, 0.3, 0.1), (100.0, -0.2, 0.25)]]
    for beta in (1.0, 2.0):
        e2, e3 = energy_correlations(_parts(jets), beta=beta)
        values = d2(_parts(jets), beta=beta)
        for k, jet in enumerate(jets):
            total = sum(c[0] for c in jet)
            z = [c[0] / total for c in jet]
            pairs = itertools.combinations(range(len(jet)), 2)
            triples = itertools.combinations(range(len(jet)), 3)
            b2 = sum(z[i] * z[j] * _dr(jet[i], jet[j]) ** beta for i, j in pairs)
            b3 = sum(
                z[i] * z[j] * z[k] * (_dr(jet[i], jet[j]) * _dr(jet[i], jet[k])
                                      * _dr(jet[j], jet[k])) ** beta
                for i, j, k in triples
            )  # fmt: skip
            assert e2[k] == pytest.approx(b2, rel=1e-6)
            assert e3[k] == pytest.approx(b3, rel=1e-6, abs=1e-15)
            assert values[k] == pytest.approx(b3 / b2**3 if b2 > 0 else 0.0, rel=1e-6)
    assert e3[1] == 0.0 and values[1] == 0.0  # two constituents: no triples


def test_d2_agrees_with_fastjet_energy_correlator_and_counts_prongs():
    import fastjet

    from hepvae.physics.observables import _cartesian

    rng = np.random.default_rng(5)
    shapes = ([(0.0, 0.0)], [(-0.2, 0.0), (0.2, 0.0)])
    jets = [_prong_jet(rng, centers, n_per=12) for centers in shapes for _ in range(3)]
    parts = constituents(*(ak.Array([j[k] for j in jets]) for k in range(3)))
    ours = d2(parts)
    sequence = fastjet.ClusterSequence(
        _cartesian(parts), fastjet.JetDefinition(fastjet.kt_algorithm, 0.8)
    )
    theirs = sequence.exclusive_jets_energy_correlator(njets=1, func="d2", beta=1.0)
    np.testing.assert_allclose(ours, np.ravel(ak.to_numpy(theirs)), rtol=1e-9)
    assert ours[3:].max() < ours[:3].min()  # two-prong jets have the smaller D2
    assert d2(parts[:0]).shape == (0,)
