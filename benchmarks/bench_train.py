"""Training speed and peak memory of a config: jets per second and RSS (CPU) or
torch.cuda.max_memory_allocated (GPU).

    python benchmarks/bench_train.py --config configs/default.yaml [--device cuda] [--steps 30]

Data: the files given with --data, else the cached default data set (simulated if missing),
or --synthetic for random jets of the same shape (speed does not depend on the physics).
The figures depend on the load of the machine; run it on an otherwise idle one.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `hepvae train` does

import numpy as np  # noqa: E402
import torch  # noqa: E402


def synthetic_jets(n: int, n_particles: int, seed: int = 0):
    """Random massless jets near pT 1 TeV: p4 [n, N, 4] GeV, mask, label (JetNet coding)."""
    from hepvae.train.data import JetTensors

    rng = np.random.default_rng(seed)
    counts = rng.integers(n_particles // 2, n_particles + 1, size=n)
    pt = rng.exponential(30.0, (n, n_particles)) + 0.5
    eta = rng.normal(0, 0.15, (n, n_particles)) + rng.uniform(-2, 2, (n, 1))
    phi = rng.normal(0, 0.15, (n, n_particles)) + rng.uniform(-np.pi, np.pi, (n, 1))
    mask = np.arange(n_particles)[None] < counts[:, None]
    p4 = np.stack([pt * np.cosh(eta), pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], -1)
    p4 = (p4 * mask[..., None]).astype(np.float32)
    labels = rng.integers(0, 3, size=n)
    return JetTensors(torch.from_numpy(p4), torch.from_numpy(mask), torch.from_numpy(labels))


def main() -> None:
    from hepvae.model import compute_normalization
    from hepvae.model.losses import kl_weight
    from hepvae.train.config import load_train_config
    from hepvae.train.data import epoch_indices, iterate_batches
    from hepvae.train.loop import Trainer
    from hepvae.train.run import data_files, prepare_data

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="training config YAML (default: built-in defaults)")
    parser.add_argument("--data", nargs="+", help="ROOT files in the hepvae schema")
    parser.add_argument("--synthetic", action="store_true", help="use random jets")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: the config's)")
    parser.add_argument("--precision", default=None, help="auto, fp32, bf16 or fp16")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--steps", type=int, default=30, help="timed optimizer steps")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    args = parser.parse_args()

    config = load_train_config(args.config)
    train_cfg = dataclasses.replace(
        config.train,
        device=args.device or config.train.device,
        precision=args.precision or config.train.precision,
        threads=args.threads,
        progress=False,
    )
    data_cfg = dataclasses.replace(
        config.data, batch_size=args.batch_size or config.data.batch_size
    )
    config = dataclasses.replace(config, train=train_cfg, data=data_cfg)
    n_needed = (args.steps + 3) * config.data.batch_size
    prep_wall, prep_cpu = time.perf_counter(), time.process_time()
    if args.synthetic:
        data = synthetic_jets(n_needed, config.model.n_particles)
        norm = compute_normalization(data.p4, data.mask, data.label, config.model)
    else:
        files = args.data or data_files(config)
        # the data layer as `hepvae train` uses it: arrays, hash split, dense view, statistics
        limited = dataclasses.replace(config.data, max_jets=n_needed, val_fraction=0.0)
        data, _, norm = prepare_data(dataclasses.replace(config, data=limited), files)
    prep_wall, prep_cpu = time.perf_counter() - prep_wall, time.process_time() - prep_cpu
    trainer = Trainer(config, data, None, norm, "/tmp/hepvae-bench-unused")
    device = trainer.device
    n_params = sum(p.numel() for p in trainer.model.parameters())
    index = epoch_indices(len(data), 0, 0)
    batches = list(iterate_batches(data, index, config.data.batch_size))
    beta = kl_weight(1000, config.loss.kl, config.loss.kl_warmup_steps)

    def step(batch):
        out = trainer.forward_batch(batch, beta)
        trainer.scaler.scale(out.total).backward()
        trainer.optimizer_step()

    for batch in batches[:3]:  # warm-up
        step(batch)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    timed = batches[3 : 3 + args.steps]
    start, start_cpu = time.perf_counter(), time.process_time()
    for batch in timed:
        step(batch)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - start_cpu
    jets = sum(len(b) for b in timed)
    print(f"config           : {args.config or 'built-in defaults (configs/default.yaml)'}")
    print(f"device           : {device} ({torch.get_num_threads()} CPU threads)")
    print(f"precision        : {trainer.dtype}")
    print(f"parameters       : {n_params:,}")
    print(f"batch size       : {config.data.batch_size}")
    print(f"timed steps      : {len(timed)}")
    print(
        f"training speed   : {jets / seconds:,.0f} jets/s ({1000 * seconds / len(timed):.1f} ms/step)"
    )
    print(
        f"CPU time         : {1000 * cpu_seconds / len(timed):.1f} ms/step "
        f"({jets / cpu_seconds:,.0f} jets per CPU second)"
    )
    print(
        f"data preparation : {len(data):,} jets in {prep_wall:.2f} s "
        f"({prep_cpu:.2f} s CPU: read, split, dense, statistics)"
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS         : {rss:,.0f} MiB")
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**30
        print(f"peak GPU memory  : {peak:.2f} GiB (max_memory_allocated; fits 4 GB: {peak < 3.7})")


if __name__ == "__main__":
    main()
