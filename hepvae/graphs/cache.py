"""The data cache: compact arrays of all splits and the training normalization, on disk.

With ``GraphConfig.cache`` set, the arrays of the three splits are written once to a folder
of ``.npy`` files with a ``meta.json`` (no pickles) and later memory-mapped; the training
normalization is kept in ``meta.json`` and ``normalization.json``. The cache is rebuilt when
the source files (path, size, modification time), the cache format or the settings it
depends on change. ``hepvae graphs --cache DIR`` and ``hepvae train`` (``data.cache``) with
the same settings share it.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hepvae.atomic import remove_dead_leftovers
from hepvae.config import to_dict
from hepvae.errors import HepvaeError
from hepvae.graphs.arrays import ARRAY_FIELDS, JetArrays
from hepvae.graphs.config import GraphConfig
from hepvae.graphs.normalization import compute_normalization
from hepvae.graphs.reading import read_splits
from hepvae.graphs.splits import SPLITS
from hepvae.model.normalization import Normalization
from hepvae.paths import as_paths

#: 2: full jet four-momentum and multiplicity before truncation; model features and statistics
CACHE_FORMAT = 2


def _fingerprint(paths: Sequence[Path]) -> list[dict[str, Any]]:
    out = []
    for p in paths:
        try:
            st = p.stat()
        except OSError:
            raise HepvaeError(f"{p}: no such file") from None
        out.append({"path": str(p.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns})
    return out


def _cache_key(config: GraphConfig, sources: list[dict[str, Any]]) -> dict[str, Any]:
    settings = to_dict(config)
    settings.pop("cache")
    settings.pop("read_chunk")
    settings["split_fractions"] = list(settings["split_fractions"])
    return {"format": CACHE_FORMAT, "settings": settings, "sources": sources}


def _load_cache(folder: Path, key: dict[str, Any]):
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        if folder.exists() and any(folder.iterdir()):
            raise HepvaeError(f"{folder}: exists and is not a hepvae data cache (no meta.json)")
        return None
    try:
        meta = json.loads(meta_path.read_text())
    except ValueError:
        return None
    if meta.get("key") != key:
        return None
    arrays = {}
    for split in SPLITS:
        fields = {}
        for f in ARRAY_FIELDS:
            path = folder / f"{split}-{f}.npy"
            try:
                fields[f] = np.load(path, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise HepvaeError(f"{path}: unreadable data cache file ({exc})") from None
        arrays[split] = JetArrays(**fields)
    norm = None
    if meta.get("normalization") is not None:
        norm = Normalization.from_dict(meta["normalization"], where=str(meta_path))
    return arrays, norm


def _write_cache(
    folder: Path, key: dict[str, Any], arrays: dict[str, JetArrays], norm: Normalization | None
) -> None:
    remove_stale_folders(folder)
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        for split, arr in arrays.items():
            for f in ARRAY_FIELDS:
                np.save(tmp / f"{split}-{f}.npy", np.ascontiguousarray(getattr(arr, f)))
        norm_dict = None if norm is None else norm.to_dict()
        counts = {split: len(arr) for split, arr in arrays.items()}
        meta = {"key": key, "counts": counts, "normalization": norm_dict}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        if norm_dict is not None:
            (tmp / "normalization.json").write_text(json.dumps(norm_dict, indent=1))
        old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
        if folder.exists():
            folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise HepvaeError(
            f"{folder}: cannot write the data cache ({exc.strerror or exc})"
        ) from None


def remove_stale_folders(folder: Path) -> list[Path]:
    """Remove the ``.NAME.tmp-PID`` and ``.NAME.old-PID`` folders that killed cache writers
    left beside ``folder``; those of running processes stay. Returns the removed paths."""
    pattern = re.compile(rf"^\.{re.escape(folder.name)}\.(?:tmp|old)-(\d+)$")
    return remove_dead_leftovers(
        folder.parent, f".{glob.escape(folder.name)}.*-*", pattern, folders=True
    )


def load_splits(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    config: GraphConfig,
    wanted: Iterable[str] = SPLITS,
    progress: bool = False,
    with_norm: bool = True,
) -> tuple[list[Path], dict[str, JetArrays], Normalization | None]:
    """Compact arrays of the ``wanted`` splits and the training normalization.

    The normalization is None when the training split is empty, or when ``with_norm`` is
    False and there is no cache (a cache always holds it). With ``config.cache`` the cache
    is used, or built and written first.
    """
    paths = as_paths(paths)
    if not paths:
        raise HepvaeError("no input files given")
    wanted = list(wanted)
    for split in wanted:
        if split not in SPLITS:
            raise HepvaeError(f"unknown split {split!r}: choose one of {', '.join(SPLITS)}")
    if config.cache is None:
        needed = set(wanted) | ({"train"} if with_norm else set())
        arrays = read_splits(paths, config, sorted(needed, key=SPLITS.index), progress)
        norm = _norm_or_none(arrays["train"], config, progress) if with_norm else None
        return paths, {s: arrays[s] for s in wanted}, norm
    folder = Path(config.cache)
    key = _cache_key(config, _fingerprint(paths))
    loaded = _load_cache(folder, key)
    if loaded is None:
        arrays = read_splits(paths, config, SPLITS, progress)
        _write_cache(folder, key, arrays, _norm_or_none(arrays["train"], config, progress))
        loaded = _load_cache(folder, key)
    arrays, norm = loaded
    return paths, {s: arrays[s] for s in wanted}, norm


def _norm_or_none(train: JetArrays, config: GraphConfig, progress: bool) -> Normalization | None:
    return compute_normalization(train, config, progress=progress) if len(train) else None
