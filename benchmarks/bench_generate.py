"""Generation speed: torch and onnxruntime on the CPU (and GPU when present) against
Pythia 8 + FastJet for the same jet type, in one run on one machine.

    python benchmarks/bench_generate.py [--checkpoint CKPT] [--type t] [--cpp BUILD/hepvae-sample]
    python benchmarks/bench_generate.py --checkpoint CKPT --heldout TEST.root  # speed and fidelity

Without --checkpoint the model has the default configuration (configs/default.yaml) and
untrained weights, with its normalization from the simulated jets: the speed does not depend on
the weights. Figures: wall-clock jets per second, and CPU microseconds per jet (process CPU
time, all threads; with one thread this is the cost per core, and it depends much less on other
load on the machine than the wall clock). "torch" and "onnxruntime" time the sampling graph
alone; "Sampler to awkward" adds the conversion to schema jets, "Sampler to ROOT" the file
writing; "C++ to .csv" and "C++ to .npy" (with --cpp) run the compiled example, its output file
and start-up included (session creation, about 0.05 s of CPU; each C++ run makes
CPP_JETS_FACTOR times the jets of the other rows, so that this adds about 1 µs/jet). Pythia 8 +
FastJet runs in this process (one worker), Pythia's start-up per chunk of 250 jets included;
the ratio column compares CPU per jet. "torch" is the trained modules' graph
(lgatr's LGATrSlim); "torch, inference decoder" and every ONNX row use the inference-only
decoder that ``hepvae export`` writes (hepvae.export.fast); "onnxruntime, lgatr graph" is the
trained graph exported as it is, for comparison. The script prints how far the inference graph
is from the trained one (relative p4 deviation, as the export checks it; the fidelity is
unchanged at that level).

With --heldout (and --checkpoint), the jets the timed ONNX sampler makes are also compared with
held-out real jets of the same type, as ``hepvae evaluate`` does: W1M, W1P and the tau32 W1
(JetNet convention, stored jet axis) of --fidelity-jets generated jets, next to the truth
baseline of two disjoint halves of the held-out jets (which need twice as many), so that a
faster model's fidelity is printed next to its speed.
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hepvae.data.schema import label_of  # noqa: E402
from hepvae.sampling import label_range, noise_range  # noqa: E402


def child_cpu() -> float:
    """CPU seconds used so far by this process's finished subprocesses."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(run, jets: int, repeats: int, cpu_clock=time.process_time) -> tuple[float, float]:
    """(jets per second, CPU microseconds per jet) of the fastest of ``repeats`` calls of
    ``run()`` after one warm-up call; ``cpu_clock`` is :func:`child_cpu` for a subprocess."""
    run()
    best = (float("inf"), float("inf"))
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), cpu_clock()
        run()
        best = min(best, (time.perf_counter() - wall, cpu_clock() - cpu))
    return jets / best[0], best[1] / jets * 1e6


def pythia(jet_type: str, jets: int) -> tuple[tuple[float, float], object] | None:
    """Pythia 8 + FastJet in this process: ((jets/s, CPU us/jet), the jets)."""
    try:
        from hepvae.data.simulate import simulate
    except ImportError:
        return None
    simulate(jet_type, 5, seed=1, workers=1, progress=False)  # imports, first init
    wall, cpu = time.perf_counter(), time.process_time()
    sample = simulate(jet_type, jets, seed=2, workers=1, progress=False)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return (jets / wall, cpu / jets * 1e6), sample


def untrained_model(jets, config=None):
    """An untrained HyperVAE of ``config`` (a :class:`hepvae.train.config.Config`; default:
    configs/default.yaml), normalized on ``jets``."""
    from hepvae.model import HyperVAE, compute_normalization
    from hepvae.train.config import load_train_config
    from hepvae.train.data import jets_to_tensors

    if config is None:
        config = load_train_config(Path(__file__).resolve().parents[1] / "configs/default.yaml")
    m = config.model
    data = jets_to_tensors(jets, m.n_particles)
    norm = compute_normalization(data.p4, data.mask, data.label, m)
    torch.manual_seed(0)
    return HyperVAE(m, norm, config.loss).eval()


def untrained_generator(jets, jet_type: str, config=None):
    """:func:`untrained_model` as a :class:`hepvae.generate.LoadedModel` for ``jet_type``, as
    the exporter takes it."""
    from hepvae.generate import LoadedModel

    vae = untrained_model(jets, config)
    norm = vae.normalization.to_dict()
    return LoadedModel(vae, Path("untrained"), "", "", [label_of(jet_type)], norm)


#: the fidelity printed next to the speed (``hepvae evaluate`` metric names)
FIDELITY_METRICS = ("w1m", "w1p", "w1tau32")


def fidelity(sampler, heldout: list[str], jet_type: str, n: int, out: Path) -> dict:
    """:func:`hepvae.evaluate.evaluate` of ``n`` jets of ``sampler`` (written to ``out``)
    against the held-out real jets: :data:`FIDELITY_METRICS` with the truth baseline."""
    from hepvae.evaluate import evaluate

    sampler.write(out, n, jet_type, seed=1)
    return evaluate(heldout, [out], n=n, metrics=FIDELITY_METRICS)


#: the C++ sampler makes this many times the jets of the other rows per timed call, so that
#: its start-up (session creation) is spread thin
CPP_JETS_FACTOR = 4


def cpp_run(program: str, model: Path, jet_type: str, n: int, batch: int, out: Path):
    """A call of the C++ sampler (one thread), timed with :func:`child_cpu`."""
    args = [program, "--model", str(model), "--type", jet_type, "--n", str(n), "--seed", "1",
            "--batch", str(batch), "--threads", "1", "-o", str(out)]  # fmt: skip

    def run():
        subprocess.run(args, check=True, capture_output=True)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="trained checkpoint (default: untrained default)")
    parser.add_argument("--type", default="t", help="jet type (default t)")
    parser.add_argument("--batches", default="1024,10240", help="batch sizes (comma-separated)")
    parser.add_argument("--pythia-jets", type=int, default=200, help="jets to simulate")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cpp", help="a built C++ sampler (exports/cpp: hepvae-sample)")
    parser.add_argument("--heldout", nargs="+", metavar="REAL.root",
                        help="held-out real jets: print W1M, W1P and tau32 W1 of the sampler's "
                        "jets next to the speed (needs --checkpoint)")  # fmt: skip
    parser.add_argument("--fidelity-jets", type=int, default=5000,
                        help="generated jets for --heldout (default 5000)")  # fmt: skip
    args = parser.parse_args()
    if args.heldout and not args.checkpoint:
        parser.error("--heldout needs --checkpoint (an untrained model has no fidelity)")
    if args.fidelity_jets <= 0:
        parser.error(f"--fidelity-jets must be positive, got {args.fidelity_jets}")
    batches = [int(b) for b in args.batches.split(",")]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    rows: list[tuple[str, int, int, float, float]] = []  # (what, batch, threads, jets/s, us/jet)

    from hepvae.export.graph import SamplerGraph
    from hepvae.export.onnx_export import (
        check_export,
        check_fast,
        export_graph,
        fast_graph,
        sampler_metadata,
    )
    from hepvae.generate import load_generator
    from hepvae.onnx import CHUNK, Sampler

    model = load_generator(args.checkpoint) if args.checkpoint else None  # fails fast
    print(f"machine: {cores} cores, torch {torch.__version__}, jet type {args.type}")
    reference = pythia(args.type, args.pythia_jets)
    if reference is None:
        print("Pythia 8 + FastJet: hepvae.data.simulate not available, skipped")
    else:
        rows.append(("Pythia 8 + FastJet", 0, 1, *reference[0]))

    if model is None:
        if reference is None:
            sys.exit("without hepvae.data.simulate give --checkpoint")
        model = untrained_generator(reference[1], args.type)
    graph = SamplerGraph(model.vae).eval()
    fast = fast_graph(graph, Path("benchmark"))
    label = label_of(args.type)
    temperature = np.ones(1, dtype=np.float32)
    print(
        f"model: {args.checkpoint or 'default config, untrained'}; "
        f"{sum(p.numel() for p in model.vae.parameters())} parameters, "
        f"{graph.max_particles} particle slots; batches {batches}"
    )

    def torch_run(device: str, noise: np.ndarray, labels: np.ndarray, batch: int, g=graph):
        g = g.to(device)
        z, lab = torch.from_numpy(noise).to(device), torch.from_numpy(labels).to(device)
        t = torch.from_numpy(temperature).to(device)

        def run():
            with torch.no_grad():
                for a in range(0, len(noise), batch):
                    g(z[a : a + batch], lab[a : a + batch], t)
                    if device == "cuda":
                        torch.cuda.synchronize()

        return run

    def ort_run(sampler: Sampler, noise: np.ndarray, labels: np.ndarray, batch: int):
        def run():
            for a in range(0, len(noise), batch):
                sampler.run(noise[a : a + batch], labels[a : a + batch], temperature)

        return run

    with tempfile.TemporaryDirectory() as tmp:
        path, before = Path(tmp) / "sampler.onnx", Path(tmp) / "lgatr.onnx"
        start = time.perf_counter()
        export_graph(fast, path, sampler_metadata(model, graph))
        print(f"export: {time.perf_counter() - start:.1f} s, {path.stat().st_size / 1e6:.1f} MB")
        export_graph(graph, before, sampler_metadata(model, graph))
        print(
            f"inference graph vs trained graph, relative p4 deviation: torch "
            f"{check_fast(graph, fast, 1024):.2g}, onnxruntime {check_export(graph, path, 1024):.2g}"
        )
        samplers = {threads: Sampler(path, threads=threads) for threads in sorted({1, cores})}
        lgatr_graph = Sampler(before, threads=1, chunk=1 << 30)  # as before: one call per batch
        one_call = Sampler(path, threads=1, chunk=1 << 30)
        for batch in batches:
            n = max(batch, 8192)  # jets per timed call
            noise = noise_range(0, 0, n, graph.noise_dim)
            labels = label_range(0, n, [label])
            for threads in sorted({1, cores}):
                torch.set_num_threads(threads)
                timing = measure(torch_run("cpu", noise, labels, batch), n, args.repeats)
                rows.append(("torch", batch, threads, *timing))
            torch.set_num_threads(1)
            timing = measure(torch_run("cpu", noise, labels, batch, fast), n, args.repeats)
            rows.append(("torch, inference decoder", batch, 1, *timing))
            timing = measure(ort_run(lgatr_graph, noise, labels, batch), n, args.repeats)
            rows.append(("onnxruntime, lgatr graph", batch, 1, *timing))
            timing = measure(ort_run(one_call, noise, labels, batch), n, args.repeats)
            rows.append(("onnxruntime, one call", batch, 1, *timing))
            for threads, sampler in samplers.items():
                timing = measure(ort_run(sampler, noise, labels, batch), n, args.repeats)
                rows.append(("onnxruntime (Python)", batch, threads, *timing))
            one, out = samplers[1], Path(tmp) / "jets.root"
            to_jets = functools.partial(one.sample, n, args.type, batch_size=batch)
            rows.append(("Sampler to awkward", batch, 1, *measure(to_jets, n, args.repeats)))
            to_root = functools.partial(one.write, out, n, args.type, batch_size=batch)
            rows.append(("Sampler to ROOT", batch, 1, *measure(to_root, n, args.repeats)))
            if args.cpp:  # --batch is the C++ sampler's jets per onnxruntime call
                variants = ((batch, "csv"), (CHUNK, "csv"), (batch, "npy"), (CHUNK, "npy"))
                jets = CPP_JETS_FACTOR * n
                for per_call, kind in variants:
                    out = Path(tmp) / f"jets.{kind}"
                    run = cpp_run(args.cpp, path, args.type, jets, per_call, out)
                    timing = measure(run, jets, args.repeats, child_cpu)
                    rows.append((f"C++ to .{kind}, --batch {per_call}", batch, 1, *timing))
            if torch.cuda.is_available():
                timing = measure(torch_run("cuda", noise, labels, batch), n, 5)
                rows.append(("torch, GPU", batch, 0, *timing))
                import onnxruntime

                if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
                    gpu = Sampler(path, providers=["CUDAExecutionProvider"])
                    rows.append(("onnxruntime, GPU", batch, 0, *measure(ort_run(gpu, noise, labels, batch), n, 5)))  # fmt: skip
        if args.heldout:
            out = Path(tmp) / "fidelity.root"
            result = fidelity(samplers[1], args.heldout, args.type, args.fidelity_jets, out)

    base = rows[0][4] if reference is not None else None
    head = f"{'what':26s} {'batch':>6s} {'threads':>7s} {'jets/s':>9s} {'CPU us/jet':>11s} {'x Pythia':>9s}"
    print("\n" + head)
    for what, batch, threads, rate, cpu in rows:
        shown = "GPU" if threads == 0 else str(threads)
        ratio = f"{base / cpu:9.1f}" if base and threads else f"{'':9s}"
        print(f"{what:26s} {batch or '':>6} {shown:>7s} {rate:9.0f} {cpu:11.1f} {ratio}")
    print("x Pythia: Pythia's CPU time per jet over this row's (per core for 1 thread)")
    if args.heldout:
        from rich.console import Console

        from hepvae.evaluate import metrics_table, substructure_table

        print(f"\nfidelity of the ONNX sampler's jets ({args.fidelity_jets} generated) against "
              f"{' '.join(args.heldout)}:")  # fmt: skip
        for table in (metrics_table(result), substructure_table(result)):
            Console().print(table)


if __name__ == "__main__":
    from hepvae.errors import HepvaeError

    try:
        main()
    except HepvaeError as exc:
        sys.exit(f"error: {exc}")
