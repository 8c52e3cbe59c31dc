"""Input paths: one or many, checked with errors that name the file."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from hepvae.errors import HepvaeError

PathLike = str | os.PathLike


def as_paths(paths: PathLike | Iterable[PathLike]) -> list[Path]:
    """A list of paths from one path or an iterable of paths."""
    if isinstance(paths, (str, os.PathLike)):
        return [Path(paths)]
    return [Path(p) for p in paths]


def require_file(path: PathLike, kind: str = "file") -> Path:
    """``path`` as a :class:`Path` if it is an existing file, else a one-line error naming it.

    ``kind`` says what was expected when ``path`` is a folder (``ROOT file``, ``checkpoint``).
    """
    path = Path(path)
    if not path.exists():
        raise HepvaeError(f"{path}: no such file")
    if path.is_dir():
        raise HepvaeError(f"{path}: is a folder, expected a {kind}")
    return path


def reason(exc: BaseException) -> str:
    """A library exception's message on one line, at most 160 characters (for error messages)."""
    text = " ".join(str(exc).split())
    return (text[:160] + "...") if len(text) > 160 else text or type(exc).__name__
