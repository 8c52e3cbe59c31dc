"""Cost of the analysis observables per jet, on a file or on toy jets.

    python benchmarks/observables_cost.py [FILE.root] [--n 3000]

Prints milliseconds per jet for each observable and for a full histogram fill.
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    from hepvae.analysis.histograms import book, fill
    from hepvae.data.schema import read_jets
    from hepvae.physics import observables as obs

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", help="a hepvae ROOT file (default: toy jets)")
    parser.add_argument("--n", type=int, default=3000)
    args = parser.parse_args()
    if args.file:
        jets = read_jets(args.file, max_jets=args.n)
    else:
        from benchmarks.evaluate_cost import toy_jets

        jets = toy_jets(args.n, seed=0)
    print(f"{len(jets)} jets, cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
    parts = jets.Part
    for name, func in (
        ("2-point EEC", lambda: obs.eec2(parts)),
        ("projected E3C (30 leading)", lambda: obs.eec3_projected(parts, 30)),
        ("N-subjettiness (fastjet)", lambda: obs.nsubjettiness(parts)),
        ("jet width", lambda: obs.jet_width(jets.Jet, parts)),
        ("all histograms (fill)", lambda: fill(book(), jets.Jet, parts)),
    ):
        start = time.perf_counter()
        func()
        print(f"{name}: {1e3 * (time.perf_counter() - start) / len(jets):.3f} ms/jet")


if __name__ == "__main__":
    main()
