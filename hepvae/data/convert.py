"""Convert JetNet HDF5 or external ROOT files into one hepvae schema file (``hepvae convert``)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hepvae.config import to_dict
from hepvae.data.branchmap import (
    BranchMap,
    iterate_branch_map,
    load_branch_map,
    resolve_branch_map_label,
    root_entries,
)
from hepvae.data.importing import ImportReport
from hepvae.data.jetnet import iterate_jetnet_hdf5, jetnet_entries, resolve_jetnet_type
from hepvae.data.schema import JetWriter, label_of
from hepvae.errors import HepvaeError, ParameterError
from hepvae.paths import require_file
from hepvae.progress import ProgressBar

FORMATS = ("jetnet", "root")
#: file extension -> input format, for auto-detection
EXTENSIONS = {".h5": "jetnet", ".hdf5": "jetnet", ".root": "root"}


def detect_format(paths: Iterable[str | os.PathLike]) -> str:
    """Input format from the file extensions: ``.h5``/``.hdf5`` JetNet, ``.root`` ROOT."""
    found: dict[str, Path] = {}  # format -> its first file
    for path in map(Path, paths):
        fmt = EXTENSIONS.get(path.suffix.lower())
        if fmt is None:
            raise ParameterError(
                "{path}: cannot tell the input format from the extension "
                "(.h5/.hdf5: JetNet, .root: ROOT read through {branch_map}); give {fmt}",
                path=path,
            )
        found.setdefault(fmt, path)
    if len(found) > 1:
        raise HepvaeError(
            f"{found['jetnet']} and {found['root']}: inputs mix JetNet HDF5 and ROOT files, "
            "convert them separately"
        )
    if not found:
        raise ParameterError("{paths}: no input files")
    return next(iter(found))


def convert(
    inputs: Iterable[str | os.PathLike],
    output: str | os.PathLike,
    fmt: str | None = None,
    branch_map: BranchMap | str | os.PathLike | None = None,
    jet_type: str | None = None,
    particles: int | None = None,
    drop_empty: bool = False,
    progress: bool = False,
) -> tuple[Path, ImportReport]:
    """Convert ``inputs`` into the schema file ``output`` (written atomically).

    ``fmt`` is ``jetnet`` or ``root`` (detected from the extensions when None); ROOT input
    needs ``branch_map``. ``jet_type`` overrides the file name (JetNet) or the branch map's
    label; ``particles`` keeps the leading constituents. Every input is checked before the
    output is opened, and a failure leaves no output behind. Returns the path and the counts.
    """
    inputs = [Path(p) for p in inputs]
    if not inputs:
        raise ParameterError("{inputs}: no input files")
    for path in inputs:
        require_file(path)
    fmt = fmt or detect_format(inputs)
    if fmt not in FORMATS:
        raise ParameterError(
            "{fmt}: unknown format {got!r}, choose one of {formats}",
            got=fmt,
            formats=", ".join(FORMATS),
        )
    if jet_type is not None:
        try:
            label_of(jet_type)
        except HepvaeError as exc:
            raise ParameterError("{jet_type}: {reason}", reason=exc) from None
    if particles is not None and particles <= 0:
        raise ParameterError("{particles} must be > 0, got {got}", got=particles)
    options: dict[str, Any] = {
        "jet_type": jet_type,
        "particles": particles,
        "drop_empty": drop_empty,
    }
    metadata: dict[str, Any] = {"producer": "convert", "sources": [str(p) for p in inputs]}
    metadata["format"] = fmt
    if fmt == "root":
        if branch_map is None:
            raise ParameterError(
                "{path}: ROOT input needs a branch map ({branch_map})", path=inputs[0]
            )
        if not isinstance(branch_map, BranchMap):
            options["branch_map_file"] = str(branch_map)
            branch_map = load_branch_map(branch_map)
        resolve_branch_map_label(
            branch_map, jet_type, options.get("branch_map_file", "the branch map")
        )
        options["branch_map"] = to_dict(branch_map)
        total = sum(root_entries(p, branch_map) for p in inputs)
    else:
        if branch_map is not None:
            raise ParameterError(
                "{path}: {branch_map} applies only to ROOT input, not to JetNet HDF5",
                path=branch_map,
            )
        metadata["jet_types"] = {str(p): resolve_jetnet_type(p, jet_type) for p in inputs}
        metadata["jet_phi"] = "0 for every jet (JetNet stores no jet phi)"
        total = sum(jetnet_entries(p) for p in inputs)
    metadata["options"] = options

    report = ImportReport()
    with JetWriter(output, metadata) as writer, ProgressBar(total, "converting", progress) as bar:
        for path in inputs:
            common = dict(
                jet_type=jet_type,
                particles=particles,
                drop_empty=drop_empty,
                report=report,
            )
            if fmt == "root":
                chunks = iterate_branch_map(path, branch_map, **common)
            else:
                chunks = iterate_jetnet_hdf5(path, **common)
            for jets in chunks:
                writer.write(jets)
                bar.update(completed=report.entries)
        writer.metadata.update(
            n_source_entries=report.entries,
            n_dropped_empty=report.dropped_empty,
            n_truncated=report.truncated,
        )
    return writer.path, report
