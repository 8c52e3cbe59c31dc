"""Multiplicity: a categorical head over n = 1..N, straight-through Gumbel-softmax for training,
and inverse-CDF sampling (plain tensor ops, exportable) for generation.

Training: the head's logits give a relaxed one-hot ``soft`` (Gumbel-softmax at temperature tau);
the forward value is a hard one-hot (of the sampled count, or of the true count under teacher
forcing) and the backward pass is that of ``soft``. From the one-hot follow the slot weights
(slot i is active when n > i) and the count fraction n / N that conditions the decoder; the
decoded jet is the weighted sum of its slots, so the reconstruction losses reach the head's
parameters in addition to its cross-entropy. That path is scaled (``straight_through_scale``)
so that its noise does not drown the cross-entropy, which is what learns the distribution.
"""

from __future__ import annotations

import torch
from torch import nn

from hepvae.model.layers import MLP


class MultiplicityHead(nn.Module):
    """(latent, label embedding) -> logits [B, N] for multiplicities 1..N."""

    def __init__(self, d_in: int, hidden: int, n_max: int) -> None:
        super().__init__()
        self.mlp = MLP(d_in, n_max, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x)


def straight_through(
    logits: torch.Tensor,
    tau: float,
    counts: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    grad_scale: float = 1.0,
) -> torch.Tensor:
    """Hard one-hot [B, N] in the forward pass with Gumbel-softmax gradients.

    With ``counts`` [B] (1..N) the forward value is their one-hot (teacher forcing); otherwise
    the Gumbel-perturbed argmax, i.e. a sample from softmax(logits). ``grad_scale`` multiplies
    the gradient that flows back through the relaxed sample.
    """
    u = torch.rand(logits.shape, generator=generator, device=logits.device, dtype=logits.dtype)
    gumbel = -torch.log(-torch.log(u.clamp(1e-10, 1 - 1e-7)))
    soft = torch.softmax((logits + gumbel) / tau, dim=-1)
    index = soft.argmax(-1) if counts is None else counts - 1
    hard = torch.nn.functional.one_hot(index, logits.shape[-1]).to(soft.dtype)
    return hard + grad_scale * (soft - soft.detach())


def slot_weights(one_hot: torch.Tensor) -> torch.Tensor:
    """Slot i is active when the count n > i: reverse cumulative sum of the one-hot [B, N]."""
    return one_hot.flip(-1).cumsum(-1).flip(-1)


def count_fraction(one_hot: torch.Tensor) -> torch.Tensor:
    """Expected count over N, n / N [B] (differentiable through a straight-through one-hot)."""
    n_max = one_hot.shape[-1]
    values = torch.arange(1, n_max + 1, device=one_hot.device, dtype=one_hot.dtype) / n_max
    return (one_hot * values).sum(-1)


def sample_counts(logits: torch.Tensor, u: torch.Tensor, temperature: torch.Tensor) -> torch.Tensor:
    """Counts [B] (1..N) from softmax(logits / T) by inverse CDF at uniforms ``u`` [B]."""
    probs = torch.softmax(logits / temperature.unsqueeze(-1), dim=-1)
    cdf = probs.cumsum(-1)
    below = (cdf < u.unsqueeze(-1)).to(torch.long).sum(-1)
    return (below + 1).clamp(max=logits.shape[-1])
