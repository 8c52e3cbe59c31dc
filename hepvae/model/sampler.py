"""A pure-tensor sampling module (for ONNX export): noise, label, temperature -> jets in GeV.

Inputs: ``noise`` [B, noise_dim] standard normal, ``label`` [B] int64 (JetNet coding),
``temperature`` [B] or a scalar tensor (> 0); noise_dim = latent_dim + 4 + 5, plus 2 with
``config.orient``. The first ``latent_dim`` noise columns are the latent noise eps; the next
four are mapped to uniforms by the normal CDF and pick the prior component, the
multiplicity, the jet rapidity and the azimuth; the next five feed the rest head's Gaussian
(:mod:`hepvae.model.rest`); with ``orient`` the last two give the turn about the jet axis
(column ``latent_dim + 9``, as a uniform) and the reflection (the sign of column
``latent_dim + 10``):

- z = mean_k + T * L_k eps from the class's prior mixture (:mod:`hepvae.model.prior`; the
  temperature T scales the prior's spread; component k by inverse CDF of its weights);
- multiplicity by inverse CDF of softmax(logits / T) of the multiplicity head;
- jet rapidity by the per-class quantile table of the training data, azimuth uniform;
- with ``orient``, the decoded jet (oriented frame) is turned about its axis by an angle
  uniform in [-pi, pi) and reflected (y -> -y) with probability 1/2, the inverse of
  :func:`hepvae.physics.kinematics.orient` at a random orientation, before it is placed;
- the full jet and the multiplicity before truncation relative to the decoded constituents'
  sum: rest targets = mean + T * sigma * noise of the rest head, inverted by
  :func:`hepvae.model.rest.apply_rest` on the lab-frame sum of the constituents.
Outputs: ``p4`` [B, N, 4] (E, px, py, pz) in GeV with zeros in empty slots, ``mask`` [B, N]
bool, ``jet`` [B, 4] = (pT [GeV], eta, phi, mass [GeV]) of the full jet (the constituents
plus what lies beyond the N slots), ``nparticles`` [B] int64 multiplicity before truncation
(at least the number of real slots).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from hepvae.model.multiplicity import count_fraction, sample_counts
from hepvae.model.prior import sample_prior
from hepvae.model.rest import REST_DIM, apply_rest, constituent_sum
from hepvae.physics.kinematics import placement


class JetSampler(nn.Module):
    """Wraps a :class:`hepvae.model.HyperVAE` (shares its parameters)."""

    def __init__(self, vae: nn.Module) -> None:
        super().__init__()
        self.vae = vae

    @staticmethod
    def noise_dim(vae: nn.Module) -> int:
        return vae.config.latent_dim + 4 + REST_DIM + (2 if vae.config.orient else 0)

    def forward(
        self, noise: torch.Tensor, label: torch.Tensor, temperature: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        vae = self.vae
        latent = vae.config.latent_dim
        temp = temperature.reshape(-1) * noise.new_ones(noise.shape[0])
        u = _uniforms(noise[:, latent : latent + 1])
        z = sample_prior(
            vae.prior_weights,
            vae.prior_means,
            vae.prior_tril,
            label,
            noise[:, :latent],
            u[:, 0],
            temp,
        )
        return self.from_latent(z, noise, label, temperature)

    def from_latent(
        self, z: torch.Tensor, noise: torch.Tensor, label: torch.Tensor, temperature: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The jets of latents ``z`` [B, latent_dim]: everything after the prior, as
        :meth:`forward` does it (``noise`` as there; its first ``latent_dim + 1`` columns, which
        draw z, are not used)."""
        vae = self.vae
        latent = vae.config.latent_dim
        n_max = vae.config.n_particles
        temp = temperature.reshape(-1) * noise.new_ones(noise.shape[0])
        u = _uniforms(noise[:, latent : latent + 4])
        cond = vae.condition(z, label)
        logits = vae.multiplicity(cond)
        counts = sample_counts(logits, u[:, 1], temp)
        slots = torch.arange(n_max, device=noise.device)
        one_hot = (slots.unsqueeze(0) == (counts - 1).unsqueeze(-1)).to(noise.dtype)
        out = vae.decode(z, label, one_hot)
        mask = slots.unsqueeze(0) < counts.unsqueeze(-1)
        y = _interpolate(vae.rapidity_quantiles[label], u[:, 2])
        phi = math.pi * (2.0 * u[:, 3] - 1.0)
        angle = sign = None
        if vae.config.orient:
            turn = latent + 4 + REST_DIM
            angle = math.pi * torch.erf(noise[:, turn] / math.sqrt(2.0))  # uniform in (-pi, pi)
            sign = torch.where(noise[:, turn + 1] < 0, -1.0, 1.0).to(noise.dtype)
        # unorient, then from_canonical, in model units times p4_scale: one matrix per jet
        lorentz = placement(y, phi, angle, sign) * vae.p4_scale
        p4 = out.p4c.matmul(lorentz.transpose(-1, -2)) * mask.unsqueeze(-1).to(noise.dtype)
        total, mass = constituent_sum(out.p4c, mask)
        inputs = vae.rest_inputs(cond, total, mass, count_fraction(one_hot))
        rest = vae.rest_head.draw(inputs, noise[:, latent + 4 : latent + 4 + REST_DIM], temp)
        # the rest targets are boost and rotation invariant: apply them to the lab-frame sum,
        # the placed canonical sum (the mass is invariant)
        total = lorentz.matmul(total.unsqueeze(-1)).squeeze(-1)
        full, nparticles = apply_rest(total, mass * vae.p4_scale, mask.sum(-1), rest)
        return p4, mask, full, nparticles


def _uniforms(noise: torch.Tensor) -> torch.Tensor:
    """Standard normal noise mapped to uniforms in (0, 1) by the normal CDF."""
    return 0.5 * (1.0 + torch.erf(noise / math.sqrt(2.0)))


def _interpolate(quantiles: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Inverse CDF from quantile rows [B, K] at uniforms u [B] (linear between quantiles)."""
    k = quantiles.shape[-1]
    pos = u * (k - 1)
    low = pos.floor().clamp(0, k - 2)
    frac = pos - low
    low = low.to(torch.long).unsqueeze(-1)
    q0 = quantiles.gather(1, low).squeeze(-1)
    q1 = quantiles.gather(1, low + 1).squeeze(-1)
    return q0 + frac * (q1 - q0)
