"""Deterministic train/val/test splits from a hash of each jet's identity.

A jet goes to train, val or test by a 64-bit hash of (seed, file name, run,
luminosityBlock, event) compared with the split fractions. The assignment is deterministic,
disjoint, and does not depend on file order, chunking or the other files.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

import numpy as np

SPLITS = ("train", "val", "test")
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer on a uint64 array (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        x = (x + np.uint64(0x9E3779B97F4A7C15)) & _MASK64
        x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK64
        x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK64
        return x ^ (x >> np.uint64(31))


def split_of(
    file_name: str,
    run: np.ndarray,
    luminosity_block: np.ndarray,
    event: np.ndarray,
    fractions: Sequence[float],
    seed: int,
) -> np.ndarray:
    """Split code per jet (0 train, 1 val, 2 test) from a hash of its identity.

    Only the base name of ``file_name`` is used, so moving a folder keeps the split.
    """
    digest = hashlib.blake2b(
        f"{seed}:{os.path.basename(file_name)}".encode(), digest_size=8
    ).digest()
    key = np.full(len(event), int.from_bytes(digest, "little"), dtype=np.uint64)
    run_lumi = (np.asarray(run, dtype=np.uint64) << np.uint64(32)) | np.asarray(
        luminosity_block, dtype=np.uint64
    )
    h = _mix64(_mix64(key ^ run_lumi) ^ np.asarray(event, dtype=np.uint64))
    u = (h >> np.uint64(11)).astype(np.float64) * 2.0**-53
    edges = np.cumsum(fractions)[:2]
    return np.searchsorted(edges, u, side="right").astype(np.int8)
