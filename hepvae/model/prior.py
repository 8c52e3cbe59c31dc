"""The latent prior used for generation: a Gaussian mixture per class, fitted after training.

Training uses the standard normal prior in the KL term. The aggregate posterior of a trained
VAE is narrower and more structured than N(0, 1) (most latent directions carry little
information), so sampling from N(0, 1) lands in "holes" the decoder never saw. After training
the posterior means of training jets are fitted, class by class, with a Gaussian mixture of
``prior_components`` full-covariance components (expectation-maximization); generation samples
from that mixture (ex-post density estimation). Before a fit the prior is N(0, 1).

Sampling is plain tensor algebra (exportable): a component is picked by inverse CDF from a
uniform, then z = mean_k + T * L_k eps with the Cholesky factor L_k and temperature T.
"""

from __future__ import annotations

import math

import torch

#: added to covariance diagonals (latent units^2)
COVARIANCE_FLOOR = 1e-4


def standard_prior(n_labels: int, components: int, dim: int) -> dict[str, torch.Tensor]:
    """Buffers of N(0, 1) written as a mixture: weights [L, K], means [L, K, D], tril [L, K, D, D]."""
    weights = torch.zeros(n_labels, components)
    weights[:, 0] = 1.0
    return {
        "prior_weights": weights,
        "prior_means": torch.zeros(n_labels, components, dim),
        "prior_tril": torch.eye(dim).expand(n_labels, components, dim, dim).clone(),
    }


def _log_gauss(x: torch.Tensor, means: torch.Tensor, tril: torch.Tensor) -> torch.Tensor:
    """log N(x | mean_k, L_k L_k^T) [n, K] for x [n, D], means [K, D], tril [K, D, D]."""
    diff = (x.unsqueeze(0) - means.unsqueeze(1)).transpose(1, 2)  # [K, D, n]
    sol = torch.linalg.solve_triangular(tril, diff, upper=False)  # [K, D, n]
    log_det = torch.log(torch.diagonal(tril, dim1=-2, dim2=-1)).sum(-1)  # [K]
    d = x.shape[1]
    return (-0.5 * (sol**2).sum(1) - log_det[:, None] - 0.5 * d * math.log(2 * math.pi)).T


def fit_mixture(
    x: torch.Tensor, components: int, iterations: int = 100, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gaussian mixture of x [n, D] by EM: (weights [K], means [K, D], tril [K, D, D]).

    Initialized with k-means++ seeding from a fixed generator, so the fit is deterministic.
    """
    x = x.double()
    n, d = x.shape
    k = max(1, min(components, n))
    gen = torch.Generator().manual_seed(seed)
    centers = [x[torch.randint(n, (1,), generator=gen)].squeeze(0)]
    for _ in range(1, k):
        dist = torch.cdist(x, torch.stack(centers)).min(1).values ** 2 + 1e-12
        centers.append(x[torch.multinomial(dist / dist.sum(), 1, generator=gen)].squeeze(0))
    means = torch.stack(centers)
    eye = torch.eye(d, dtype=x.dtype)
    cov = torch.cov(x.T).reshape(d, d) + COVARIANCE_FLOOR * eye
    tril = torch.linalg.cholesky(cov).expand(k, d, d).clone()
    weights = torch.full((k,), 1.0 / k, dtype=x.dtype)
    for _ in range(iterations if k > 1 else 1):
        log_r = _log_gauss(x, means, tril) + torch.log(weights)
        resp = torch.softmax(log_r, dim=1)  # [n, K]
        nk = resp.sum(0) + 1e-9
        weights = nk / n
        means = (resp.T @ x) / nk[:, None]
        diff = x.unsqueeze(0) - means.unsqueeze(1)  # [K, n, D]
        cov = torch.einsum("kn,kni,knj->kij", resp.T, diff, diff) / nk[:, None, None]
        tril = torch.linalg.cholesky(cov + COVARIANCE_FLOOR * eye)
    return weights.float(), means.float(), tril.float()


def sample_prior(
    weights: torch.Tensor,
    means: torch.Tensor,
    tril: torch.Tensor,
    label: torch.Tensor,
    eps: torch.Tensor,
    u: torch.Tensor,
    temperature: torch.Tensor,
) -> torch.Tensor:
    """z [B, D] from the class mixtures (weights [L, K], means [L, K, D], tril [L, K, D, D]) of
    each jet's ``label`` [B], normal noise eps [B, D], uniforms u [B] (component choice) and
    temperature [B].

    The temperature T scales the whole prior's spread about the mixture's mean m:
    z = m + T (mean_k - m + L_k eps); T = 1 samples the mixture itself. Only the chosen
    component's Cholesky factor is gathered per jet."""
    n_components = weights.shape[-1]
    w = weights[label]
    below = (w.cumsum(-1) < u.unsqueeze(-1)).to(torch.long).sum(-1)
    index = label * n_components + below.clamp(max=n_components - 1)
    mean = means.flatten(0, 1)[index]
    chol = tril.flatten(0, 1)[index]
    center = (weights.unsqueeze(-1) * means).sum(1)[label]
    spread = mean - center + (chol @ eps.unsqueeze(-1)).squeeze(-1)
    return center + temperature.unsqueeze(-1) * spread
