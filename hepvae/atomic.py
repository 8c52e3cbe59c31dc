"""Atomic output: write under a temporary name in the target folder, rename when complete.

The temporary name of ``DIR/NAME.EXT`` written by process PID is ``DIR/.NAME.tmp-PID.EXT``
(:func:`temp_path`). A run that is killed (``kill -9``, a lost node) cannot remove its
temporary file; the next write to the same target does (:func:`remove_stale_temps`), for
files whose process is no longer running on this machine.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hepvae.errors import HepvaeError


def ensure_dir(path: str | os.PathLike) -> Path:
    """Create an output folder (and parents); a one-line error if that is impossible."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise HepvaeError(f"{path}: exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HepvaeError(f"{path}: cannot create output folder ({exc.strerror})") from None
    return path


def temp_path(path: str | os.PathLike, pid: int | None = None) -> Path:
    """The temporary name of ``path`` for process ``pid`` (default: this process).

    It stays in the target folder (so the final rename is atomic) and keeps the suffix, so
    libraries that pick a format from it still work.
    """
    path = Path(path)
    pid = os.getpid() if pid is None else pid
    return path.with_name(f".{path.stem}.tmp-{pid}{path.suffix}")


def _stale_pattern(path: Path) -> re.Pattern:
    """Temporary names of ``path``: this module's, and ``.NAME.tmp-PID`` of earlier versions."""
    stem, suffix, name = (re.escape(part) for part in (path.stem, path.suffix, path.name))
    return re.compile(rf"^\.(?:{stem}\.tmp-(\d+){suffix}|{name}\.tmp-(\d+))$")


def process_running(pid: int) -> bool:
    """Whether a process with this id runs on this machine (True where that cannot be told)."""
    if os.name != "posix":
        return True  # os.kill(pid, 0) would terminate the process on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, under another user
        return True
    return True


def remove_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files that killed runs left for the target ``path``.

    Only files whose process is not running are removed: a run in progress keeps its file.
    Returns the removed paths.
    """
    path = Path(path)
    return remove_dead_leftovers(
        path.parent, f".{glob.escape(path.stem)}*.tmp-*", _stale_pattern(path), folders=False
    )


def remove_dead_leftovers(
    parent: Path, wildcard: str, pattern: re.Pattern, folders: bool
) -> list[Path]:
    """Remove the files (or, with ``folders``, the folders) in ``parent`` matching ``wildcard``
    and ``pattern`` whose process id (the pattern's first non-empty group) is not running.
    Returns the removed paths."""
    removed = []
    try:
        candidates = list(parent.glob(wildcard))
    except OSError:
        return removed
    for candidate in candidates:
        match = pattern.match(candidate.name)
        if match is None or not (candidate.is_dir() if folders else candidate.is_file()):
            continue
        pid = int(next(group for group in match.groups() if group))
        if pid == os.getpid() or process_running(pid):
            continue
        with contextlib.suppress(OSError):
            shutil.rmtree(candidate) if folders else candidate.unlink()
            removed.append(candidate)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` if the block succeeds.

    The temporary name (:func:`temp_path`) keeps the suffix, so libraries that pick a format
    from it still work. Temporary files of killed earlier runs at ``path`` are removed first.
    On error the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    remove_stale_temps(path)
    tmp = temp_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as indented JSON to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False, allow_nan=False) + "\n")
    return Path(path)
