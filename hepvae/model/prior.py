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
import time
from dataclasses import dataclass

import torch

#: the model's buffers that hold the prior
PRIOR_BUFFERS = ("prior_weights", "prior_means", "prior_tril")
#: fewest jets per Gaussian of a fitted prior (a full covariance in 32 dimensions has 528
#: parameters): smaller samples get fewer components
JETS_PER_COMPONENT = 250
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


#: points per chunk of the E and M steps (bounds the [chunk, D (D + 1) / 2] outer products)
CHUNK = 4096


def _pairs(d: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Row and column indices (i <= j) of the upper triangle of a [d, d] matrix."""
    return tuple(torch.triu_indices(d, d))


def _outer(x: torch.Tensor) -> torch.Tensor:
    """The upper triangles of the outer products x x^T [n, D (D + 1) / 2] of rows x [n, D] (a
    symmetric matrix needs no more: half the work of the full products)."""
    i, j = _pairs(x.shape[1])
    return x[:, i] * x[:, j]


def _log_gauss(x: torch.Tensor, means: torch.Tensor, tril: torch.Tensor) -> torch.Tensor:
    """log N(x | mean_k, L_k L_k^T) [n, K] for x [n, D], means [K, D], tril [K, D, D].

    The Mahalanobis terms are x^T P x - 2 x^T P m + m^T P m with the precisions P_k, as
    matmuls over the upper triangles of the points' outer products (x best centred near the
    data: float64 advised).
    """
    eye = torch.eye(x.shape[1], dtype=x.dtype).expand_as(tril)
    inv = torch.linalg.solve_triangular(tril, eye, upper=False)  # L_k^-1
    precision = inv.transpose(1, 2) @ inv  # [K, D, D]
    pm = (precision @ means.unsqueeze(-1)).squeeze(-1)  # [K, D]
    log_det = torch.log(torch.diagonal(tril, dim1=-2, dim2=-1)).sum(-1)  # [K]
    const = log_det + 0.5 * x.shape[1] * math.log(2 * math.pi) + 0.5 * (pm * means).sum(-1)
    i, j = _pairs(x.shape[1])
    flat = (precision[:, i, j] * torch.where(i == j, 1.0, 2.0).to(x.dtype)).T  # [D (D + 1) / 2, K]
    out = [-0.5 * (_outer(part) @ flat) + part @ pm.T - const for part in x.split(CHUNK)]
    return torch.cat(out)


def _kmeans_pp(x: torch.Tensor, k: int, gen: torch.Generator) -> torch.Tensor:
    """k-means++ seeds [k, D] of x [n, D]: each next seed drawn with probability proportional
    to the squared distance to the nearest seed so far."""
    centers = [x[torch.randint(len(x), (1,), generator=gen)].squeeze(0)]
    nearest = torch.full((len(x),), float("inf"), dtype=x.dtype)
    for _ in range(1, k):
        nearest = torch.minimum(nearest, ((x - centers[-1]) ** 2).sum(-1))
        weights = nearest + 1e-12
        centers.append(x[torch.multinomial(weights / weights.sum(), 1, generator=gen)].squeeze(0))
    return torch.stack(centers)


@dataclass
class PriorFit:
    """What a fit of the generation prior did: jets encoded, seconds spent encoding them and
    fitting the mixtures."""

    jets: int
    encode_seconds: float
    mixture_seconds: float


def mixture_components(jets: int, components: int) -> int:
    """Gaussians fitted to ``jets`` points when at most ``components`` are asked for (at most
    one per ``JETS_PER_COMPONENT`` jets)."""
    return min(components, max(1, jets // JETS_PER_COMPONENT))


#: most EM iterations of a fit
EM_ITERATIONS = 100


def _em_step(xc, means, tril, weights):
    """One EM iteration on points xc [n, D] (about the data mean; float64) from a mixture
    (means about the data mean [K, D], tril [K, D, D], weights [K]): (its mean log-likelihood
    per point before the step, weights, means, tril after it)."""
    n, d = xc.shape
    k = len(weights)
    log_r = _log_gauss(xc, means, tril) + torch.log(weights)
    likelihood = float(torch.logsumexp(log_r, dim=1).mean())
    resp = torch.softmax(log_r, dim=1)  # [n, K]
    nk = resp.sum(0) + 1e-9
    means = (resp.T @ xc) / nk[:, None]
    upper = sum(r.T @ _outer(part) for r, part in zip(resp.split(CHUNK), xc.split(CHUNK)))
    i, j = _pairs(d)
    second = xc.new_zeros(k, d, d)
    second[:, i, j] = upper
    second[:, j, i] = upper
    cov = second / nk[:, None, None] - means.unsqueeze(2) * means.unsqueeze(1)
    tril = torch.linalg.cholesky(cov + COVARIANCE_FLOOR * torch.eye(d, dtype=xc.dtype))
    return likelihood, nk / n, means, tril


def em_seconds(points: int, dim: int, components: int, iterations: int = EM_ITERATIONS) -> float:
    """Seconds that ``iterations`` EM iterations of ``components`` Gaussians on ``points``
    points in ``dim`` dimensions take on this machine: the fastest of three timed iterations on
    random points (at most ``CHUNK`` of them), scaled to ``points``."""
    n = max(1, min(points, CHUNK))
    k = max(1, min(components, points))
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, dim, generator=gen, dtype=torch.float64)
    tril = torch.eye(dim, dtype=x.dtype).expand(k, dim, dim).clone()
    weights = torch.full((k,), 1.0 / k, dtype=x.dtype)
    best = float("inf")
    for _ in range(4):  # the first warms up; the fastest of the others counts
        start = time.perf_counter()
        _em_step(x, x[torch.arange(k) % n], tril, weights)
        best = min(best, time.perf_counter() - start)
    return best * points / n * iterations


def fit_mixture(
    x: torch.Tensor,
    components: int,
    iterations: int = EM_ITERATIONS,
    seed: int = 0,
    tol: float = 1e-3,
    seconds: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gaussian mixture of x [n, D] by EM: (weights [K], means [K, D], tril [K, D, D]).

    Initialized with k-means++ seeding from a fixed generator, so the fit is deterministic.
    EM stops after ``iterations``, once the mean log-likelihood per point gains less than
    ``tol`` (nats), or, with ``seconds``, before an iteration that would end past that time
    (at the pace of the iterations so far; the first always runs).
    """
    start = time.perf_counter()
    x = x.double()
    n, d = x.shape
    k = max(1, min(components, n))
    center = x.mean(0)
    xc = x - center  # second moments about the data mean: no cancellation
    means = _kmeans_pp(xc, k, torch.Generator().manual_seed(seed))
    cov = torch.cov(xc.T).reshape(d, d) + COVARIANCE_FLOOR * torch.eye(d, dtype=x.dtype)
    tril = torch.linalg.cholesky(cov).expand(k, d, d).clone()
    weights = torch.full((k,), 1.0 / k, dtype=x.dtype)
    previous = -float("inf")
    for done in range(1, (iterations if k > 1 else 1) + 1):
        likelihood, weights, means, tril = _em_step(xc, means, tril, weights)
        if likelihood - previous < tol:
            break
        previous = likelihood
        elapsed = time.perf_counter() - start
        if seconds is not None and elapsed * (done + 1) / done > seconds:
            break
    return weights.float(), (means + center).float(), tril.float()


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
    cdf = weights.cumsum(-1)[label]  # cumsum of the constants first: folded in the export
    below = (cdf < u.unsqueeze(-1)).to(torch.long).sum(-1)
    index = label * n_components + below.clamp(max=n_components - 1)
    mean = means.flatten(0, 1)[index]
    chol = tril.flatten(0, 1)[index]
    center = (weights.unsqueeze(-1) * means).sum(1)[label]
    spread = mean - center + (chol @ eps.unsqueeze(-1)).squeeze(-1)
    return center + temperature.unsqueeze(-1) * spread
