"""Simulation speed: jets per second, in total and per core, for each jet class.

    python benchmarks/bench_simulate.py --type t --n 2000 --workers 2
    python benchmarks/bench_simulate.py --type all --n 500

For each class it simulates ``n`` jets into a temporary file (the full ``hepvae simulate``
path: Pythia, FastJet, matching, writing) and prints wall-clock and CPU figures. CPU time
counts the workers too, so ``CPU ms/jet`` does not depend on how busy the machine is, while
the wall-clock rates do. ``Pythia ms/jet`` times Pythia alone for the same number of events,
divided by the jets they gave.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from hepvae.data.schema import JET_TYPES, read_metadata
from hepvae.data.simulate import SimulationConfig, available_cores, simulate_to_file


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def pythia_seconds(jet_type: str, n_events: int) -> float:
    """Seconds that Pythia alone takes for ``n_events`` events of ``jet_type`` (one core)."""
    import pythia8mc

    pythia = pythia8mc.Pythia("", False)
    for line in SimulationConfig(jet_type=jet_type).settings():
        pythia.readString(line)
    pythia.init()
    pythia.rndm.init(12345)
    start = time.process_time()
    pythia.nextBatch(n_events)
    return time.process_time() - start


def bench(jet_type: str, n: int, workers: int, seed: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{jet_type}.root"
        cpu0, wall0 = cpu_seconds(), time.perf_counter()
        simulate_to_file(path, jet_type, n, seed=seed, workers=workers, progress=False)
        wall, cpu = time.perf_counter() - wall0, cpu_seconds() - cpu0
        n_events = read_metadata(path)["n_events"]
    return {
        "wall": wall,
        "jets_per_s": n / wall,
        "jets_per_s_core": n / wall / workers,
        "cpu_ms_per_jet": 1e3 * cpu / n,
        "jets_per_event": n / n_events,
        "pythia_ms_per_jet": 1e3 * pythia_seconds(jet_type, n_events) / n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--type", default="all", choices=(*JET_TYPES, "all"))
    parser.add_argument("--n", type=int, default=1000, help="jets per class")
    parser.add_argument("--workers", type=int, default=available_cores())
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    types = JET_TYPES if args.type == "all" else (args.type,)
    print(f"{args.n} jets per class, {args.workers} workers, {available_cores()} cores available")
    header = (
        f"{'type':>4} {'wall s':>7} {'jets/s':>7} {'jets/s/core':>11} {'CPU ms/jet':>10} "
        f"{'Pythia ms/jet':>13} {'jets/event':>10}"
    )
    print(header)
    for jet_type in types:
        r = bench(jet_type, args.n, args.workers, args.seed)
        print(
            f"{jet_type:>4} {r['wall']:7.1f} {r['jets_per_s']:7.1f} {r['jets_per_s_core']:11.1f} "
            f"{r['cpu_ms_per_jet']:10.2f} {r['pythia_ms_per_jet']:13.2f} {r['jets_per_event']:10.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
