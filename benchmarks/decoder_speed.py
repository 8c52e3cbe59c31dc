"""Sampling cost of smaller decoders: the exported sampler of a config with its decoder's
channels changed, untrained (the cost does not depend on the weights), timed in turn.

    python benchmarks/decoder_speed.py --config configs/fast.yaml --decoder 8/32 8/24 6/32 8/16

Each ``--decoder V/S`` sets the decoder's vector and scalar channels (``model.decoder.hidden_v``
and ``hidden_s``); all else is the config's. Each sampler is exported as ``hepvae export``
writes it (the inference decoder, checked against the trained modules) and run through
:class:`hepvae.onnx.Sampler` on one thread. The samplers run in turn, ``--rounds`` times, so
that a change of the machine's speed during the run hits all of them alike. Figures: CPU
microseconds per top jet (median and fastest round), and the ratio to Pythia 8 + FastJet timed
in the same run. This prints what a smaller decoder would save; its fidelity has to be
measured by training it (``benchmarks/fidelity.py``).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_generate import pythia, untrained_generator  # noqa: E402
from hepvae.data.schema import label_of  # noqa: E402
from hepvae.errors import HepvaeError  # noqa: E402
from hepvae.sampling import label_range, noise_range  # noqa: E402


def channels(text: str) -> tuple[int, int]:
    """``V/S`` -> (vector channels, scalar channels)."""
    try:
        v, s = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--decoder {text!r}: expected V/S, e.g. 8/32") from None
    if v < 1 or s < 1:
        raise argparse.ArgumentTypeError(f"--decoder {text!r}: channels must be positive")
    return v, s


def export_sampler(config, decoder: tuple[int, int], jets, jet_type: str, path: Path):
    """Export the untrained sampler of ``config`` with ``decoder`` channels to ``path``;
    return (its decoder's parameter count, a one-thread :class:`hepvae.onnx.Sampler`)."""
    from hepvae.export.graph import SamplerGraph
    from hepvae.export.onnx_export import export_graph, fast_graph, sampler_metadata
    from hepvae.onnx import Sampler

    sizes = dict(hidden_v=decoder[0], hidden_s=decoder[1])
    model = dataclasses.replace(
        config.model, decoder=dataclasses.replace(config.model.decoder, **sizes)
    )
    loaded = untrained_generator(jets, jet_type, dataclasses.replace(config, model=model))
    graph = SamplerGraph(loaded.vae).eval()
    export_graph(fast_graph(graph, path), path, sampler_metadata(loaded, graph))
    return sum(p.numel() for p in loaded.vae.decoder.parameters()), Sampler(path, threads=1)


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Print the table; return {``V/S``: {parameters, median, fastest, x_pythia}}."""
    from hepvae.train.config import load_train_config

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", type=Path, default=Path("configs/fast.yaml"))
    p.add_argument("--decoder", type=channels, nargs="+", required=True, metavar="V/S")
    p.add_argument("--type", default="t", help="jet type (default t)")
    p.add_argument("--jets", type=int, default=8192, help="jets per timed round")
    p.add_argument("--batch", type=int, default=1024, help="jets per Sampler.run call")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--pythia-jets", type=int, default=300)
    args = p.parse_args(argv)
    config = load_train_config(args.config)
    reference = pythia(args.type, args.pythia_jets)
    if reference is None:
        raise HepvaeError("decoder_speed needs hepvae.data.simulate (Pythia 8 and FastJet)")
    (_, pythia_us), jets = reference
    samplers = {}
    with tempfile.TemporaryDirectory() as tmp:
        for v, s in args.decoder:
            path = Path(tmp) / f"sampler_{v}_{s}.onnx"
            samplers[f"{v}/{s}"] = export_sampler(config, (v, s), jets, args.type, path)
        noise_dim = next(iter(samplers.values()))[1].noise_dim  # the same for every decoder
        noise = noise_range(0, 0, args.jets, noise_dim)
        labels = label_range(0, args.jets, [label_of(args.type)])
        times: dict[str, list[float]] = {name: [] for name in samplers}
        for _ in range(args.rounds):
            for name, (_, sampler) in samplers.items():
                start = time.process_time()
                for a in range(0, args.jets, args.batch):
                    sampler.run(noise[a : a + args.batch], labels[a : a + args.batch])
                times[name].append((time.process_time() - start) / args.jets * 1e6)
    result = {}
    print(f"{args.config}, jet type {args.type}, batch {args.batch}, one thread, "
          f"{args.rounds} rounds of {args.jets} jets; Pythia 8 + FastJet {pythia_us:.0f} "
          "CPU us/jet")  # fmt: skip
    print(f"{'decoder V/S':>11s} {'parameters':>10s} {'median us/jet':>14s} "
          f"{'fastest':>8s} {'x Pythia':>9s}")  # fmt: skip
    for name, (parameters, _) in samplers.items():
        median, fastest = statistics.median(times[name]), min(times[name])
        ratio = pythia_us / median
        result[name] = dict(parameters=parameters, median=median, fastest=fastest, x_pythia=ratio)
        print(f"{name:>11s} {parameters:10d} {median:14.1f} {fastest:8.1f} {ratio:9.0f}")
    return result


if __name__ == "__main__":
    try:
        main()
    except HepvaeError as exc:
        sys.exit(f"error: {exc}")
