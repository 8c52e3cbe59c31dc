"""HyperVAE pieces: set losses, multiplicity gradients, sampling, normalization."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
import torch
from torch.distributions import MultivariateNormal

from hepvae.errors import HepvaeError
from hepvae.model import LossConfig, Normalization
from hepvae.model import losses as L
from hepvae.model.multiplicity import sample_counts, slot_weights, straight_through
from hepvae.physics.kinematics import pt_eta_phi_m, wrap_angle
from tests.model_helpers import dense_jets, small_model


def _sets(seed=0, b=3, n=5, d=3):
    gen = torch.Generator().manual_seed(seed)
    pred = torch.randn(b, n, d, generator=gen, dtype=torch.float64)
    true = torch.randn(b, n, d, generator=gen, dtype=torch.float64)
    pmask = torch.ones(b, n, dtype=torch.bool)
    tmask = torch.ones(b, n, dtype=torch.bool)
    tmask[min(1, b - 1), 3:] = False
    pmask[b - 1, 4:] = False
    return pred, true, pmask, tmask


@pytest.mark.parametrize("kind", ["chamfer", "hungarian", "sinkhorn"])
def test_set_losses_vanish_on_identical_sets_and_ignore_order(kind):
    pred, true, pmask, tmask = _sets()
    same = L.set_loss(kind, L.squared_distances(true, true), tmask, tmask, 0.01, 200)[0]
    assert same.abs().max() < 1e-6
    perm = torch.tensor([4, 2, 0, 1, 3])
    a = L.set_loss(kind, L.squared_distances(pred, true), pmask, tmask)[0]
    b = L.set_loss(kind, L.squared_distances(pred[:, perm], true), pmask[:, perm], tmask)[0]
    assert torch.allclose(a, b, atol=1e-9)


def test_hungarian_equals_brute_force():
    pred, true, _, _ = _sets(seed=1, b=2, n=4)
    full = torch.ones(2, 4, dtype=torch.bool)
    cost = L.squared_distances(pred, true)
    loss, assign = L.hungarian(cost, full, full)
    for b in range(2):
        best = min(
            sum(cost[b, p[j], j] for j in range(4)) for p in itertools.permutations(range(4))
        )
        assert loss[b] == pytest.approx(float(best) / 4)
        assert sorted(assign[b].tolist()) == [0, 1, 2, 3]


def test_sinkhorn_approaches_hungarian_for_small_epsilon():
    pred, true, _, _ = _sets(seed=2, b=2, n=4)
    full = torch.ones(2, 4, dtype=torch.bool)
    cost = L.squared_distances(pred, true)
    exact, _ = L.hungarian(cost, full, full)
    soft, _ = L.sinkhorn(cost / cost.max(), full, full, epsilon=0.002, iterations=2000)
    assert torch.allclose(soft * cost.max(), exact, rtol=0.05)


def test_multiplicity_head_gets_gradient_from_reconstruction():
    """With its cross-entropy switched off, the head still learns through the Gumbel path."""
    model = small_model(loss=LossConfig(multiplicity=0.0, teacher_forcing=0.0))
    p4, mask, label = dense_jets(16, seed=4)
    model(p4.float(), mask, label).total.backward()
    grads = [p.grad for p in model.multiplicity.parameters()]
    assert all(g is not None for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


def test_straight_through_is_hard_forward_soft_backward():
    logits = torch.randn(4, 6, requires_grad=True)
    y = straight_through(logits, 1.0, counts=torch.tensor([1, 2, 6, 3]))
    assert torch.equal(y.detach().argmax(-1), torch.tensor([0, 1, 5, 2]))
    assert torch.allclose(y.detach().sum(-1), torch.ones(4))
    assert torch.equal(slot_weights(y.detach())[1], torch.tensor([1.0, 1, 0, 0, 0, 0]))
    (y * torch.arange(6.0)).sum().backward()
    assert logits.grad.abs().sum() > 0


def test_sample_counts_follow_the_distribution():
    logits = torch.log(torch.tensor([[0.2, 0.5, 0.3]])).expand(20000, -1)
    u = torch.rand(20000, generator=torch.Generator().manual_seed(0))
    counts = sample_counts(logits, u, torch.ones(20000))
    freq = torch.bincount(counts, minlength=4)[1:] / 20000.0
    assert torch.allclose(freq, torch.tensor([0.2, 0.5, 0.3]), atol=0.015)
    cold = sample_counts(logits, u, torch.full((20000,), 1e-3))
    assert (cold == 2).all()


def test_sample_is_reproducible_and_consistent():
    model = small_model().double().eval()
    a = model.sample(64, 1, 1.0, torch.Generator().manual_seed(7))
    b = model.sample(64, 1, 1.0, torch.Generator().manual_seed(7))
    for x, y in zip(a, b):
        assert torch.equal(x, y)
    p4, mask, jet, nparticles = a
    assert p4.shape == (64, 12, 4) and mask.shape == (64, 12) and jet.shape == (64, 4)
    # the mask is a prefix of the slots; the full jet has at least the stored constituents
    assert torch.equal(mask, mask.cumprod(1).bool())
    assert (nparticles >= mask.sum(1)).all() and (nparticles > mask.sum(1)).any()
    # the untrained rest head predicts a standard normal around the constituents' sum: at a
    # vanishing temperature the full jet is that sum and no particle lies beyond the slots
    p4, mask, jet, nparticles = model.sample(64, 1, 1e-9, torch.Generator().manual_seed(7))
    assert torch.equal(nparticles, mask.sum(1))
    total = pt_eta_phi_m(p4.sum(1))
    assert torch.allclose(jet[:, [0, 1, 3]], total[:, [0, 1, 3]], rtol=1e-7, atol=1e-7)
    assert torch.allclose(
        wrap_angle(jet[:, 2] - total[:, 2]), torch.zeros_like(jet[:, 2]), atol=1e-7
    )


def test_sample_decodes_given_latents_as_it_decodes_prior_draws():
    from hepvae.model.prior import sample_prior
    from hepvae.model.sampler import JetSampler

    model = small_model().double().eval()
    n, label = 32, torch.full((32,), 1)
    gen = torch.Generator().manual_seed(3)
    noise = torch.randn(n, JetSampler.noise_dim(model), generator=gen, dtype=torch.float64)
    latent = model.config.latent_dim
    u = 0.5 * (1.0 + torch.erf(noise[:, latent] / math.sqrt(2.0)))
    w, m, t = model.prior_weights, model.prior_means, model.prior_tril
    z = sample_prior(w, m, t, label, noise[:, :latent], u, torch.ones(n, dtype=noise.dtype))
    drawn = model.sample(n, 1, 1.0, torch.Generator().manual_seed(3))
    given = model.sample(n, 1, 1.0, torch.Generator().manual_seed(3), latent=z)
    for x, y in zip(drawn, given):
        assert torch.equal(x, y)
    # other latents give other jets, with the same multiplicity noise
    other = model.sample(n, 1, 1.0, torch.Generator().manual_seed(3), latent=z + 1.0)
    assert not torch.allclose(other[0], drawn[0])
    with pytest.raises(ValueError, match="latent must be"):
        model.sample(n, 1, latent=z[:, :-1])


def test_temperature_narrows_the_latent_spread():
    model = small_model().eval()
    hot = model.sample(256, 2, 1.0, torch.Generator().manual_seed(1))
    cold = model.sample(256, 2, 0.05, torch.Generator().manual_seed(1))
    assert cold[2][:, 3].std() < hot[2][:, 3].std()
    assert cold[1].sum(1).float().std() < hot[1].sum(1).float().std()


def test_normalization_round_trips_through_json():
    import json

    model = small_model()
    norm = model.normalization
    again = Normalization.from_dict(json.loads(json.dumps(norm.to_dict())))
    assert again == norm
    with pytest.raises(HepvaeError, match=r"^run/last.pt: normalization keys differ: \['extra'\]"):
        Normalization.from_dict({**norm.to_dict(), "extra": 1}, where="run/last.pt")
    bad = norm.to_dict()
    bad["edge"] = {**bad["edge"], "std": [1.0, 0.0, 1.0, 1.0, 1.0]}
    with pytest.raises(HepvaeError, match="^n.json: normalization: edge_std must be > 0"):
        Normalization.from_dict(bad, where="n.json")
    # the flat dict of checkpoints written before the format key
    flat = {k: v for k, v in dataclasses.asdict(norm).items() if k != "n_jets"}
    assert Normalization.from_dict(json.loads(json.dumps(flat))) == dataclasses.replace(
        norm, n_jets=0
    )


def test_reconstruct_returns_gev_at_the_input_frame():
    model = small_model().eval()
    p4, mask, label = dense_jets(8, seed=9)
    rec, rec_mask = model.reconstruct(p4.float(), mask, label, true_multiplicity=True)
    assert torch.equal(rec_mask, mask)
    assert rec.shape == p4.shape and (rec[~rec_mask] == 0).all()


def test_fit_mixture_recovers_two_clusters_and_samples_them():
    from hepvae.model.prior import fit_mixture, sample_prior

    gen = torch.Generator().manual_seed(0)
    a = torch.randn(400, 2, generator=gen) * 0.1 + torch.tensor([2.0, 0.0])
    b = torch.randn(200, 2, generator=gen) * 0.3 + torch.tensor([-2.0, 1.0])
    w, m, tril = fit_mixture(torch.cat([a, b]), 2)
    order = m[:, 0].argsort(descending=True)
    w, m, tril = w[order], m[order], tril[order]
    assert torch.allclose(w, torch.tensor([2 / 3, 1 / 3]), atol=0.01)
    assert torch.allclose(m, torch.tensor([[2.0, 0.0], [-2.0, 1.0]]), atol=0.1)
    cov = tril @ tril.transpose(-1, -2)
    assert torch.allclose(torch.diagonal(cov, dim1=-2, dim2=-1).sqrt(),
                          torch.tensor([[0.1, 0.1], [0.3, 0.3]]), rtol=0.15)  # fmt: skip
    n = 6000
    one_class = torch.zeros(n, dtype=torch.long)
    z = sample_prior(w[None], m[None], tril[None], one_class,
                     torch.randn(n, 2, generator=gen), torch.rand(n, generator=gen),
                     torch.ones(n))  # fmt: skip
    assert abs(float((z[:, 0] > 0).float().mean()) - 2 / 3) < 0.02
    cold = sample_prior(w[None], m[None], tril[None], one_class,
                        torch.randn(n, 2, generator=gen), torch.rand(n, generator=gen),
                        torch.full((n,), 0.1))  # fmt: skip
    # T scales the whole prior about the mixture mean: spread shrinks by T
    assert torch.allclose(cold.std(0), 0.1 * z.std(0), rtol=0.1)
    assert torch.allclose(cold.mean(0), z.mean(0), atol=0.05)


def test_mixture_log_density_matches_torch_distributions():
    """The EM's Gaussian log-densities (upper triangles of the outer products) against
    torch.distributions on random full covariances."""
    from hepvae.model.prior import _log_gauss

    gen = torch.Generator().manual_seed(1)
    x = torch.randn(300, 5, generator=gen, dtype=torch.float64)
    means = torch.randn(3, 5, generator=gen, dtype=torch.float64)
    a = torch.randn(3, 5, 5, generator=gen, dtype=torch.float64)
    tril = torch.linalg.cholesky(a @ a.transpose(1, 2) + 0.5 * torch.eye(5, dtype=torch.float64))
    want = torch.stack(
        [MultivariateNormal(means[k], scale_tril=tril[k]).log_prob(x) for k in range(3)], 1
    )
    torch.testing.assert_close(_log_gauss(x, means, tril), want, rtol=1e-10, atol=1e-10)


def test_fit_prior_uses_the_posterior_means():
    model = small_model(prior_components=1).eval()
    p4, mask, label = dense_jets(80, seed=6)
    p4 = p4.float()
    assert torch.equal(model.prior_tril[2, 0], torch.eye(8))
    model.fit_prior(p4, mask, label)
    mu, _ = model.encode(p4, mask, label)
    assert torch.allclose(model.prior_means[2, 0], mu.mean(0), atol=1e-4)
    assert torch.equal(model.prior_tril[0, 0], torch.eye(8))  # no jets of class 0: unchanged


def test_pt_weights_on_a_hand_made_jet():
    """pT 6, 3, 1 (and a padded slot): z = 0.6, 0.3, 0.1, n = 3."""
    pt = torch.tensor([[6.0, 3.0, 1.0, 5.0]], dtype=torch.float64)
    mask = torch.tensor([[True, True, True, False]])
    assert L.pt_weights(pt, mask, 0.0).tolist() == [[1.0, 1.0, 1.0, 0.0]]
    full = L.pt_weights(pt, mask, 1.0)
    assert torch.allclose(full, torch.tensor([[1.8, 0.9, 0.3, 0.0]], dtype=torch.float64))
    half = L.pt_weights(pt, mask, 0.5)
    assert torch.allclose(half, torch.tensor([[1.4, 0.95, 0.65, 0.0]], dtype=torch.float64))
    assert float(half.sum()) == pytest.approx(3.0)


def test_pt_weighted_hungarian_counts_the_hard_particle_more():
    """Two true particles (pT 9 and 1); a prediction off by 1 on either. Weighted by pT, the
    miss on the hard one costs 1.8 / 2, on the soft one 0.2 / 2; the loss vanishes when the
    prediction equals the truth."""
    true = torch.tensor([[[0.0], [5.0]]], dtype=torch.float64)
    full = torch.ones(1, 2, dtype=torch.bool)
    w = L.pt_weights(torch.tensor([[9.0, 1.0]], dtype=torch.float64), full, 1.0).unsqueeze(1)
    hard_off = torch.tensor([[[1.0], [5.0]]], dtype=torch.float64)
    soft_off = torch.tensor([[[0.0], [6.0]]], dtype=torch.float64)
    loss = {name: L.hungarian(L.squared_distances(p, true) * w, full, full)[0]
            for name, p in {"hard": hard_off, "soft": soft_off, "same": true}.items()}  # fmt: skip
    assert float(loss["hard"]) == pytest.approx(0.9)
    assert float(loss["soft"]) == pytest.approx(0.1)
    assert float(loss["same"]) == 0.0


def test_model_loss_with_pt_weighting_trains_and_differs():
    p4, mask, label = dense_jets(16, seed=5)
    parts = {}
    for share in (0.0, 1.0):
        model = small_model(loss=LossConfig(particle_pt_weight=share))
        torch.manual_seed(1)
        out = model(p4.float(), mask, label)
        out.total.backward()
        parts[share] = float(out.parts["particle"])
        assert all(p.grad is not None for p in model.decoder.parameters())
    assert parts[0.0] != pytest.approx(parts[1.0])
    with pytest.raises(ValueError, match="particle_pt_weight"):
        LossConfig(particle_pt_weight=1.5)


def test_shape_observables_on_a_hand_made_jet():
    """Two equal-pT particles at eta = +-0.1, phi = 0 (and a padded slot far away)."""
    eta = torch.tensor([[0.1, -0.1, 3.0]], dtype=torch.float64)
    phi = torch.zeros(1, 3, dtype=torch.float64)
    pt = torch.tensor([[1.0, 1.0, 7.0]], dtype=torch.float64)
    mask = torch.tensor([[True, True, False]])
    obs = dict(zip(L.SHAPE_OBSERVABLES, L.shape_observables(eta, phi, pt, mask, eps=0.0)[0]))
    assert float(obs["m20"]) == pytest.approx(0.01)
    assert all(float(obs[k]) == pytest.approx(0.0) for k in ("m11", "m02", "m30", "m21", "m03"))
    assert float(obs["width"]) == pytest.approx(0.1)
    assert float(obs["eec_log_dr"]) == pytest.approx(math.log(0.2))


def test_observable_loss_vanishes_on_the_truth_and_sees_a_rotated_jet():
    p4, mask, _ = dense_jets(8, seed=6)
    pt = torch.hypot(p4[..., 1], p4[..., 2]).clamp_min(1e-9)
    eta, phi = torch.asinh(p4[..., 3] / pt), torch.atan2(p4[..., 2], p4[..., 1])
    true = L.shape_observables(eta, phi, pt, mask)
    assert float(L.observable_loss(true, true).abs().max()) == 0.0
    rotated = L.shape_observables(phi, -eta, pt, mask)  # the same jet turned by 90 degrees
    assert float(L.observable_loss(rotated, true).mean()) > 0.1
    # invariant under a common shift of all angles (moments about the pT centroid)
    assert torch.allclose(L.shape_observables(eta + 0.3, phi - 0.2, pt, mask), true, atol=1e-9)


def test_nsubjettiness_matches_fastjet_on_prong_jets():
    """The differentiable tau_N against fastjet contrib (exclusive-kT axes) on jets of one to
    three prongs; its own axes may find a slightly lower minimum, never a much higher one."""
    import awkward as ak

    from hepvae.physics.observables import nsubjettiness
    from hepvae.physics.p4 import constituents

    rng = np.random.default_rng(11)
    centres = [
        [(0.0, 0.0)],
        [(-0.2, 0.05), (0.15, -0.1)],
        [(0.0, 0.25), (0.2, -0.15), (-0.2, -0.1)],
    ]
    jets = []
    for k in range(60):
        prongs = [(e + rng.normal(0, 0.05), p + rng.normal(0, 0.05)) for e, p in centres[k % 3]]
        n = 30 // len(prongs)
        jets.append(np.concatenate([
            np.stack([rng.exponential(40.0, n) + 0.5, e + rng.normal(0, 0.03, n),
                      p + rng.normal(0, 0.03, n)], -1)
            for e, p in prongs
        ]))  # fmt: skip
    pt, eta, phi = (torch.tensor(np.stack([j[:, c] for j in jets])) for c in range(3))
    mask = torch.ones_like(pt, dtype=torch.bool)
    mask[::4, -5:] = False  # some padded slots, far away and hard
    pt[::4, -5:], eta[::4, -5:] = 1e3, 2.0
    ours = L.nsubjettiness(eta, phi, pt, mask).numpy()
    parts = constituents(
        *(ak.Array([x[m].tolist() for x, m in zip(v, mask)]) for v in (pt, eta, phi))
    )
    ref = nsubjettiness(parts, r0=0.8, beta=1.0)
    ratio = ours / ref
    assert np.all(np.abs(ratio - 1) < 0.2) and np.median(np.abs(ratio - 1)) < 0.01
    prongs = np.arange(len(jets)) % 3 + 1
    resolved = np.arange(1, 4)[None, :] <= prongs[:, None]  # tau_N with N up to the prongs
    assert np.all(np.abs(ratio[resolved] - 1) < 0.05)
    tau21, tau32 = ours[:, 1] / ours[:, 0], ours[:, 2] / ours[:, 1]
    assert tau21[1::3].max() < tau21[0::3].min()  # two prongs against one
    assert tau32[2::3].max() < tau32[1::3].min()  # three against two


def test_nsubjettiness_of_two_particles_and_its_gradient():
    eta = torch.tensor([[0.1, -0.1, 0.0]], dtype=torch.float64, requires_grad=True)
    phi = torch.zeros(1, 3, dtype=torch.float64)
    pt = torch.tensor([[1.0, 1.0, 5.0]], dtype=torch.float64)
    mask = torch.tensor([[True, True, False]])
    values = L.nsubjettiness_observables(eta, phi, pt, mask)[0]
    obs = dict(zip(L.NSUBJETTINESS_OBSERVABLES, values.detach()))
    assert float(obs["tau1"]) == pytest.approx(0.2 / (2 * 0.8), rel=1e-6)
    assert float(obs["tau2"]) == pytest.approx(0.0, abs=1e-3)  # an axis on each particle
    values[0].backward()
    assert torch.isfinite(eta.grad).all() and float(eta.grad[0, 2]) == 0.0  # padding: no gradient
    assert float(eta.grad[0, 0]) > 0 > float(eta.grad[0, 1])  # spreading the pair raises tau1


@pytest.mark.parametrize("name", ["shape", "nsubjettiness"])
def test_model_observable_loss_part_is_reported_and_trains(name):
    p4, mask, label = dense_jets(16, seed=7)
    model = small_model(loss=LossConfig(**{name: 1.0}))
    out = model(p4.float(), mask, label)
    assert float(out.parts[name]) > 0
    out.total.backward()
    assert all(p.grad is not None for p in model.decoder.parameters())
    assert name not in small_model()(p4.float(), mask, label).parts


def _ordered_by_hand(cost, pmask, tmask, pt):
    """The ordered set loss of one jet written out: the k-th real slot with the k-th hardest
    true particle, leftovers to their nearest partner, over the larger count."""
    slots = [i for i in range(cost.shape[0]) if pmask[i]]
    trues = sorted((j for j in range(cost.shape[1]) if tmask[j]), key=lambda j: -float(pt[j]))
    k = min(len(slots), len(trues))
    total = sum(float(cost[slots[r], trues[r]]) for r in range(k))
    total += sum(min(float(cost[i, j]) for i in slots) for j in trues[k:])
    total += sum(min(float(cost[i, j]) for j in trues) for i in slots[k:])
    return total / max(len(slots), len(trues)), dict(zip(trues[:k], slots[:k]))


def test_ordered_set_loss_pairs_slots_with_the_hardest_particles_in_turn():
    pred, true, pmask, tmask = _sets(seed=3, b=4, n=6)
    pmask[2, 2:] = False  # fewer slots than particles in jet 2, more in jet 1 (from _sets)
    pt = torch.rand(4, 6, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    cost = L.squared_distances(pred, true)
    loss, assign = L.set_loss("ordered", cost, pmask, tmask, true_pt=pt)
    for b in range(4):
        want, pairs = _ordered_by_hand(cost[b], pmask[b], tmask[b], pt[b])
        assert float(loss[b]) == pytest.approx(want)
        assert {j: int(assign[b, j]) for j in pairs} == pairs
    # unlike a matching, the pairing follows pT, not the cost
    assert loss.sum() > L.hungarian(cost, pmask, tmask)[0].sum()


def test_angle_weight_scales_only_the_angular_part_of_the_cost():
    pred, true, _, _ = _sets(seed=5, b=2, n=4)
    angles = lambda x: x * x.new_tensor([1.0, 1.0, 0.0])  # noqa: E731
    log_pt = lambda x: x * x.new_tensor([0.0, 0.0, 1.0])  # noqa: E731
    plain = L.coordinate_cost(pred, true)
    torch.testing.assert_close(plain, L.squared_distances(pred, true))
    weighted = L.coordinate_cost(pred, true, angle_weight=4.0)
    want = 4.0 * L.squared_distances(angles(pred), angles(true))
    torch.testing.assert_close(weighted, want + L.squared_distances(log_pt(pred), log_pt(true)))


@pytest.mark.parametrize("change", [{"set_loss": "ordered"}, {"angle_weight": 4.0}])
def test_model_trains_with_the_set_loss_options(change):
    p4, mask, label = dense_jets(16, seed=5)
    particle = {}
    for name, config in (("default", LossConfig()), ("changed", LossConfig(**change))):
        model = small_model(loss=config)
        torch.manual_seed(1)
        out = model(p4.float(), mask, label)
        out.total.backward()
        particle[name] = float(out.parts["particle"])
        assert math.isfinite(particle[name])
        assert all(p.grad is not None for p in model.decoder.parameters())
    assert particle["default"] != pytest.approx(particle["changed"])
    with pytest.raises(ValueError, match="angle_weight"):
        LossConfig(angle_weight=0.0)
