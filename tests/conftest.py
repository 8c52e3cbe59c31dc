"""Shared fixtures: small jet samples written with the real ROOT writer."""

from __future__ import annotations

import os

# idle OpenMP threads sleep instead of spinning (much faster torch on a shared CPU); set before
# any test imports torch
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from hepvae.data.schema import make_jets, write_jets


def random_jets(n: int = 50, seed: int = 0, label: int = 2, max_particles: int = 30):
    """Jets with random massless constituents whose jet four-momentum is their sum (GeV)."""
    import awkward as ak

    from hepvae.physics.p4 import constituents, sum_p4

    rng = np.random.default_rng(seed)
    counts = rng.integers(2, max_particles + 1, size=n)
    total = int(counts.sum())
    jet_eta = rng.uniform(-2, 2, n)
    jet_phi = rng.uniform(-np.pi, np.pi, n)
    pt = ak.unflatten(rng.exponential(40.0, total) + 1.0, counts)
    eta = ak.unflatten(rng.normal(0, 0.2, total), counts) + jet_eta
    phi = ak.unflatten(rng.normal(0, 0.2, total), counts) + jet_phi
    phi = (phi + np.pi) % (2 * np.pi) - np.pi
    order = ak.argsort(pt, axis=1, ascending=False)
    pt, eta, phi = pt[order], eta[order], phi[order]
    total_p4 = sum_p4(constituents(pt, eta, phi))
    return make_jets(total_p4.pt, total_p4.eta, total_p4.phi, total_p4.mass, label, pt, eta, phi)


@pytest.fixture
def jets():
    return random_jets()


@pytest.fixture
def jet_file(tmp_path, jets):
    return write_jets(tmp_path / "jets.root", jets, {"producer": "test"})


@pytest.fixture
def one_thread():
    """Small tensors: one intra-op thread is faster than two on a shared machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
