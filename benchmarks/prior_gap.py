"""How much of the generated jets' distance from data is the prior's, and how much the
decoder's?

    python benchmarks/prior_gap.py CHECKPOINT --heldout test_t.root [--n 6000] [-o gap.json]

For the class of the held-out file, the script measures the raw W1 against held-out half A of
the constituents' mass [GeV] (the leading N, so that every row sees the same thing), τ21, τ32
and D2 (as :mod:`hepvae.train.selection` computes them) for:

- ``truth``: held-out half B;
- ``prior``: jets generated as ``hepvae generate`` makes them (the fitted Gaussian mixture);
- ``flow``: latents from a normalizing flow fitted to the training jets' posterior means
  (``zuko``'s neural spline flow; the row is left out where ``zuko`` is not installed);
- ``posterior means``: latents that are posterior means of training jets, drawn with
  replacement: the distribution the mixture and the flow estimate, met exactly;
- ``posterior samples``: z = mu + sigma eps of training jets drawn with replacement, the
  aggregate posterior that the decoder saw in training;
- ``reconstructed``: half B encoded (posterior mean) and decoded with its true multiplicity.

The decoder, multiplicity and rest heads and the placement are the sampler's in every generated
row (``HyperVAE.sample`` with ``latent``); only z differs. ``prior`` far above the posterior
rows says a better prior would help; the posterior rows near ``reconstructed`` and far above
``truth`` say the decoder is the limit. Each row also records the mean and standard deviation
of every observable, so that a W1 can be read as a shift or a change of width.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hepvae.atomic import write_json  # noqa: E402
from hepvae.data.schema import read_jets  # noqa: E402
from hepvae.errors import HepvaeError  # noqa: E402
from hepvae.train.checkpoint import Checkpoint  # noqa: E402
from hepvae.train.data import JetTensors, jets_to_tensors  # noqa: E402
from hepvae.train.run import prepare_data  # noqa: E402
from hepvae.train.selection import OBSERVABLES, observables, tensors_to_jets  # noqa: E402


def constituent_observables(p4, mask, label, n_particles: int) -> dict[str, np.ndarray]:
    """:data:`OBSERVABLES` of padded jets, the mass being the constituents' (GeV)."""
    return observables(tensors_to_jets(p4, mask, label), n_particles)


def posteriors(model, data: JetTensors, batch: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """(mu, sigma) [J, latent_dim] of the jets' posteriors (jets with a finite one)."""
    with torch.no_grad():
        parts = [
            model.encode(data.p4[i], data.mask[i], data.label[i])
            for i in torch.arange(len(data)).split(batch)
        ]
    mu = torch.cat([m for m, _ in parts]).float()
    sigma = torch.cat([(0.5 * v).exp() for _, v in parts]).float()
    good = torch.isfinite(mu).all(1) & torch.isfinite(sigma).all(1)
    return mu[good], sigma[good]


def fit_flow(mus: torch.Tensor, seed: int, epochs: int = 200):
    """A neural spline flow on the posterior means (standardized), trained by maximum
    likelihood with early stopping on a 10 % split; returns a function n -> z [n, D]."""
    import zuko

    torch.manual_seed(seed)
    mean, std = mus.mean(0), mus.std(0)
    x = (mus - mean) / std
    perm = torch.randperm(len(x))
    n_val = len(x) // 10
    val, train = x[perm[:n_val]], x[perm[n_val:]]
    flow = zuko.flows.NSF(features=x.shape[1], transforms=4, hidden_features=(128, 128))
    optimizer = torch.optim.Adam(flow.parameters(), lr=1e-3)
    best, best_state, patience, ran = float("inf"), None, 0, 0
    for epoch in range(1, epochs + 1):
        ran = epoch
        flow.train()
        for index in torch.randperm(len(train)).split(256):
            loss = -flow().log_prob(train[index]).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        flow.eval()
        with torch.no_grad():
            val_loss = float(-flow().log_prob(val).mean())
        if val_loss < best - 1e-3:
            best, patience = val_loss, 0
            best_state = {k: v.clone() for k, v in flow.state_dict().items()}
        else:
            patience += 1
            if patience >= 10:
                break
    flow.load_state_dict(best_state)
    print(f"flow: {ran} epochs, validation NLL {best:.3f} (standardized units)")

    def draw(n: int) -> torch.Tensor:
        with torch.no_grad():
            return flow().sample((n,)) * std + mean

    return draw


def study(checkpoint: Path, heldout: Path, n: int, seed: int, flow_epochs: int = 200) -> dict:
    from scipy.stats import wasserstein_distance

    model, config = Checkpoint.load(checkpoint).build_model("cpu")
    model.eval()
    n_particles = config.model.n_particles
    test = jets_to_tensors(read_jets(heldout), n_particles)
    label = int(test.label[0])
    half = len(test) // 2
    a, b = test.subset(torch.arange(half)), test.subset(torch.arange(half, 2 * half))
    reference = constituent_observables(a.p4, a.mask, a.label, n_particles)

    def w1(values: dict[str, np.ndarray]) -> dict[str, float]:
        return {k: float(wasserstein_distance(reference[k], values[k])) for k in OBSERVABLES}

    def mean_std(values: dict[str, np.ndarray]) -> dict[str, tuple[float, float]]:
        return {k: (float(np.mean(v)), float(np.std(v))) for k, v in values.items()}

    rows, moments = {}, {"held-out A": mean_std(reference)}

    def measure(name: str, values: dict[str, np.ndarray]) -> None:
        rows[name] = w1(values)
        moments[name] = mean_std(values)

    measure("truth", constituent_observables(b.p4, b.mask, b.label, n_particles))
    labels = torch.full((n,), label)

    def generated(name: str, latent: torch.Tensor | None) -> None:
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            p4, mask, _, _ = model.sample(n, labels, 1.0, gen, latent=latent)
        measure(name, constituent_observables(p4, mask, labels, n_particles))

    generated("prior", None)
    train, _, _ = prepare_data(config, [Path(p) for p in config.data.files])
    mus, sigmas = posteriors(model, train.subset(torch.nonzero(train.label == label).squeeze(1)))
    print(f"{len(mus)} posteriors of training jets (class {label})")
    if flow_epochs > 0:
        try:
            draw = fit_flow(mus, seed, flow_epochs)
        except ImportError:
            print("flow: skipped (pip install zuko)")
        else:
            generated("flow", draw(n))
    rng = torch.Generator().manual_seed(seed + 1)
    pick = torch.randint(len(mus), (n,), generator=rng)
    generated("posterior means", mus[pick])
    eps = torch.randn(n, mus.shape[1], generator=rng)
    generated("posterior samples", mus[pick] + sigmas[pick] * eps)
    p4, mask = model.reconstruct(b.p4, b.mask, b.label, true_multiplicity=True)
    measure("reconstructed", constituent_observables(p4, mask, b.label, n_particles))
    sigma = {"median": float(sigmas.median()), "mean_std_of_mu": float(mus.std(0).mean())}
    return {
        "checkpoint": str(checkpoint),
        "label": label,
        "n": n,
        "posterior_sigma": sigma,
        "w1": rows,
        "mean_std": moments,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path, help="a trained checkpoint (best.pt)")
    parser.add_argument("--heldout", type=Path, required=True, help="held-out jets of one class")
    parser.add_argument("--n", type=int, default=6000, help="generated jets per row")
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--flow-epochs", type=int, default=200, help="0: no flow row")
    parser.add_argument("-o", "--output", type=Path, help="JSON with the W1s")
    args = parser.parse_args()
    torch.manual_seed(0)
    result = study(args.checkpoint, args.heldout, args.n, args.seed, args.flow_epochs)
    truth = result["w1"]["truth"]
    print("row               " + "  ".join(f"{k:>16}" for k in OBSERVABLES) + "   (W1, x truth)")
    for name, values in result["w1"].items():
        cells = "  ".join(f"{values[k]:9.4g} ({values[k] / truth[k]:4.1f}x)" for k in OBSERVABLES)
        print(f"{name:17} {cells}")
    print("mean ± std      " + "  ".join(f"{k:>20}" for k in OBSERVABLES))
    for name, values in result["mean_std"].items():
        print(f"{name:17} " + "  ".join(f"{m:9.4g} ± {s:<8.3g}" for m, s in values.values()))
    print(f"posterior sigma: {result['posterior_sigma']}")
    if args.output is not None:
        write_json(args.output, result)


if __name__ == "__main__":
    try:
        main()
    except HepvaeError as exc:
        sys.exit(f"prior_gap: error: {exc}")
