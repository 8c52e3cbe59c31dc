"""Which epoch should a run keep? The validation loss against the substructure score of
``train.select_by: substructure``, judged on held-out jets.

    python benchmarks/checkpoint_selection.py RUN_DIR --heldout test_t.root [-o study.json]

RUN_DIR holds the epoch checkpoints of one run (``train.checkpoint_every: 1``). For each epoch
(from ``--first-epoch`` on) the script computes what each criterion sees: the validation loss
stored in the checkpoint's history, and the substructure score of jets generated from the prior
against the run's validation split (:mod:`hepvae.train.selection`, as training computes it). It
then generates an independent sample (``--n`` jets of the held-out file's class, another seed)
and measures the raw W1 of jet mass [GeV], τ21, τ32 and D2 against the held-out jets. It prints
one row per epoch, the correlation of each criterion with each held-out W1 over the epochs, and
the held-out W1s of the epoch each criterion picks.
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
from hepvae.train.run import prepare_data  # noqa: E402
from hepvae.train.selection import (  # noqa: E402
    OBSERVABLES,
    class_balanced,
    observables,
    substructure_score,
    tensors_to_jets,
)


def sample(model, labels: torch.Tensor, seed: int):
    """Schema jets of ``labels`` from the model's prior, reproducibly."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        outs = [model.sample(len(part), part, 1.0, generator) for part in labels.split(1000)]
    p4, mask, jet, nparticles = (torch.cat(column) for column in zip(*outs))
    return tensors_to_jets(p4, mask, labels, jet, nparticles)


def validation_loss(ckpt: Checkpoint) -> float | None:
    """The validation loss of the checkpoint's own epoch, from its history."""
    for record in ckpt.history:
        if record["epoch"] == ckpt.epoch and "val_total" in record:
            return float(record["val_total"])
    return None


def study(run: Path, heldout: Path, n: int, select_jets: int, first_epoch: int) -> list[dict]:
    from scipy.stats import wasserstein_distance

    files = sorted(run.glob("epoch*.pt"))
    if not files:
        raise HepvaeError(f"{run}: no epoch checkpoints (train with train.checkpoint_every: 1)")
    _, config = Checkpoint.load(files[-1]).build_model("cpu")
    n_particles = config.model.n_particles
    _, val, _ = prepare_data(config, [Path(p) for p in config.data.files])
    val = val.subset(class_balanced(val.label, select_jets))
    real_val = tensors_to_jets(val.p4, val.mask, val.label, val.jet, val.nparticles)
    test = read_jets(heldout)
    label = int(test.Jet.label[0])
    test_obs = observables(test, n_particles)
    rows = []
    for path in files:
        ckpt = Checkpoint.load(path)
        if ckpt.epoch < first_epoch:
            continue
        model, _ = ckpt.build_model("cpu")
        score, _ = substructure_score(real_val, sample(model, val.label, 1), n_particles)
        made = observables(sample(model, torch.full((n,), label), 2), n_particles)
        w1 = {k: float(wasserstein_distance(test_obs[k], made[k])) for k in OBSERVABLES}
        rows.append(dict(epoch=ckpt.epoch, loss=validation_loss(ckpt), score=score, heldout=w1))
        shown = " ".join(f"{k} {v:.4g}" for k, v in w1.items())
        print(f"epoch {ckpt.epoch:3d}  loss {rows[-1]['loss']:.4f}  score {score:.4f}  {shown}")
    return rows


def summary(rows: list[dict]) -> dict:
    """Correlations of each criterion with each held-out W1, and each criterion's pick."""
    out: dict = {"correlation": {}, "picked": {}}
    for criterion in ("loss", "score"):
        values = np.array([r[criterion] for r in rows], dtype=float)
        out["correlation"][criterion] = {
            k: float(np.corrcoef(values, [r["heldout"][k] for r in rows])[0, 1])
            for k in OBSERVABLES
        }
        best = rows[int(np.nanargmin(values))]
        out["picked"][criterion] = {"epoch": best["epoch"], **best["heldout"]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="folder with the run's epoch checkpoints")
    parser.add_argument("--heldout", type=Path, required=True, help="held-out jets of one class")
    parser.add_argument("--n", type=int, default=6000, help="generated jets per epoch")
    parser.add_argument("--select-jets", type=int, default=5000, help="as train.select_jets")
    parser.add_argument("--first-epoch", type=int, default=1)
    parser.add_argument("-o", "--output", type=Path, help="JSON with the rows and the summary")
    args = parser.parse_args()
    torch.manual_seed(0)
    rows = study(args.run, args.heldout, args.n, args.select_jets, args.first_epoch)
    result = summary(rows)
    for criterion, picked in result["picked"].items():
        corr = " ".join(f"{k} {v:+.2f}" for k, v in result["correlation"][criterion].items())
        shown = " ".join(f"{k} {v:.4g}" for k, v in picked.items() if k != "epoch")
        print(f"by {criterion}: epoch {picked['epoch']}: {shown}  (correlation: {corr})")
    if args.output is not None:
        write_json(args.output, {"rows": rows, **result})


if __name__ == "__main__":
    try:
        main()
    except HepvaeError as exc:
        sys.exit(f"checkpoint_selection: error: {exc}")
