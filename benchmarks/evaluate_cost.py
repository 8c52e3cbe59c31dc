"""Cost of ``hepvae evaluate``: EFPs per jet, each metric, and a full evaluation.

    python benchmarks/evaluate_cost.py [--n 2000] [--efp-jobs 1 2] [REAL.root GEN.root]

Without files it uses toy jets (30 massless constituents, Gaussian around the axis). Prints
seconds; on a shared machine, run it twice and say how busy the machine was.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings

import numpy as np


def toy_jets(n: int, seed: int, n_particles: int = 30):
    import awkward as ak

    from hepvae.data.schema import make_jets
    from hepvae.physics.p4 import constituents, sum_p4

    rng = np.random.default_rng(seed)
    shape = (n, n_particles)
    pt = np.sort(rng.exponential(30.0, shape) + 0.5, axis=1)[:, ::-1]
    eta, phi = rng.normal(0, 0.15, shape), rng.normal(0, 0.15, shape)
    pt, eta, phi = (ak.from_regular(ak.Array(x)) for x in (pt, eta, phi))
    p4 = sum_p4(constituents(pt, eta, phi))
    return make_jets(p4.pt, p4.eta, p4.phi, p4.mass, 2, pt, eta, phi)


def main() -> None:
    from hepvae.data.schema import read_jets, write_jets
    from hepvae.evaluate import evaluate
    from hepvae.evaluate.metrics import compute_metrics, efp_features, sample_sizes
    from hepvae.physics.coords import to_jetnet

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="REAL.root GEN.root (default: toy jets)")
    parser.add_argument("--n", type=int, default=2000, help="jets per sample")
    parser.add_argument("--efp-jobs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")

    with tempfile.TemporaryDirectory() as tmp:
        if args.files:
            real_path, gen_path = args.files
        else:
            real_path = write_jets(f"{tmp}/real.root", toy_jets(2 * args.n, 1))
            gen_path = write_jets(f"{tmp}/gen.root", toy_jets(args.n, 2))
        jets = to_jetnet(read_jets(real_path, max_jets=args.n))
        for jobs in args.efp_jobs:
            start = time.perf_counter()
            efp_features(jets, efp_jobs=jobs)
            seconds = time.perf_counter() - start
            print(f"36 FPD/KPD EFPs, {len(jets)} jets, efp_jobs={jobs}: {seconds:.1f} s "
                  f"({1e3 * seconds / len(jets):.2f} ms/jet)")  # fmt: skip
        sizes = sample_sizes(len(jets))
        other = to_jetnet(read_jets(gen_path, max_jets=args.n))
        features = efp_features(jets), efp_features(other)
        compute_metrics(jets[:50], other[:50], sample_sizes(50), ("kpd",))  # numba compile
        for metric in ("w1m", "w1p", "w1efp", "fpd", "kpd"):
            start = time.perf_counter()
            compute_metrics(jets, other, sizes, (metric,), efp_jobs=args.efp_jobs[-1],
                            reference_features=features[0], other_features=features[1])  # fmt: skip
            print(f"{metric}: {time.perf_counter() - start:.2f} s")
        start = time.perf_counter()
        result = evaluate(real_path, gen_path, n=args.n, efp_jobs=args.efp_jobs[-1])
        n = next(iter(result["jet_types"].values()))["n_per_sample"]
        print(f"evaluate, all metrics, N = {n} jets per sample (3 samples): "
              f"{time.perf_counter() - start:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
