"""HyperVAE: the conditional Lorentz-equivariant hypergraph VAE (see ``hepvae.model``)."""

from __future__ import annotations

import time
from typing import NamedTuple

import torch
import torch.nn.functional as TF
from torch import nn

from hepvae.model import features as F
from hepvae.model import losses as L
from hepvae.model import prior
from hepvae.model.config import LossConfig, ModelConfig
from hepvae.model.decoder import Decoder
from hepvae.model.encoder import Encoder
from hepvae.model.frames import references
from hepvae.model.layers import MLP
from hepvae.model.multiplicity import (
    MultiplicityHead,
    count_fraction,
    slot_weights,
    straight_through,
)
from hepvae.model.normalization import Normalization, model_inputs
from hepvae.model.prior import fit_mixture, standard_prior
from hepvae.model.rest import (
    MASS_FLOOR,
    RestHead,
    constituent_sum,
    gaussian_nll,
    rest_targets,
)
from hepvae.physics.kinematics import (
    azimuth,
    from_canonical,
    orientation,
    pt_of,
    rapidity,
    to_canonical,
    unorient,
)


class Prepared(NamedTuple):
    """A batch of jets turned into model inputs (model units, canonical frame)."""

    mask: torch.Tensor  # [B, N] bool
    label: torch.Tensor  # [B]
    p4c: torch.Tensor  # [B, N, 4]
    jet: torch.Tensor  # [B, 4] lab frame
    jet_c: torch.Tensor  # [B, 4] canonical frame
    particle_feats: torch.Tensor  # [B, N, 6] normalized
    pairs: torch.Tensor  # [B, E, 2] selected pair edges (features.select_edges)
    edge_mask: torch.Tensor  # [B, E]
    edges: torch.Tensor  # [B, E, 5] normalized pair features
    triplets: torch.Tensor  # [B, H, 3]
    hmask: torch.Tensor  # [B, H]
    hyper_feats: torch.Tensor  # [B, H, 4] normalized


class Decoded(NamedTuple):
    p4c: torch.Tensor  # [B, N, 4] canonical frame, model units, massless
    weights: torch.Tensor  # [B, N] slot weights (straight-through in training)
    jet_head: torch.Tensor  # [B, 2] normalized (log pT, log mass)


class LossParts(NamedTuple):
    total: torch.Tensor
    parts: dict[str, torch.Tensor]


class HyperVAE(nn.Module):
    """Conditional VAE over jets given as dense padded four-momenta in GeV.

    ``forward(p4, mask, label, kl_weight)`` returns the training loss and its parts;
    :meth:`encode`, :meth:`decode`, :meth:`reconstruct` and :meth:`sample` are the other uses.
    """

    def __init__(
        self,
        config: ModelConfig,
        normalization: Normalization,
        loss: LossConfig | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.loss_config = loss or LossConfig()
        self.normalization = normalization
        for name, value in normalization.tensors().items():
            self.register_buffer(name, value)
        if self.rapidity_quantiles.shape[0] != config.n_labels:
            raise ValueError(
                f"normalization has {self.rapidity_quantiles.shape[0]} classes, "
                f"model config {config.n_labels}"
            )
        c = config
        buffers = standard_prior(c.n_labels, c.prior_components, c.latent_dim)
        for name, value in buffers.items():
            self.register_buffer(name, value)
        self.label_embedding = nn.Embedding(c.n_labels, c.label_dim)
        self.encoder = Encoder(c)
        cond_dim = c.latent_dim + c.label_dim
        self.multiplicity = MultiplicityHead(cond_dim, c.hidden, c.n_particles)
        self.jet_head = MLP(cond_dim, 2, c.hidden)
        self.decoder = Decoder(c, cond_dim + 3)
        self.rest_head = RestHead(cond_dim + 3, c.hidden)

    # --- inputs -------------------------------------------------------------------------
    def references(self, like: torch.Tensor) -> torch.Tensor:
        return references(self.config.references, like)

    def _standardize(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return (x - getattr(self, f"{name}_mean")) / getattr(self, f"{name}_std")

    def edge_inputs(self, p4c, jet_pt, first, second) -> torch.Tensor:
        """Normalized pair features [B, E, 5] of the slot pairs (first, second) [B, E]."""
        return self._standardize(F.pair_features_at(p4c, jet_pt, first, second), "edge")

    def prepare(self, p4: torch.Tensor, mask: torch.Tensor, label: torch.Tensor) -> Prepared:
        """Lab-frame constituents p4 [B, N, 4] in GeV, mask [B, N], label [B] -> model inputs
        (the features of :func:`hepvae.model.features.jet_inputs`, standardized)."""
        n = self.config.n_particles
        if p4.shape[1] != n:
            raise ValueError(f"expected {n} particle slots, got {p4.shape[1]}")
        stats = dict(self.named_buffers(recurse=False))
        cfg = self.config
        x, particle, edges, hyper = model_inputs(
            p4, mask, stats, cfg.max_edges, cfg.max_hyperedges, cfg.orient
        )
        return Prepared(
            mask.bool(), label, x.p4c, x.jet, x.jet_c, particle, x.pairs, x.edge_mask, edges,
            x.triplets, x.hmask, hyper,
        )  # fmt: skip

    # --- encoder / decoder --------------------------------------------------------------
    def encode_prepared(self, x: Prepared) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder(
            x.p4c,
            x.mask,
            self.references(x.p4c),
            x.particle_feats,
            self.label_embedding(x.label),
            edges=(x.edges, x.edge_mask, x.pairs),
            hyperedges=(x.hyper_feats, x.hmask, x.triplets),
        )

    def encode(self, p4, mask, label) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) [B, latent_dim] of jets given in GeV (lab frame)."""
        return self.encode_prepared(self.prepare(p4, mask, label))

    def condition(self, z: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return torch.cat([z, self.label_embedding(label)], dim=-1)

    def decode(self, z: torch.Tensor, label: torch.Tensor, one_hot: torch.Tensor) -> Decoded:
        """Decode latents given a multiplicity one-hot [B, N] (hard or straight-through)."""
        cond = self.condition(z, label)
        head = self.jet_head(cond)
        weights = slot_weights(one_hot)
        dec_cond = torch.cat([cond, count_fraction(one_hot).unsqueeze(-1), head], dim=-1)
        p4c = self.decoder(dec_cond, weights > 0.5, self.references(z))
        return Decoded(p4c, weights, head)

    def rest_inputs(
        self, cond: torch.Tensor, total: torch.Tensor, mass: torch.Tensor, fraction: torch.Tensor
    ) -> torch.Tensor:
        """Input [B, cond + 3] of the rest head: the condition, the standardized (log pT,
        log mass) of the sum of the decoded constituents (``total`` [B, 4] and ``mass`` [B] from
        :func:`hepvae.model.rest.constituent_sum` of the canonical-frame constituents, model
        units), and the decoded count fraction [B]. The sum's mass is computed without
        cancellation and floored at ``MASS_FLOOR * pT`` (:mod:`hepvae.model.rest`), so that
        float rounding of nearly massless sums cannot move the head."""
        pt = pt_of(total).clamp_min(F.PT_FLOOR)
        log_mass = torch.log(torch.maximum(mass, MASS_FLOOR * pt))
        sum_features = self._standardize(torch.stack([torch.log(pt), log_mass], -1), "jet")
        return torch.cat([cond, sum_features, fraction.unsqueeze(-1)], dim=-1)

    # --- training -----------------------------------------------------------------------
    def forward(
        self, p4, mask, label, kl_weight: float = 1.0, jet=None, nparticles=None
    ) -> LossParts:
        """Training loss of a batch: p4 [B, N, 4] GeV lab frame, mask [B, N], label [B];
        optionally the full jets ``jet`` [B, 4] (pT GeV, eta, phi, mass GeV) and multiplicities
        before truncation ``nparticles`` [B] for the rest head (:mod:`hepvae.model.rest`),
        whose loss is zero without them.

        Under autocast only the networks run in reduced precision; frames, features and
        losses stay in the model's dtype.
        """
        cfg = self.loss_config
        dtype, device = self.p4_scale.dtype, p4.device.type
        with torch.autocast(device, enabled=False):
            x = self.prepare(p4.to(dtype), mask, label)
        mu, logvar = (t.to(dtype) for t in self.encode_prepared(x))
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        logits = self.multiplicity(self.condition(z, label)).to(dtype)
        counts = x.mask.sum(1)
        teacher = bool(torch.rand(()) < cfg.teacher_forcing)
        one_hot = straight_through(
            logits, cfg.gumbel_tau, counts if teacher else None, None, cfg.straight_through_scale
        )
        out = Decoded(*(t.to(dtype) for t in self.decode(z, label, one_hot)))
        with torch.autocast(device, enabled=False):
            parts = self.reconstruction_losses(x, out)
            parts["multiplicity"] = TF.cross_entropy(logits, counts - 1)
            kl, kl_raw = L.kl_divergence(mu, logvar, cfg.free_bits)
            cond = self.condition(z, label)
            parts["rest"] = self.rest_loss(p4, x, out, cond, jet, nparticles)
        parts["kl"] = kl
        total = sum(getattr(cfg, name) * value for name, value in parts.items() if name != "kl")
        total = total + kl_weight * kl
        shown = {k: v.detach() for k, v in parts.items()}
        shown["kl_raw"] = kl_raw.detach()
        return LossParts(total, shown)

    def reconstruction_losses(self, x: Prepared, out: Decoded) -> dict[str, torch.Tensor]:
        """Particle, edge, hyperedge, jet and jet-head losses (batch means)."""
        cfg = self.loss_config
        pmask = out.weights.detach() > 0.5
        pred_raw, true_raw = F.loss_coordinates(out.p4c), F.loss_coordinates(x.p4c)
        pred_coords = self._standardize(pred_raw, "coord")
        true_coords = self._standardize(true_raw, "coord")
        cost = L.coordinate_cost(pred_coords, true_coords, cfg.angle_weight)
        pred_pt_i, true_pt_i = pt_of(out.p4c, F.PT_FLOOR), pt_of(x.p4c, F.PT_FLOOR)
        if cfg.particle_pt_weight > 0:
            weights = L.pt_weights(true_pt_i, x.mask, cfg.particle_pt_weight)
            cost = cost * weights.unsqueeze(1)
        particle, assign = L.set_loss(
            cfg.set_loss, cost, pmask, x.mask, cfg.sinkhorn_epsilon, cfg.sinkhorn_iterations,
            true_pt_i,
        )  # fmt: skip
        parts = {"particle": particle.mean()}
        pred_jet = (out.p4c * out.weights.unsqueeze(-1)).sum(1)
        pred_pt = pt_of(pred_jet, F.PT_FLOOR)
        if cfg.edge > 0:
            mapped = assign.gather(1, x.pairs.flatten(1)).view_as(x.pairs)
            pred_edges = self.edge_inputs(out.p4c, pred_pt, mapped[..., 0], mapped[..., 1])
            parts["edge"] = L.feature_loss(pred_edges, x.edges, x.edge_mask).mean()
        if cfg.hyperedge > 0 and x.triplets.shape[1] > 0:
            mapped = assign.gather(1, x.triplets.flatten(1)).view_as(x.triplets)
            pred_h = F.triplet_features(out.p4c, pmask, pred_pt, mapped)
            pred_h = self._standardize(pred_h, "hyper")
            parts["hyperedge"] = L.feature_loss(pred_h, x.hyper_feats, x.hmask).mean()
        target = self._standardize(F.jet_targets(x.jet_c), "jet")
        pred = self._standardize(F.jet_targets(pred_jet), "jet")
        frame = torch.stack([rapidity(pred_jet), azimuth(pred_jet)], -1) / self.coord_std[:2]
        parts["jet"] = ((pred - target) ** 2).sum(-1).mean() + (frame**2).sum(-1).mean()
        parts["jet_head"] = ((out.jet_head - target) ** 2).sum(-1).mean()
        observables = {"shape": L.shape_observables, "nsubjettiness": L.nsubjettiness_observables}
        for name, compute in observables.items():
            if getattr(cfg, name) > 0:
                pred_obs = compute(pred_raw[..., 0], pred_raw[..., 1], pred_pt_i, pmask)
                true_obs = compute(true_raw[..., 0], true_raw[..., 1], true_pt_i, x.mask)
                parts[name] = L.observable_loss(pred_obs, true_obs).mean()
        return parts

    def rest_loss(self, p4, x: Prepared, out: Decoded, cond, jet, nparticles) -> torch.Tensor:
        """Gaussian negative log-likelihood of the rest head (mean over jets with a finite
        full jet of positive pT); zero, with the head still in the graph, without targets."""
        mask = out.weights.detach() > 0.5
        fraction = out.weights.detach().sum(1) / self.config.n_particles
        total, mass = constituent_sum(out.p4c.detach(), mask)
        mean, logvar = self.rest_head(self.rest_inputs(cond, total, mass, fraction))
        if jet is None or nparticles is None:
            return 0.0 * (mean.sum() + logvar.sum())
        jet = jet.to(self.p4_scale)
        target = rest_targets(p4.to(jet), x.mask, jet, nparticles)
        good = torch.isfinite(target).all(-1) & (jet[:, 0] > 0)
        target = torch.where(good.unsqueeze(-1), target, torch.zeros_like(target))
        nll = gaussian_nll(target, mean, logvar, self.rest_head.scale.to(target))
        return (nll * good).sum() / good.sum().clamp_min(1)

    # --- inference ----------------------------------------------------------------------
    @torch.no_grad()
    def fit_prior(
        self,
        p4,
        mask,
        label,
        max_per_class: int = 4000,
        components: int | None = None,
        batch_size: int = 1024,
        seconds: float | None = None,
    ) -> prior.PriorFit:
        """Fit the generation prior to the posterior means of jets (GeV, lab frame), per class,
        with ``components`` Gaussians (at most, and by default, ``config.prior_components``;
        at most one per ``prior.JETS_PER_COMPONENT`` jets of the class).

        Jets whose posterior mean is not finite are left out; classes with fewer than
        ``2 * latent_dim`` jets keep their current prior. Deterministic, unless ``seconds``
        (a time budget for the whole fit) stops an EM early: the classes' mixtures share the
        time left after encoding in proportion to their points times Gaussians.
        """
        start = time.perf_counter()
        limit = self.config.prior_components
        components = limit if components is None else min(components, limit)
        was_training = self.training
        self.eval()
        dev = self.p4_scale.device
        points = {}
        for k in range(self.config.n_labels):
            index = torch.nonzero(label == k).squeeze(1)[:max_per_class]
            mus = [
                self.encode(p4[i].to(dev), mask[i].to(dev), label[i].to(dev))[0].float().cpu()
                for i in index.split(batch_size)
            ]
            mus = torch.cat(mus) if mus else torch.zeros(0, self.config.latent_dim)
            mus = mus[torch.isfinite(mus).all(1)]
            if len(mus) >= 2 * self.config.latent_dim:
                points[k] = mus
        self.train(was_training)
        encoded = time.perf_counter()
        sizes = {k: prior.mixture_components(len(x), components) for k, x in points.items()}
        work = {k: len(x) * sizes[k] for k, x in points.items()}
        for k, mus in points.items():
            budget = None
            if seconds is not None:
                left = seconds - (time.perf_counter() - start)
                budget = max(left, 0.0) * work[k] / sum(work[j] for j in points if j >= k)
            weights, means, tril = fit_mixture(mus, sizes[k], seed=k, seconds=budget)
            n = len(weights)
            self.prior_weights[k].zero_()
            self.prior_weights[k, :n] = weights.to(self.prior_weights)
            self.prior_means[k, :n] = means.to(self.prior_means)
            self.prior_tril[k, :n] = tril.to(self.prior_tril)
        jets = sum(len(x) for x in points.values())
        return prior.PriorFit(jets, encoded - start, time.perf_counter() - encoded)

    @torch.no_grad()
    def reconstruct(self, p4, mask, label, true_multiplicity: bool = False) -> torch.Tensor:
        """Encode (posterior mean) and decode jets; returns (p4 [B, N, 4] GeV lab, mask [B, N]).

        Decoded jets are placed at the rapidity and azimuth of the input jets (and, with
        ``config.orient``, turned back about their axis as the input was). The multiplicity
        is the head's most probable one unless ``true_multiplicity``.
        """
        x = self.prepare(p4, mask, label)
        mu, _ = self.encode_prepared(x)
        logits = self.multiplicity(self.condition(mu, label))
        index = x.mask.sum(1) - 1 if true_multiplicity else logits.argmax(-1)
        one_hot = TF.one_hot(index, self.config.n_particles).to(mu.dtype)
        out = self.decode(mu, label, one_hot)
        new_mask = out.weights > 0.5
        p4c = out.p4c
        if self.config.orient:
            canonical = to_canonical(p4.to(x.jet.dtype), x.jet)  # the frame is scale-free
            p4c = unorient(p4c, *orientation(canonical, x.mask))
        lab = from_canonical(p4c, rapidity(x.jet), azimuth(x.jet))
        return lab * self.p4_scale * new_mask.unsqueeze(-1), new_mask

    @torch.no_grad()
    def sample(
        self,
        n: int,
        labels: int | torch.Tensor,
        temperature: float | torch.Tensor = 1.0,
        generator: torch.Generator | None = None,
        latent: torch.Tensor | None = None,
    ):
        """Sample ``n`` jets: (p4 [n, N, 4] GeV, mask [n, N] bool, jet [n, 4] (pT GeV, eta,
        phi, mass GeV) of the full jet, nparticles [n] int64 multiplicity before truncation,
        at least the mask's count). ``temperature`` scales the prior's and the rest head's
        spread (and sharpens the multiplicity distribution as 1/T on its logits);
        ``generator`` makes it reproducible (CPU noise); ``latent`` [n, latent_dim], when
        given, is decoded instead of latents drawn from the prior (the rest is sampled as
        usual). See :class:`hepvae.model.sampler.JetSampler` for the exact recipe."""
        from hepvae.model.sampler import JetSampler

        device, dtype = self.p4_scale.device, self.p4_scale.dtype
        noise = torch.randn(n, JetSampler.noise_dim(self), generator=generator, dtype=dtype)
        noise = noise.to(device)
        labels = torch.as_tensor(labels, dtype=torch.long, device=device).expand(n)
        temperature = torch.as_tensor(temperature, dtype=noise.dtype, device=device)
        if latent is None:
            return JetSampler(self)(noise, labels, temperature)
        if latent.shape != (n, self.config.latent_dim):
            raise ValueError(
                f"latent must be [{n}, {self.config.latent_dim}], got {list(latent.shape)}"
            )
        return JetSampler(self).from_latent(latent.to(noise), noise, labels, temperature)
