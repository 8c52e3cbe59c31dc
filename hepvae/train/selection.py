"""Checkpoint selection by the substructure of generated jets.

The validation loss does not follow the substructure of the jets a model generates
(docs/ablation_prongs.md), so a run can also keep as ``best.pt`` the checkpoint whose generated
jets are closest to the validation jets (``train.select_by: substructure``).

The score compares, for each jet class, generated jets with as many validation jets of that
class through the standardized W1 distance of each of :data:`OBSERVABLES`: the
1-Wasserstein distance divided by the observable's standard deviation in the validation jets,
so that every observable counts alike. The score is the mean over classes and observables
(dimensionless, 0 for identical samples; lower is better). The jet mass is the full jet's, as
the JetNet metrics see it; the rest come from the stored constituents, as in
:mod:`hepvae.evaluate.substructure`.
"""

from __future__ import annotations

from collections.abc import Sequence

import awkward as ak
import numpy as np
import torch

from hepvae.evaluate.substructure import BETA, R0
from hepvae.physics import observables as obs
from hepvae.sampling import padded_to_jets

#: the observables of the score
OBSERVABLES = ("mass", "tau21", "tau32", "d2")


def tensors_to_jets(
    p4: torch.Tensor,
    mask: torch.Tensor,
    labels: torch.Tensor,
    jet: torch.Tensor | None = None,
    nparticles: torch.Tensor | None = None,
) -> ak.Array:
    """Schema jets from padded tensors: ``p4`` [B, N, 4] (E, px, py, pz) GeV, ``mask`` [B, N],
    ``labels`` [B]; ``jet`` [B, 4] (pT GeV, eta, phi, mass GeV) and ``nparticles`` [B] of the
    full jet when known (else the constituents' sum)."""
    order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)  # real slots first
    p4 = torch.gather(p4, 1, order[..., None].expand_as(p4))
    extra = (None if t is None else t.detach().cpu().numpy() for t in (jet, nparticles))
    return padded_to_jets(
        p4.detach().float().cpu().numpy(),
        mask.sum(1).cpu().numpy(),
        labels.cpu().numpy(),
        0,
        *extra,
    )


def observables(jets: ak.Array, n_particles: int) -> dict[str, np.ndarray]:
    """Per-jet values of :data:`OBSERVABLES` (mass in GeV, the rest dimensionless)."""
    parts = obs.leading(jets.Part, n_particles)
    tau21, tau32 = obs.tau_ratios(obs.nsubjettiness(parts, r0=R0, beta=BETA))
    return {
        "mass": ak.to_numpy(jets.Jet.mass).astype(np.float64),
        "tau21": tau21,
        "tau32": tau32,
        "d2": obs.d2(parts, beta=BETA),
    }


def standardized_w1(reference: np.ndarray, other: np.ndarray) -> float:
    """W1 between two samples of one observable, in units of the reference's standard
    deviation."""
    from scipy.stats import wasserstein_distance

    spread = float(np.std(reference))
    return float(wasserstein_distance(reference, other)) / max(spread, 1e-12)


def substructure_score(
    real: ak.Array, generated: ak.Array, n_particles: int
) -> tuple[float, dict[str, float]]:
    """The selection score of ``generated`` against ``real`` jets, and its parts
    (``<observable>_<class label>``, each a standardized W1)."""
    labels = ak.to_numpy(real.Jet.label)
    made = ak.to_numpy(generated.Jet.label)
    parts: dict[str, float] = {}
    for label in np.unique(labels):
        ref = observables(real[labels == label], n_particles)
        gen = observables(generated[made == label], n_particles)
        for name in OBSERVABLES:
            parts[f"{name}_{int(label)}"] = standardized_w1(ref[name], gen[name])
    return float(np.mean(list(parts.values()))), parts


def class_balanced(labels: torch.Tensor, per_class: int) -> torch.Tensor:
    """Indices of the first ``per_class`` jets of each class in ``labels`` (sorted)."""
    keep: Sequence[torch.Tensor] = [
        torch.nonzero(labels == c).flatten()[:per_class] for c in torch.unique(labels)
    ]
    return torch.sort(torch.cat(list(keep))).values
