"""The embedded default data set: Pythia 8 jets simulated on first use and cached.

Cache folder: ``$HEPVAE_CACHE`` if set, else ``~/.cache/hepvae``. One file per jet type,
``default/{type}_{n_jets}jets_{n_particles}p_seed{seed}.root``; the seed of type k is
``seed + k`` so the classes are independent. Files are written by
``hepvae.data.simulate.simulate_to_file`` (atomically), so an interrupted simulation leaves no
partial file and is simply redone.
"""

from __future__ import annotations

import os
from pathlib import Path

from hepvae.errors import HepvaeError


def cache_dir() -> Path:
    """The folder where default data sets are cached."""
    root = os.environ.get("HEPVAE_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "hepvae"


def default_data_files(
    jet_types: list[str],
    n_jets: int,
    n_particles: int = 30,
    seed: int = 0,
    progress: bool = True,
) -> list[Path]:
    """Paths of the default data files, simulating those not yet in the cache."""
    folder = cache_dir() / "default"
    paths = []
    for k, jet_type in enumerate(jet_types):
        path = folder / f"{jet_type}_{n_jets}jets_{n_particles}p_seed{seed + k}.root"
        if not path.is_file():
            try:
                from hepvae.data.simulate import simulate_to_file
            except ImportError as exc:
                raise HepvaeError(
                    f"no data given and the default data set cannot be simulated ({exc})"
                ) from None
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise HepvaeError(f"{folder}: cannot create the data cache ({exc})") from None
            simulate_to_file(
                path, jet_type, n_jets, n_particles=n_particles, seed=seed + k, progress=progress
            )
        paths.append(path)
    return paths
