"""Sample jets from an exported HyperVAE with onnxruntime alone (no torch needed).

    hepvae export --checkpoint checkpoints/default/best.pt -o exports/models/default/
    python exports/python/sample_jets.py exports/models/default/sampler.onnx --type t --n 10000

Prints a few jet observables and writes the jets to a ROOT file in the hepvae schema, which
uproot, coffea (``hepvae.data.nanoevents.open_events``) or ROOT itself can read.
"""

from __future__ import annotations

import argparse

import awkward as ak
import numpy as np

from hepvae.onnx import Sampler


def main() -> None:
    parser = argparse.ArgumentParser(description="sample jets with hepvae.onnx.Sampler")
    parser.add_argument("model", help="exported sampler (.onnx)")
    parser.add_argument("--type", default="t", help="g, q, t, w, z or all (default t)")
    parser.add_argument("--n", type=int, default=10_000, help="number of jets")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("-o", "--output", default="outputs/onnx_jets.root")
    args = parser.parse_args()

    sampler = Sampler(args.model, threads=1)
    print(f"{args.model}: trained on {', '.join(sampler.jet_types)}, ", end="")
    print(f"up to {sampler.max_particles} constituents per jet")

    jets = sampler.sample(args.n, args.type, seed=args.seed, temperature=args.temperature)
    # vector behaviours: four-momentum methods work on the awkward arrays directly
    width = ak.sum(jets.Part.pt * jets.Part.deltaR(jets.Jet), axis=1) / jets.Jet.pt
    for name, values in [
        ("jet pT [GeV]", jets.Jet.pt),
        ("jet mass [GeV]", jets.Jet.mass),
        ("constituents", ak.num(jets.Part, axis=1)),
        ("girth", width),
    ]:
        values = ak.to_numpy(values)
        print(f"{name:15s} mean {np.mean(values):9.3f}  std {np.std(values):9.3f}")

    path = sampler.write(
        args.output, args.n, args.type, seed=args.seed, temperature=args.temperature
    )
    print(f"wrote {args.n} jets to {path}")


if __name__ == "__main__":
    main()
